"""The one grammar of outlier-transform specs, read into plain steps.

A leaf module (nothing of lowbit imported) because two layers read it that must not import
each other: ``lowbit.analysis.transforms`` builds the transforms that act on tensors, and
``lowbit.hwmodel.transform_cost`` prices the online part of the same spec in gates.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

TRANSFORM_GRAMMAR = """\
SPEC := STEP ("+" STEP)*        steps run left to right: x' = x·T1·T2…, w' = …T2⁻¹·T1⁻¹·w
STEP := "none"                  identity
      | "smoothquant" [":" α]   α in [0, 1], default 0.5
      | "hadamard" [":" B] [":signs=" SEED]
                                B dividing K (default B = K), of order 2^a or 2^a·m with
                                m − 1 a prime ≡ 3 (mod 4) (Sylvester ⊗ Paley I);
                                signs=SEED: a seeded random ±1 diagonal first
      | "rotation:" SEED [":" B]  random orthogonal (Haar) B × B blocks, default B = K
SEED := an integer >= 0\
"""

ORDERS = (
    "orders are 2^a (Sylvester) or 2^a·m with m − 1 a prime ≡ 3 (mod 4) (Paley I): "
    "e.g. 128, 4096, 12, 20, 5120 = 256·20"
)

Kind = Literal["none", "smoothquant", "hadamard", "rotation"]


class Step(NamedTuple):
    """One step of a spec: ``alpha`` for smoothquant, ``block`` (None = the whole K) for
    hadamard and rotation, ``seed`` (hadamard: of the sign diagonal, None = no signs)."""

    kind: Kind
    alpha: float | None = None
    block: int | None = None
    seed: int | None = None


def is_power_of_two(n: int) -> bool:
    """True for n = 1, 2, 4, 8, ...

    >>> is_power_of_two(128), is_power_of_two(96)
    (True, False)
    """
    return isinstance(n, int) and not isinstance(n, bool) and n >= 1 and n & (n - 1) == 0


def is_paley_order(m: int) -> bool:
    """True when q = m − 1 is a prime ≡ 3 (mod 4): Paley's construction I gives H_m.

    >>> [m for m in range(2, 50) if is_paley_order(m)]
    [4, 8, 12, 20, 24, 32, 44, 48]
    """
    q = m - 1
    return q >= 3 and q % 4 == 3 and all(q % d for d in range(2, int(q**0.5) + 1))


def hadamard_order(n: int) -> tuple[int, int] | None:
    """(p, m) with n = p·m, p a power of two and m = 1 (Sylvester's H_n) or m − 1 a prime
    q ≡ 3 (mod 4) (Paley's construction I of H_m, Paley 1933, J. Math. Phys. 12), m the
    smallest such; None where this construction has no Hadamard matrix of order n.

    >>> hadamard_order(4096), hadamard_order(5120), hadamard_order(13824), hadamard_order(96)
    ((4096, 1), (256, 20), (128, 108), (8, 12))
    >>> hadamard_order(14336), hadamard_order(28)   # 27 is not a prime
    ((64, 224), None)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        return None
    odd = n
    while odd % 2 == 0:
        odd //= 2
    if odd == 1:
        return n, 1
    m = odd
    while m <= n:
        if n % m == 0 and is_paley_order(m):
            return n // m, m
        m *= 2
    return None


def _int(tok: str, what: str, spec: str) -> int:
    try:
        v = int(tok)
    except ValueError:
        raise ValueError(f"transform {spec!r}: {what} must be an integer, got {tok!r}") from None
    if v < 0:
        raise ValueError(f"transform {spec!r}: {what} must be >= 0, got {v}")
    return v


def _hadamard(args: list[str], spec: str) -> Step:
    block = seed = None
    for a in args:
        if a.startswith("signs=") and seed is None:
            seed = _int(a[len("signs=") :], "signs", spec)
        elif block is None and seed is None:
            block = _int(a, "the block", spec)
        else:
            raise ValueError(f"transform {spec!r}: bad hadamard argument {a!r}")
    if block is not None and hadamard_order(block) is None:
        raise ValueError(f"transform {spec!r}: no Hadamard matrix of order {block}; {ORDERS}")
    return Step("hadamard", block=block, seed=seed)


def _step(step: str, spec: str) -> Step:
    name, *args = step.strip().split(":")
    if name == "none" and not args:
        return Step("none")
    if name == "smoothquant" and len(args) <= 1:
        try:
            alpha = float(args[0]) if args else 0.5
        except ValueError:
            raise ValueError(f"transform {spec!r}: α must be a number, got {args[0]!r}") from None
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"transform {spec!r}: α must be in [0, 1], got {alpha:g}")
        return Step("smoothquant", alpha=alpha)
    if name == "hadamard" and len(args) <= 2:
        return _hadamard(args, spec)
    if name == "rotation" and 1 <= len(args) <= 2:
        block = _int(args[1], "the block", spec) if len(args) == 2 else None
        if block == 0:
            raise ValueError(f"transform {spec!r}: the block must be >= 1")
        return Step("rotation", block=block, seed=_int(args[0], "the seed", spec))
    raise ValueError(
        f"transform {spec!r}: cannot read step {step!r}; grammar:\n{TRANSFORM_GRAMMAR}"
    )


def parse_transform_steps(spec: str) -> tuple[Step, ...]:
    """The steps of a spec of :data:`TRANSFORM_GRAMMAR`, checked.

    >>> parse_transform_steps("smoothquant:0.5+hadamard:128:signs=3")
    (Step(kind='smoothquant', alpha=0.5, block=None, seed=None), Step(kind='hadamard', alpha=None, block=128, seed=3))
    >>> parse_transform_steps("smoothquant:2")
    Traceback (most recent call last):
    ...
    ValueError: transform 'smoothquant:2': α must be in [0, 1], got 2
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"transform spec must be a non-empty string, got {spec!r}")
    return tuple(_step(s, spec) for s in spec.split("+"))
