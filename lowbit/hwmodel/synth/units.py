"""Verilog of a whole MAC unit, the structure :func:`lowbit.hwmodel.mac_cost` prices
(lowbit.hwmodel.datapath and block): ``lanes`` operand decoders and multipliers, alignment of
the products to a common exponent, an exact adder tree, the block scale path, and the
accumulator (fixed point, or floating point with normalise and round) with its register.

Ports: ``w0``…, ``a0``… (one element code per lane), ``xw``/``xa`` (the block scale codes:
E8M0 for MX, E4M3 for NVFP4, an unsigned integer for VS-Quant), ``clk``, and ``acc`` (the
accumulator register).  One clock edge is one accumulation: acc ← acc ⊕ Σ w_i·a_i·scale.

Rules and where they come from: float decode and RNE (IEEE 754-2019 §3.4, §4.3.1); MX scales
(OCP Microscaling Formats v1.0 §5); NVFP4 (NVIDIA, "Pretraining LLMs with NVFP4", 2025);
VS-Quant (Dai et al. 2021).  Not in the unit: NaN/Inf operands (the model's ``specials``),
per-output FP32 scales (the model's ``output`` group), MX9/6/4 microexponents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...formats import FloatFormat, Format, IntFormat, get_format
from ..accumulator import ExactAccumulator, FixedAccumulator, parse_accumulator, signed_width
from ..block import block_spec


@dataclass(frozen=True)
class Side:
    """One operand as the unit decodes it: value = (−1)^s · mag · 2^(e + lsb)."""

    fmt: Format
    bits: int
    is_float: bool
    mag_bits: int  # |value| significand bits (hidden bit included)
    exp_bits: int = 0
    man_bits: int = 0
    lsb: int = 0  # constant exponent of the significand's LSB (e_eff added for floats)
    span: int = 0  # e_eff − 1 ∈ [0, span]
    qmin: int = 0
    qmax: int = 0


def _side(fmt: Format, frac: int = 0) -> Side:
    if isinstance(fmt, IntFormat):
        if fmt.encoding != "twos_complement" and fmt.qmin < 0:
            raise ValueError(f"{fmt.name}: only two's-complement or unsigned integers")
        mag = max(abs(fmt.qmin), fmt.qmax).bit_length()
        return Side(fmt, fmt.bits, False, mag, lsb=-frac, qmin=fmt.qmin, qmax=fmt.qmax)
    if isinstance(fmt, FloatFormat):
        bias = 1 - fmt.emin
        return Side(
            fmt,
            fmt.bits,
            True,
            fmt.man_bits + 1,
            fmt.exp_bits,
            fmt.man_bits,
            lsb=-(bias + fmt.man_bits),
            span=fmt.emax - fmt.emin,
        )
    raise ValueError(f"{getattr(fmt, 'name', fmt)!r}: no unit for {type(fmt).__name__}")


@dataclass(frozen=True)
class Unit:
    """What the generated Verilog computes (the test oracle reads the same facts)."""

    weight: Format
    activation: Format
    w: Side
    a: Side
    lanes: int
    scale: str  # "none" | "mx" | "nvfp4" | "vsquant"
    scale_bits: int  # width of each scale port
    accumulator: object  # FixedAccumulator (width, frac resolved) or FloatFormat
    acc_bits: int
    lsb: int  # exponent of the block sum's LSB (before the scale)
    verilog: str
    top: str = "mac_core"  # the synthesised module (the register is counted apart)
    #: the same core as two modules, ``mac_lane`` (one lane: decode, multiply, align) and
    #: ``mac_rest`` (adder tree, scale path, accumulator logic; the lanes' products are its
    #: inputs): what hierarchical synthesis runs when lanes > 1 (empty for one lane)
    lane_verilog: str = ""
    rest_verilog: str = ""


def _scalar_or_block(wf: Format, af: Format, lanes: int):
    sw, sa = block_spec(wf), block_spec(af)
    if (sw is None) != (sa is None):
        raise ValueError(f"{wf.name} × {af.name}: a block format pairs only with a block format")
    if sw is None:
        return wf, af, lanes, "none", 0
    if sw.family != sa.family or sw.k != sa.k:
        raise ValueError(f"{wf.name} × {af.name}: block families or sizes differ")
    fam = {"mx": "mx", "nvfp4": "nvfp4", "vsquant": "vsquant"}.get(sw.family)
    if fam is None:
        raise ValueError(
            f"{wf.name}: no synthesised unit for the {sw.family} family; supported: INT, "
            "minifloats, MX (mxfp*/mxint8), nvfp4, VS-Quant"
        )
    bits = {"mx": 8, "nvfp4": 8, "vsquant": max(sw.scale_bits, sa.scale_bits)}[fam]
    return wf.element, af.element, sw.k, fam, bits


def _element(fmt) -> tuple[Format, int]:
    """(scalar format, fraction bits): MXINT8's element is an int8 grid with 6 fraction bits."""
    inner = getattr(fmt, "int_format", None)
    if inner is not None:
        return inner, fmt.frac_bits
    return fmt, 0


def mac_unit(
    weight: Format | str, activation: Format | str, accumulator="fp32", lanes: int = 1
) -> Unit:
    """The :class:`Unit` (with its Verilog) for ``mac_cost(weight, activation, accumulator,
    lanes=lanes)``; block formats use their block size as the lane count, as the model does.

    >>> u = mac_unit("int8", "int8", "fixed24")
    >>> u.acc_bits, "module mac_unit" in u.verilog
    (24, True)
    """
    wf, af = get_format(weight), get_format(activation)
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise ValueError(f"lanes must be a positive integer, got {lanes!r}")
    we, ae, k, scale, sbits = _scalar_or_block(wf, af, lanes)
    (we, wfrac), (ae, afrac) = _element(we), _element(ae)
    w, a = _side(we, wfrac), _side(ae, afrac)
    acc = parse_accumulator(accumulator)
    g = _Gen(w, a, k, scale, sbits)
    g.products(direct=k == 1 and scale == "none" and isinstance(acc, FloatFormat))
    g.tree()
    g.scale_path()
    if isinstance(acc, FloatFormat):
        if not (acc.has_inf and acc.has_subnormals):
            raise ValueError(f"{acc.name}: float accumulators must be IEEE-style (Inf, subnormals)")
        g.float_acc(acc)
        bits = acc.bits
    else:
        if g.var_exp:
            raise ValueError(
                f"{wf.name}: a fixed-point accumulator over a variable block scale exponent "
                "is not synthesised (its exact width spans the scale's range); use fp16/bf16/fp32"
            )
        if isinstance(acc, ExactAccumulator):
            from ..mac import mac_cost

            acc = FixedAccumulator(mac_cost(wf, af, "fixed", lanes=lanes).accumulator_width)
        frac = -g.lsb if acc.frac is None else acc.frac
        acc = FixedAccumulator(acc.width, frac, acc.overflow)
        g.fixed_acc(acc)
        bits = acc.width
    lane, rest = g.emit_split(bits) if k > 1 else ("", "")
    return Unit(
        wf, af, w, a, k, scale, sbits, acc, bits, g.lsb, g.emit(bits), "mac_core", lane, rest
    )


class _Gen:
    """Builds the Verilog body line by line; widths are computed here from value ranges."""

    def __init__(self, w: Side, a: Side, lanes: int, scale: str, sbits: int):
        self.w, self.a, self.k, self.scale, self.sbits = w, a, lanes, scale, sbits
        self.body: list[str] = []
        self.n = 0
        self.var_exp = scale in ("mx", "nvfp4")
        self.vexp, self.vexp_w, self.vexp_max = "", 0, 0  # variable exponent of the block LSB

    def wire(self, width: int, expr: str, signed: bool = False, name: str | None = None) -> str:
        self.n += 1
        name = name or f"t{self.n}"
        sg = "signed " if signed else ""
        self.body.append(f"  wire {sg}[{width - 1}:0] {name} = {expr};")
        return name

    # ---- per lane: decode and multiply, align to the lowest product exponent
    def _decode(self, s: Side, code: str, tag: str) -> tuple[str, str, str]:
        """(sign, magnitude, e_eff − 1) wires of one operand."""
        b = s.bits
        if s.is_float:
            m, e = s.man_bits, s.exp_bits
            sign = self.wire(1, f"{code}[{b - 1}]", name=f"{tag}_s") if b > e + m else "1'b0"
            hid = self.wire(1, f"|{code}[{m + e - 1}:{m}]", name=f"{tag}_h")
            man = f"{code}[{m - 1}:0], " if m else ""
            mag = self.wire(m + 1, f"{{{hid}, {man[:-2]}}}" if m else hid, name=f"{tag}_m")
            # a subnormal's exponent is emin: e_eff = field | !hidden; e_eff − 1 ∈ [0, span]
            eb = max(s.span.bit_length(), 1)
            ex = self.wire(eb, f"{code}[{m + e - 1}:{m}] - {eb}'d1 + !{hid}", name=f"{tag}_e")
            return sign, mag, ex
        if s.qmin < 0:
            sign = self.wire(1, f"{code}[{b - 1}]", name=f"{tag}_s")
            neg = f"-$signed({code})"
            mag = self.wire(s.mag_bits, f"{sign} ? {neg} : {code}", name=f"{tag}_m")
            return sign, mag, ""
        return "1'b0", self.wire(s.mag_bits, code, name=f"{tag}_m"), ""

    def products(self, direct: bool = False) -> None:
        """``direct``: one lane into a float accumulator, so the product goes to the adder as
        (significand, exponent) without the fixed-point alignment a tree needs (the scalar
        MAC of lowbit.hwmodel.datapath)."""
        w, a = self.w, self.a
        self.lanes_out, self.signs = [], []
        self.lane_end = 0  # body lines of lane 0 (the lane module of emit_split)
        both_int = not w.is_float and not a.is_float
        ends = [x * y for x in (w.qmin, w.qmax) for y in (a.qmin, a.qmax)]
        for i in range(self.k):
            if both_int:  # integer × integer: a signed (Baugh–Wooley) array multiplier
                pw = signed_width(min(ends), max(ends))
                p = self.wire(pw, _baugh_wooley(f"w{i}", w, f"a{i}", a), True, f"p{i}")
                sw = f"w{i}[{w.bits - 1}]" if w.qmin < 0 else "1'b0"
                sa = f"a{i}[{a.bits - 1}]" if a.qmin < 0 else "1'b0"
                self.signs.append(f"{sw} ^ {sa}")
                self.lanes_out.append((p, pw))
                self.lsb = w.lsb + a.lsb
                self.lane_end = self.lane_end or len(self.body)
                continue
            sw, mw, ew = self._decode(w, f"w{i}", f"w{i}")
            sa, ma, ea = self._decode(a, f"a{i}", f"a{i}")
            mb = w.mag_bits + a.mag_bits
            sig = self.wire(mb, f"{mw} * {ma}", name=f"sig{i}")
            span = w.span + a.span
            s = self.wire(1, f"{sw} ^ {sa}", name=f"ps{i}")
            self.signs.append(s)
            if span:
                eb = max(span.bit_length(), 1)
                parts = [f"{eb}'d0"] + [f"{x}" for x in (ew, ea) if x]
                sh = self.wire(eb, " + ".join(parts), name=f"sh{i}")
                if direct:
                    self.vexp, self.vexp_w, self.vexp_max = sh, eb, span
                    self.var_exp, span = True, 0
                    al = sig
                else:
                    al = self.wire(mb + span, f"{{{span}'d0, {sig}}} << {sh}", name=f"al{i}")
            else:
                al = sig
            pw = mb + span + 1
            p = self.wire(pw, f"{s} ? -{{1'b0, {al}}} : {{1'b0, {al}}}", signed=True, name=f"p{i}")
            self.lanes_out.append((p, pw))
            self.lsb = w.lsb + a.lsb + int(w.is_float) + int(a.is_float)
            self.lane_end = self.lane_end or len(self.body)
        self.prod_end = len(self.body)

    def tree(self) -> None:
        """Exact pairwise adder tree (neighbours level by level, an odd last word moves up)."""
        level = self.lanes_out
        while len(level) > 1:
            nxt = []
            for t in range(len(level) // 2):
                (x, wx), (y, wy) = level[2 * t], level[2 * t + 1]
                wd = max(wx, wy) + 1
                nxt.append((self.wire(wd, f"{x} + {y}", signed=True), wd))
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        self.t, self.tw = level[0]

    def scale_path(self) -> None:
        if self.scale == "mx":  # E8M0 × E8M0: add the exponents (OCP MX v1.0 §5.1)
            self.vexp = self.wire(9, "{1'b0, xw} + {1'b0, xa}", name="sexp")
            self.vexp_w = 9
            self.vexp_max, self.lsb = 2 * 254, self.lsb - 254
        elif self.scale == "nvfp4":  # E4M3 × E4M3 block scales (positive: sign bits ignored)
            e4 = _side(get_format("fp8_e4m3fn"))
            _, mw, ew = self._decode(e4, "xw", "xw")
            _, ma, ea = self._decode(e4, "xa", "xa")
            smag = self.wire(8, f"{mw} * {ma}", name="smag")
            self.vexp = self.wire(5, f"{{1'b0, {ew}}} + {{1'b0, {ea}}}", name="sexp")
            self.vexp_w = 5
            self.vexp_max = 2 * e4.span
            self.lsb += 2 * (e4.lsb + 1)
            v = self.wire(self.tw + 8, f"{self.t} * $signed({{1'b0, {smag}}})", True, "vs")
            self.t, self.tw = v, self.tw + 8
        elif self.scale == "vsquant":  # unsigned integer per-vector scales (Dai et al. 2021)
            sb = self.sbits
            smag = self.wire(2 * sb, "xw * xa", name="smag")
            v = self.wire(self.tw + 2 * sb, f"{self.t} * $signed({{1'b0, {smag}}})", True, "vs")
            self.t, self.tw = v, self.tw + 2 * sb

    # ---- accumulators
    def fixed_acc(self, acc: FixedAccumulator) -> None:
        """acc ← overflow(round_RNE(acc + V·2^frac)), register units 2^-frac."""
        W, sh = acc.width, self.lsb + acc.frac
        if sh >= 0:
            full = max(W, self.tw + sh) + 1
            s = self.wire(full, f"$signed(acc) + ($signed({self.t}) <<< {sh})", True, "sum")
        else:  # the block value has bits below the register's LSB: round to nearest even
            k = -sh
            full = max(W + k, self.tw) + 1
            x = self.wire(full, f"($signed(acc) <<< {k}) + {self.t}", True, "xsum")
            q = self.wire(full - k, f"{x}[{full - 1}:{k}]", True, "q")
            g = f"{x}[{k - 1}]"
            st = f"|{x}[{k - 2}:0]" if k >= 2 else "1'b0"
            up = self.wire(1, f"{g} & ({st} | {q}[0])", name="up")
            full = full - k + 1
            s = self.wire(full, f"{q} + $signed({{1'b0, {up}}})", True, "sum")
        if acc.overflow == "wrap":
            self.body.append(f"  assign nxt = {s}[{W - 1}:0];")
        else:
            hi, lo = f"{full}'sd{2 ** (W - 1) - 1}", f"-{full}'sd{2 ** (W - 1)}"
            self.body.append(
                f"  assign nxt = ({s} > {hi}) ? {W}'d{2 ** (W - 1) - 1} : "
                f"({s} < {lo}) ? {W}'d{2 ** (W - 1)} : {s}[{W - 1}:0];"
            )

    def float_acc(self, f: FloatFormat) -> None:
        """acc ← RNE(acc + V) with the block value V first normalised to a float (LZD, left
        shift), then swap by exponent, right shift with guard/round/sticky, add, normalise
        (LZD, shift), round to nearest even, exponent update, Inf on overflow."""
        M, E, sa = f.man_bits, f.exp_bits, f.man_bits + 1
        bias = 1 - f.emin
        tb = self.tw
        P = max(sa, tb)
        G = 3
        lv0 = self.lsb - (P - tb)  # exponent of the normalised V's LSB before the LZ count
        la0 = f.emin - M - (P - sa)
        span = max(abs(lv0) + self.vexp_max + 2 * P, abs(la0) + 2**E + 2 * P) + 4 * P + 16
        X = signed_width(-span, span)

        def c(v: int) -> str:
            return f"$signed({X}'sd{v})" if v >= 0 else f"-$signed({X}'sd{-v})"

        # acc register → sign, significand (P bits, padded), LSB exponent
        self.wire(1, f"acc[{E + M}]", name="as")
        self.wire(E, f"acc[{E + M - 1}:{M}]", name="af")
        self.wire(1, "|af", name="ah")
        self.wire(1, "&af", name="aspecial")
        self.wire(1, f"!ah & ~|acc[{M - 1}:0]", name="azero")
        self.wire(
            P,
            f"{{ah, acc[{M - 1}:0], {P - sa}'d0}}"
            if P > sa
            else "{ah, acc[M-1:0]}".replace("M-1", str(M - 1)),
            name="am",
        )
        self.wire(
            X,
            f"$signed({{{X - E}'d0, af}}) + $signed({{{X - 1}'d0, !ah}}) + {c(la0 - 1)}",
            True,
            "ae",
        )
        # block value → sign-magnitude, normalised (LZD, shift) with its exponent
        self.wire(1, f"{self.t}[{tb - 1}]", name="vsgn")
        self.wire(tb, f"vsgn ? -{self.t} : {self.t}", name="vmag")
        self.wire(1, "~|vmag", name="vzero")
        lz = _lzc(self, "vmag", tb, "vlz")
        self.wire(
            P, f"{{{P - tb}'d0, vmag}} << (vlz + {P - tb})" if P > tb else "vmag << vlz", name="vm"
        )
        vexp = f"$signed({{{X - self.vexp_w}'d0, {self.vexp}}})" if self.vexp else c(0)
        self.wire(X, f"{vexp} - $signed({{{X - lz}'d0, vlz}}) + {c(lv0)}", True, "ve")
        # swap: the operand with the larger exponent (a zero operand never is the larger)
        self.wire(1, "!azero & (vzero | (ae >= ve))", name="abig")
        self.wire(
            P + 1,
            "abig ? (as ? -{1'b0, am} : {1'b0, am}) : (vsgn ? -{1'b0, vm} : {1'b0, vm})",
            True,
            "bx",
        )
        self.wire(
            P + 1,
            "abig ? (vsgn ? -{1'b0, vm} : {1'b0, vm}) : (as ? -{1'b0, am} : {1'b0, am})",
            True,
            "sx",
        )
        self.wire(X, "abig ? ae : ve", True, "lx")
        self.wire(X, "abig ? (ae - ve) : (ve - ae)", True, "dif")
        B = P + 1 + G
        sb = max((B + 1).bit_length(), 1)
        self.wire(sb, f"(dif > {c(B)}) ? {sb}'d{B} : dif[{sb - 1}:0]", name="dsh")
        self.wire(B, f"$signed({{sx, {G}'d0}}) >>> dsh", True, "ys")
        self.wire(B, f"{{sx, {G}'d0}} & ~({{{B}{{1'b1}}}} << dsh)", name="lost")
        self.wire(1, "|lost", name="stk")
        self.wire(B + 2, f"($signed({{bx, {G}'d0}}) + ys) * 2 + $signed({{1'b0, stk}})", True, "r")
        # normalise and round: quantum exponent max(E, emin) − M
        self.wire(B + 1, "r[B+1] ? -r : r".replace("B+1", str(B + 1)), name="rm")
        lz2 = _lzc(self, "rm", B + 1, "rlz")
        self.wire(X, f"lx + {c(-G - 1)} + {c(B)} - $signed({{{X - lz2}'d0, rlz}})", True, "re")
        self.wire(X, f"((re > {c(f.emin)}) ? re : {c(f.emin)}) + {c(-M)}", True, "qe")
        self.wire(X, f"qe - lx + {c(G + 1)}", True, "k")
        kb = max((B + 2).bit_length(), 1)
        self.wire(kb, f"(k > {c(B + 1)}) ? {kb}'d{B + 1} : k[{kb - 1}:0]", name="kr")
        self.wire(kb, f"(k < {c(-(B + 1))}) ? {kb}'d{B + 1} : -k[{kb - 1}:0]", name="kl")
        self.wire(B + 1, "rm >> kr", name="qr")
        self.wire(1, "(kr == 0) ? 1'b0 : rm[kr - 1]", name="gd")
        self.wire(B + 1, f"rm & ~({{{B + 1}{{1'b1}}}} << (kr - 1))", name="low")
        self.wire(1, "(kr > 1) ? |low : 1'b0", name="st2")
        self.wire(sa + 1, f"k[{X - 1}] ? (rm << kl) : qr", name="q")
        self.wire(1, "k[X-1] ? 1'b0 : gd & (st2 | q[0])".replace("X-1", str(X - 1)), name="up")
        self.wire(sa + 1, "q + up", name="rs")
        self.wire(1, f"rs[{sa}]", name="cy")
        self.wire(M, f"cy ? rs[{sa - 1}:{sa - M}] : rs[{M - 1}:0]", name="rman")
        self.wire(
            X,
            f"(cy | rs[{sa - 1}]) ? qe + {c(M + bias)} + $signed({{1'b0, cy}}) : {c(0)}",
            True,
            "rf",
        )
        ones = 2**E - 1
        zs = "as & azero & vzero & pnz" if self.k == 1 else "1'b0"
        self.body.append(f"  wire pnz = {self.signs[0] if self.k == 1 else chr(48)};")
        nan = f"{{1'b0, {E}'d{ones}, 1'b1, {M - 1}'d0}}"
        inf = f"{{r[{B + 1}], {E}'d{ones}, {M}'d0}}"
        self.body.append(
            f"  assign nxt = aspecial ? ((|acc[{M - 1}:0]) ? {nan} : acc) :\n"
            f"    (rm == 0) ? {{{zs}, {E + M}'d0}} :\n"
            f"    (rf >= {c(ones)}) ? {inf} : {{r[{B + 1}], rf[{E - 1}:0], rman}};"
        )

    def emit_split(self, acc_bits: int) -> tuple[str, str]:
        """The core as two modules for hierarchical synthesis: ``mac_lane`` (lane 0's
        decode, multiply and alignment; every lane is the same circuit on its own ports) and
        ``mac_rest`` (the rest of the core, the lanes' products as inputs).  Gates add up as
        lanes × lane + rest; no optimisation crosses the boundary, as in a hierarchical
        design flow (docs/hwmodel.md, "Synthesis check")."""
        p0, pw = self.lanes_out[0]
        lane = [
            f"module mac_lane(input [{self.w.bits - 1}:0] w0, input [{self.a.bits - 1}:0] a0, "
            f"output [{pw - 1}:0] lp);",
            *self.body[: self.lane_end],
            f"  assign lp = {p0};",
            "endmodule",
        ]
        ports = [f"input signed [{w - 1}:0] {p}" for p, w in self.lanes_out]
        if self.scale != "none":
            ports += [f"input [{self.sbits - 1}:0] xw", f"input [{self.sbits - 1}:0] xa"]
        ports += [f"input [{acc_bits - 1}:0] acc", f"output [{acc_bits - 1}:0] nxt"]
        rest = [
            "module mac_rest(\n  " + ",\n  ".join(ports) + "\n);",
            *self.body[self.prod_end :],
            "endmodule",
        ]
        return "\n".join(lane) + "\n", "\n".join(rest) + "\n"

    def emit(self, acc_bits: int) -> str:
        """Two modules: ``mac_core`` (combinational: register value ``acc`` in, the next
        value ``nxt`` out; the one synthesised) and ``mac_unit`` (the core and its register).
        The register stays out of synthesis so that Yosys cannot fold datapath logic into
        enable/reset flip-flops; its DFFs are counted apart (``acc_bits``)."""
        ports = [f"input [{self.w.bits - 1}:0] w{i}" for i in range(self.k)]
        ports += [f"input [{self.a.bits - 1}:0] a{i}" for i in range(self.k)]
        if self.scale != "none":
            ports += [f"input [{self.sbits - 1}:0] xw", f"input [{self.sbits - 1}:0] xa"]
        names = [p.split()[-1] for p in ports]
        core = ports + [f"input [{acc_bits - 1}:0] acc", f"output [{acc_bits - 1}:0] nxt"]
        head = "module mac_core(\n  " + ",\n  ".join(core) + "\n);"
        conn = ", ".join(f".{n}({n})" for n in [*names, "acc", "nxt"])
        wrap = [
            "module mac_unit(\n  "
            + ",\n  ".join([*ports, "input clk", f"output reg [{acc_bits - 1}:0] acc"])
            + "\n);",
            f"  wire [{acc_bits - 1}:0] nxt;",
            f"  mac_core core({conn});",
            "  always @(posedge clk) acc <= nxt;",
            "endmodule",
        ]
        return "\n".join([head, *self.body, "endmodule", "", *wrap]) + "\n"


def _baugh_wooley(x: str, xs: Side, y: str, ys: Side) -> str:
    """Signed n×m product as rows of partial products (Baugh & Wooley 1973): the pp with
    exactly one sign bit inverted, plus 2^(n−1) + 2^(m−1) + 2^(n+m−1); unsigned operands get
    a zero sign bit.  The structure the model prices as an array multiplier; Yosys' own ``*``
    maps to a different, larger circuit."""
    n, m = xs.bits + (xs.qmin >= 0), ys.bits + (ys.qmin >= 0)

    def bit(v: str, k: int, bits: int) -> str:
        return f"{v}[{k}]" if k < bits else "1'b0"

    w = n + m
    rows = []
    for i in range(m):
        terms = []
        for j in range(n):
            pp = f"{bit(x, j, xs.bits)} & {bit(y, i, ys.bits)}"
            pp = f"~({pp})" if (i == m - 1) != (j == n - 1) else f"({pp})"
            terms.append(pp)
        rows.append(f"({{{w}'d0, {{{', '.join(reversed(terms))}}}}} << {i})")
    const = ((1 << (n - 1)) + (1 << (m - 1)) + (1 << (w - 1))) % (1 << w)
    return f"({' + '.join(rows)} + {w}'d{const})"


def _lzc(g: _Gen, src: str, n: int, name: str) -> int:
    """Leading-zero count of ``src`` (n bits) as a binary tree (Oklobdzija 1994): every node
    gives (all-zero, count); returns the count's width.  An all-zero word counts n."""
    size = 1 << max(math.ceil(math.log2(n)), 0)
    pad = size - n
    word = g.wire(size, f"{{{src}, {pad}'d0}}" if pad else src, name=f"{name}_w")
    nodes = [(f"~{word}[{size - 1 - i}]", "") for i in range(size)]  # MSB first
    width = 0
    while len(nodes) > 1:
        nxt = []
        for j in range(0, len(nodes), 2):
            (zh, ch), (zl, cl) = nodes[j], nodes[j + 1]
            z = g.wire(1, f"{zh} & {zl}")
            if width == 0:
                cnt = g.wire(1, zh)
            else:
                cnt = g.wire(width + 1, f"{zh} ? {{1'b1, {cl}}} : {{1'b0, {ch}}}")
            nxt.append((z, cnt))
        nodes, width = nxt, width + 1
    zero, cnt = nodes[0]
    cw = max(width, 1)
    out = cnt if width else "1'b0"
    # an all-zero word: the tree says size; clamp to n (only a zero operand gets here)
    g.wire(cw + 1, f"{zero} ? {cw + 1}'d{n} : {{1'b0, {out}}}", name=name)
    return cw + 1
