/* macsim: bit-exact GEMM with a finite accumulator (see macsim.h).
 *
 * Two kinds of loops compute the same thing.
 *
 * The generic loop handles every accumulator, order, scale and statistic, one
 * row of C at a time, one step per (output, addend).  Its floating-point step:
 *
 *   Every accumulator value a is a point of the target grid (precision <= 24
 *   bits, exponent >= -149), so it is a double; every addend x (a product, or
 *   an exact block sum) is an exact double (the Python front checks this).
 *   s = fl(a + x) and e = (a + x) - s come from Knuth's TwoSum, exact in IEEE
 *   double without FMA contraction or extended precision (checked below;
 *   compiled with -ffp-contract=off), underflow included, and without overflow
 *   since |a|, |x| < 2^300.  So a + x = s + e exactly.  The target grid points
 *   and the midpoints between them are doubles (<= 25 significant bits,
 *   exponents far inside double's range), and rounding to nearest in double is
 *   monotone, so s lies on the same side of each of them as a + x, or equals
 *   it.  Hence (round_bits):
 *     - nearest-even: round(s) = round(a + x) unless s is a midpoint and e != 0,
 *       where a + x lies beyond the midpoint on the side of e's sign;
 *     - toward zero: trunc(s) = trunc(a + x) unless s is a grid point and e
 *       points toward zero, where the result is the grid point below s in
 *       magnitude (in the binade below when |s| is a power of two > 2^emin).
 *   The rounding itself is integer arithmetic on the bits of s.  Subnormals
 *   off: the result is rounded on the subnormal grid, and a nonzero result of
 *   magnitude below 2^emin is then flushed to zero of the same sign.
 *
 * The fast loops (SEQUENTIAL order, no block scales, no toggles or per-output
 * statistics) are written so that the compiler vectorises them across outputs;
 * each output's chain still runs in order along k.  target_clones builds an
 * AVX2 and a baseline copy and picks one at load time.  They apply when:
 *   - fixed point, width <= 32, integer tables |entry| < 2^15 (products < 2^30):
 *     sums of a register (|n| <= 2^31) and a product are formed in int64 and
 *     wrapped or saturated; no step can overflow when k * max|product| < 2^(W-1),
 *     and then the check is left out;
 *   - FP32 with nearest-even and subnormals, every product exact in binary32:
 *     one binary32 addition is the IEEE operation itself;
 *   - any float accumulator with nearest-even when acc + product is exact in
 *     double (e.g. FP16 with FP8 products): s = a + p exactly, then
 *     r = (s + C) - C with C = 1.5 * 2^(q + 52), q the quantum exponent of s's
 *     binade, rounds s to a multiple of 2^q with ties to even (|s| < 2^(q+25),
 *     so s + C stays in C's binade, whose ulp is 2^q).
 * With finite products, an accumulator that reaches Inf stays Inf, so overflow
 * events there are counted once per output at the end.  Tests hold each fast
 * loop equal to the generic one.
 */
#define _POSIX_C_SOURCE 200809L
#include "macsim.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "macsim needs floating-point arithmetic evaluated in its own type (FLT_EVAL_METHOD == 0)"
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(MACSIM_NO_CLONES)
#define MACSIM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MACSIM_CLONES
#endif

#define SIGN64 UINT64_C(0x8000000000000000)
#define FRAC64 UINT64_C(0x000fffffffffffff)
#define HIDDEN64 UINT64_C(0x0010000000000000)
#define JB 64        /* columns per panel in the fast loops */
#define RB 4         /* rows per group in the fast loops */
#define PJ 64        /* columns per pass in the pairwise loop */
/* the fast loops decode B panel by panel into each thread's work memory, about this many
 * bytes at a time (at least one panel), not all of B at once: work memory stays small */
#ifndef MACSIM_PASS_BYTES /* the sanitizer self-test sets it small to run many passes */
#define MACSIM_PASS_BYTES (INT64_C(16) << 20)
#endif
#define PASS_BYTES ((int64_t)(MACSIM_PASS_BYTES))

enum { PATH_GENERIC = 0, PATH_INT = 1, PATH_F32 = 2, PATH_F64 = 3, PATH_F64S = 4 };

static inline uint64_t d2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double u2d(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* c ? x : y as a bit-mask select: both sides stay unconditional, so the compiler can
 * neither sink one into a branch nor refuse to vectorise (FP ops may trap) */
static inline double sel(int c, double x, double y)
{
    uint64_t mk = (uint64_t)0 - (uint64_t)(c != 0);
    return u2d((d2u(x) & mk) | (d2u(y) & ~mk));
}

static inline double pow2i(int e) /* 2^e for -1022 <= e <= 1023 */
{
    return u2d((uint64_t)(e + 1023) << 52);
}

/* bits set in x, by shifts, ands and adds (no popcnt instruction assumed; vectorisable) */
static inline int64_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    x = x + (x >> 8);
    x = x + (x >> 16);
    x = x + (x >> 32);
    return (int64_t)(x & 0x7f);
}

/* ------------------------------------------------------------------ checks */

static int is_fp32(const macsim_acc_t *o)
{
    return o->kind == MACSIM_ACC_FLOAT && o->man_bits == 23 && o->emin == -126 &&
           o->emax == 127 && o->subnormals == 1 && o->rounding == MACSIM_RNE;
}

int macsim_check(const macsim_acc_t *o, const macsim_opts_t *p)
{
    if (o == NULL || p == NULL) return MACSIM_EBADACC;
    if (o->kind == MACSIM_ACC_FIXED) {
        if (o->width < 2 || o->width > MACSIM_MAX_FIXED_WIDTH) return MACSIM_EBADACC;
        /* 2^frac and every register value n * 2^-frac (|n| < 2^(width-1)) finite doubles */
        if (o->frac_bits < o->width - 1024 || o->frac_bits > 1023) return MACSIM_EBADACC;
        if (o->saturate != 0 && o->saturate != 1) return MACSIM_EBADACC;
        if (o->rounding != MACSIM_RNE && o->rounding != MACSIM_RTZ && o->rounding != MACSIM_DOWN)
            return MACSIM_EBADACC;
    } else if (o->kind == MACSIM_ACC_FLOAT) {
        if (o->man_bits < 0 || o->man_bits > 23) return MACSIM_EBADACC;
        if (o->emin < -126 || o->emax > 127 || o->emin > o->emax) return MACSIM_EBADACC;
        if (o->subnormals != 0 && o->subnormals != 1) return MACSIM_EBADACC;
        if (o->rounding != MACSIM_RNE && o->rounding != MACSIM_RTZ) return MACSIM_EBADACC;
    } else if (o->kind == MACSIM_ACC_EXACT) {
        if (o->width < 2 || o->width > MACSIM_MAX_EXACT_WIDTH) return MACSIM_EBADACC;
        if (o->frac_bits < -1100 || o->frac_bits > 1100) return MACSIM_EBADACC;
    } else {
        return MACSIM_EBADACC;
    }
    if (p->order != MACSIM_SEQUENTIAL && p->order != MACSIM_BLOCKS && p->order != MACSIM_PAIRWISE)
        return MACSIM_EBADOPTS;
    if (p->block < 1 || p->scale_block < 1) return MACSIM_EBADOPTS;
    if (p->threads < 1 || p->threads > MACSIM_MAX_THREADS) return MACSIM_EBADOPTS;
    if ((p->a_u8 != 0 && p->a_u8 != 1) || (p->b_u8 != 0 && p->b_u8 != 1)) return MACSIM_EBADOPTS;
    if (p->toggles && p->order == MACSIM_PAIRWISE) return MACSIM_EBADOPTS;
    if (o->kind == MACSIM_ACC_EXACT && p->order == MACSIM_PAIRWISE) return MACSIM_EBADOPTS;
    if (p->bk_limbs) {
        if (p->bk_limbs < 3 || p->bk_limbs > MACSIM_MAX_LIMBS) return MACSIM_EBADOPTS;
        if (p->order != MACSIM_BLOCKS || o->kind == MACSIM_ACC_FIXED) return MACSIM_EBADOPTS;
        if (p->block > (INT64_C(1) << 28)) return MACSIM_EBADOPTS; /* lazy carries */
        if (p->bk_frac < -1100 || p->bk_frac > 1100) return MACSIM_EBADOPTS;
        if (o->kind == MACSIM_ACC_EXACT &&
            (p->bk_limbs != (o->width + 31) / 32 + 2 || p->bk_frac != o->frac_bits))
            return MACSIM_EBADOPTS;
    }
    return MACSIM_OK;
}

static int choose_path(const macsim_acc_t *o, const macsim_opts_t *p)
{
    if (!p->fast || p->order != MACSIM_SEQUENTIAL || p->a_scaled || p->b_scaled ||
        p->toggles || p->per_output)
        return PATH_GENERIC;
    if (o->kind == MACSIM_ACC_FIXED && p->int_ok) return PATH_INT;
    if (is_fp32(o) && p->f32_ok) return PATH_F32;
    if (o->kind == MACSIM_ACC_FLOAT && o->rounding == MACSIM_RNE && p->f64_exact)
        return PATH_F64;
    if (o->kind == MACSIM_ACC_FLOAT && o->rounding == MACSIM_RNE && p->f64_ok) return PATH_F64S;
    return PATH_GENERIC;
}

static int64_t limbs_of(const macsim_acc_t *o)
{
    return o->kind == MACSIM_ACC_EXACT ? (o->width + 31) / 32 + 2 : 0;
}

static int64_t align64(int64_t x) { return (x + 63) & ~(int64_t)63; }

/* bytes per decoded element of the fast loops: int32/float, or double */
static int64_t path_es(int path) { return (path == PATH_F64 || path == PATH_F64S) ? 8 : 4; }

/* panels of B decoded per pass of a fast loop: PASS_BYTES' worth, at least 1, at most all */
static int64_t pass_panels(int64_t k, int64_t npan, int64_t es)
{
    int64_t per = es * k * JB, q = per > 0 ? PASS_BYTES / per : npan;
    if (q > npan) q = npan;
    return q < 1 ? 1 : q;
}

/* per-thread bytes, shared bytes */
static void work_parts(int64_t m, int64_t k, int64_t n, const macsim_acc_t *o,
                       const macsim_opts_t *p, int64_t *per_thread, int64_t *shared)
{
    int path = choose_path(o, p);
    int64_t npad = ((n + JB - 1) / JB) * JB;
    (void)m;
    if (path == PATH_GENERIC) {
        int64_t t = 0;
        t += align64(8 * n);                 /* accumulators (double or int64) */
        t += align64(8 * n);                 /* block sums */
        t += align64(8 * n * limbs_of(o));   /* Kulisch registers */
        if (p->order == MACSIM_PAIRWISE) t += align64(8 * k * PJ);
        t += align64(8 * n);                 /* running |acc| maxima per output */
        t += align64(8 * n * p->bk_limbs);   /* Kulisch block sums */
        *per_thread = t;
        *shared = 0;
    } else { /* RB decoded rows of A, then the decoded panels of one pass over B */
        int64_t es = path_es(path), npan = npad / JB;
        *per_thread = align64(es * RB * k) + align64(es * pass_panels(k, npan, es) * k * JB);
        *shared = 0;
    }
}

int64_t macsim_work_size(int64_t m, int64_t k, int64_t n, const macsim_acc_t *o,
                         const macsim_opts_t *p)
{
    int64_t per, sh;
    if (macsim_check(o, p) != MACSIM_OK || m < 0 || k < 0 || n < 0) return -1;
    work_parts(m, k, n, o, p, &per, &sh);
    return sh + per * p->threads + 64;
}

/* ------------------------------------------------------------ run context */

typedef struct {
    const void *a, *b; /* codes: uint8 when a8/b8, else uint16 */
    int a8, b8;
    const double *at, *bt;
    const int32_t *ai, *bi;
    const double *as, *bs;
    int64_t m, k, n, nkb; /* nkb: scale blocks along k */
    const macsim_acc_t *o;
    const macsim_opts_t *p;
    double *c;
    macsim_outstats_t *po;
    /* float accumulator */
    double maxfin, minnorm;
    int ebits;
    /* fixed accumulator */
    int64_t hi, lo;
    uint64_t mask, half;
    double xscale, xunscale;
    int64_t limbs;
    int checked; /* fast fixed point: some step may leave the register's range */
    int narrow32; /* fast fixed point: width <= 31 and |products| < 2^30 (sums fit int32) */
} ctx_t;

typedef struct {
    int64_t ovf, inx, absd, tog;
    double maxabs;
    double apmax;  /* Kulisch rows: the largest |running double sum| so far */
    int64_t steps; /* Kulisch rows: additions into the current row so far */
} cnt_t;

/* code q of A / B, uint8 or uint16 as the caller passed them (no widened copy needed) */
static inline int64_t code_a(const ctx_t *g, int64_t q)
{
    return g->a8 ? ((const uint8_t *)g->a)[q] : ((const uint16_t *)g->a)[q];
}

static inline int64_t code_b(const ctx_t *g, int64_t q)
{
    return g->b8 ? ((const uint8_t *)g->b)[q] : ((const uint16_t *)g->b)[q];
}

/* --------------------------------------------------- float accumulator step */

/* Round s + e (exact; |e| <= ulp_double(s) / 2, s finite, |s| < 2^300) onto the
 * accumulator grid, without branches on the data.  q is the quantum of s's binade (at
 * least that of 2^emin).  r = (s + C) - C with C = 1.5 * 2^(q + 52) is s rounded to a
 * multiple of 2^q, ties to even (s + C stays in C's binade, whose ulp is 2^q); d = s - r
 * is exact.  Nearest-even: when s is a midpoint (|d| = 2^(q-1)) and e points away from
 * r, the result is the other neighbour s + d.  Toward zero: from r, one step back toward
 * zero when r lies beyond s, or when r = s and e points toward zero (a step of 2^(q-1)
 * when |s| is a power of two above 2^emin: the binade below is finer). */
static inline double round_bits(const ctx_t *g, double s, double e, int *ovf)
{
    const macsim_acc_t *o = g->o;
    const int64_t ebase = o->emin + 1023;
    uint64_t u = d2u(s), sgn = u & SIGN64;
    int64_t be = (int64_t)((u >> 52) & 0x7ff), qb;
    double cst, r, d, q, mag;
    be = be > ebase ? be : ebase;
    qb = be - o->man_bits; /* biased exponent of the quantum 2^q */
    cst = u2d(((uint64_t)(qb + 52) << 52) | (UINT64_C(1) << 51));
    r = (s + cst) - cst;
    d = s - r;
    q = u2d((uint64_t)qb << 52);
    if (o->rounding == MACSIM_RNE) {
        int tie = fabs(d) == 0.5 * q, away = (e > 0.0 && d > 0.0) || (e < 0.0 && d < 0.0);
        r = (tie && away) ? s + d : r;
    } else {
        double ar = fabs(r), as = fabs(s);
        int inward = (e != 0.0) && ((e > 0.0) != (sgn == 0)); /* e points toward zero */
        int pow2 = (u & FRAC64) == 0 && be > ebase && ((u >> 52) & 0x7ff) == (uint64_t)be;
        double step = (ar == as && inward) ? (pow2 ? 0.5 * q : q) : (ar > as ? q : 0.0);
        r = ar - step;
    }
    mag = fabs(r);
    *ovf = mag > g->maxfin;
    mag = mag > g->maxfin ? (o->rounding == MACSIM_RNE ? INFINITY : g->maxfin) : mag;
    mag = (!o->subnormals && mag < g->minnorm) ? 0.0 : mag;
    return u2d(d2u(mag) | sgn);
}

/* The accumulator register's bits (IEEE-style layout: sign, ebits exponent, man_bits). */
static uint64_t float_bits(const ctx_t *g, double d)
{
    const macsim_acc_t *o = g->o;
    int w = 1 + g->ebits + o->man_bits;
    uint64_t u = d2u(d), sgn = (u >> 63) << (w - 1), expall = ((UINT64_C(1) << g->ebits) - 1);
    int ex;
    if (isnan(d)) return (expall << o->man_bits) | (UINT64_C(1) << (o->man_bits > 0 ? o->man_bits - 1 : 0));
    if (isinf(d)) return sgn | (expall << o->man_bits);
    if (d == 0.0) return sgn;
    ex = (int)((u >> 52) & 0x7ff) - 1023;
    if (ex >= o->emin) {
        uint64_t field = (uint64_t)(ex - o->emin + 1);
        return sgn | (field << o->man_bits) | ((u & FRAC64) >> (52 - o->man_bits));
    }
    /* subnormal: |d| = mant * 2^(emin - man_bits) */
    return sgn | (((u & FRAC64) | HIDDEN64) >> (52 - o->man_bits + (o->emin - ex)));
}

/* --------------------------------------------------- fixed accumulator step */

static inline int64_t xstep(const ctx_t *g, int64_t acc, int64_t x, int *ovf)
{
    int64_t s = acc + x; /* |acc| < 2^61, |x| < 2^62 (front) */
    *ovf = 0;
    if (s > g->hi || s < g->lo) {
        *ovf = 1;
        if (g->o->saturate) {
            s = s > g->hi ? g->hi : g->lo;
        } else {
            uint64_t v = (uint64_t)s & g->mask; /* two's complement wrap */
            s = (v & g->half) ? (int64_t)(v - g->half) + g->lo : (int64_t)v;
        }
    }
    return s;
}

/* acc <- overflow(round(acc + x * 2^F)) in register units, for addends x that need not lie
 * on the register's grid: x * 2^F = pi + f with pi = floor (exact: |x * 2^F| < 2^62, and
 * doubles of magnitude >= 2^52 are integers), f in [0, 1) exact; then acc + pi is an exact
 * int64 and f decides the rounding.  Events: bit 0 overflow, 1 swamping, 2 absorbed. */
static inline int64_t xstep_round(const ctx_t *g, int64_t acc, double x, int *ev)
{
    const double pf = x * g->xscale, pi = floor(pf), f = pf - pi;
    int64_t s = acc + (int64_t)pi, r;
    int ovf;
    if (g->o->rounding == MACSIM_RNE)
        s += (f > 0.5 || (f == 0.5 && (s & 1))) ? 1 : 0;
    else if (g->o->rounding == MACSIM_RTZ)
        s += (f > 0.0 && s < 0) ? 1 : 0;
    r = xstep(g, acc, s - acc, &ovf);
    *ev = ovf;
    if (f != 0.0) {
        *ev |= 2;
        if (r == acc) *ev |= 4;
    }
    return r;
}

static inline int64_t to_reg(const ctx_t *g, double x) /* exact: x * 2^F is an integer < 2^62 */
{
    return (int64_t)(x * g->xscale);
}

/* ------------------------------------------------ Kulisch (exact) register */

/* d[0..L): signed 32-bit digits in int64 words; value = sum d_i 2^(32 i) * 2^-frac. */
/* d += x * 2^frac.  Digits are int64 words holding 32-bit digits with room for carries:
 * each addition changes a word by less than 2^34, so 2^28 additions between
 * normalisations are safe.  normalize: carry afterwards, from the first digit touched. */
static void kul_add(int64_t *d, int64_t L, double x, int frac, int normalize)
{
    uint64_t u = d2u(x), sig, lo, hi;
    int64_t off, q, r, i;
    int neg;
    if (x == 0.0) return;
    neg = (u >> 63) != 0;
    sig = (u & FRAC64) | HIDDEN64;
    off = (int64_t)((u >> 52) & 0x7ff) - 1075 + frac; /* x * 2^frac = sig * 2^off */
    if (off < 0) { /* an integer: sig's low -off bits are zero */
        sig >>= -off;
        off = 0;
    }
    q = off / 32;
    r = off % 32;
    lo = (sig & UINT64_C(0xffffffff)) << r; /* < 2^63 */
    hi = (sig >> 32) << r;                  /* < 2^52 */
    {
        int64_t v0 = (int64_t)(lo & UINT64_C(0xffffffff));
        int64_t v1 = (int64_t)(lo >> 32) + (int64_t)(hi & UINT64_C(0xffffffff));
        int64_t v2 = (int64_t)(hi >> 32);
        if (neg) { v0 = -v0; v1 = -v1; v2 = -v2; }
        d[q] += v0;
        d[q + 1] += v1;
        d[q + 2] += v2;
    }
    if (!normalize) return;
    /* normalise: digits in [0, 2^32), the top one signed; only digits from q on changed,
     * so carries run from q and stop at the first digit past q + 2 left in range */
    for (i = q; i < L - 1; i++) {
        int64_t low;
        if (i > q + 2 && d[i] >= 0 && d[i] <= INT64_C(0xffffffff)) break;
        low = (int64_t)((uint64_t)d[i] & UINT64_C(0xffffffff));
        d[i + 1] += (d[i] - low) / (INT64_C(1) << 32); /* exact: a multiple of 2^32 */
        d[i] = low;
    }
}

/* carries all the way: digits in [0, 2^32), the top one signed */
static void kul_norm(int64_t *d, int64_t L)
{
    int64_t i;
    for (i = 0; i < L - 1; i++) {
        int64_t low = (int64_t)((uint64_t)d[i] & UINT64_C(0xffffffff));
        d[i + 1] += (d[i] - low) / (INT64_C(1) << 32); /* exact: a multiple of 2^32 */
        d[i] = low;
    }
}

/* The register's value correctly rounded (nearest-even) to double; d normalised.  *rest:
 * 0 when exact, else a nonzero of the sign of value - result (a TwoSum error's stand-in). */
static double kul_value_r(const int64_t *d, int64_t L, int frac, double *rest)
{
    uint64_t mag[MACSIM_MAX_LIMBS];
    int64_t i, t;
    int neg = d[L - 1] < 0, bl;
    uint64_t w, rem, mant;
    int sticky = 0;
    int64_t pos;
    if (neg) { /* two's complement negate */
        uint64_t borrow = 1;
        for (i = 0; i < L; i++) {
            uint64_t v = ((~(uint64_t)d[i]) & UINT64_C(0xffffffff)) + borrow;
            mag[i] = v & UINT64_C(0xffffffff);
            borrow = v >> 32;
        }
    } else {
        for (i = 0; i < L; i++) mag[i] = (uint64_t)d[i] & UINT64_C(0xffffffff);
    }
    *rest = 0.0;
    for (t = L - 1; t >= 0 && mag[t] == 0; t--) {}
    if (t < 0) return 0.0;
    for (bl = 0; bl < 32 && (mag[t] >> bl) != 0; bl++) {}
    w = mag[t];
    w = (w << 32) | (t >= 1 ? mag[t - 1] : 0);
    if (bl < 32) {
        uint64_t nx = t >= 2 ? mag[t - 2] : 0;
        w = (w << (32 - bl)) | (nx >> bl);
        sticky = (nx & ((UINT64_C(1) << bl) - 1)) != 0;
    }
    for (i = bl < 32 ? t - 3 : t - 2; i >= 0 && !sticky; i--) sticky = mag[i] != 0;
    pos = 32 * t + bl - 1; /* the msb of w is bit pos of the integer register */
    mant = w >> 11;
    rem = w & 0x7ff;
    {
        int up = rem > 0x400 || (rem == 0x400 && (sticky || (mant & 1)));
        double v = ldexp((double)(mant + (uint64_t)up), (int)(pos - 52 - frac));
        if (rem || sticky) *rest = (up != neg) ? -1.0 : 1.0; /* |value| below |v| when up */
        return neg ? -v : v;
    }
}

static double kul_value(const int64_t *d, int64_t L, int frac)
{
    double rest;
    return kul_value_r(d, L, frac, &rest);
}

/* ---------------------------------------------------------- generic loop */

static inline double product(const ctx_t *g, double pa, int64_t kk, int64_t j)
{
    double v = pa * g->bt[code_b(g, kk * g->n + j)];
    if (g->p->b_scaled) v *= g->bs[(kk / g->p->scale_block) * g->n + j];
    return v;
}

static inline double a_value(const ctx_t *g, int64_t i, int64_t kk)
{
    double v = g->at[code_a(g, i * g->k + kk)];
    if (g->p->a_scaled) v *= g->as[i * g->nkb + kk / g->p->scale_block];
    return v;
}

#define EVENT(idx, ev)                                               \
    do {                                                             \
        if (ev) {                                                    \
            cn->ovf += (ev) & 1;                                     \
            cn->inx += ((ev) >> 1) & 1;                              \
            cn->absd += ((ev) >> 2) & 1;                             \
            if (po) {                                                \
                po->overflow[idx] += (ev) & 1;                       \
                po->swamping[idx] += ((ev) >> 1) & 1;                 \
                po->absorbed[idx] += ((ev) >> 2) & 1;                \
            }                                                        \
        }                                                            \
    } while (0)

static void track_max(cnt_t *cn, macsim_outstats_t *po, int64_t idx, double v)
{
    double av = fabs(v); /* NaN compares false: ignored */
    if (av > cn->maxabs) cn->maxabs = av;
    if (po && av > po->max_abs[idx]) po->max_abs[idx] = av;
}

static void add_toggles(cnt_t *cn, macsim_outstats_t *po, int64_t idx, uint64_t before, uint64_t after)
{
    int t = popcount64(before ^ after);
    cn->tog += t;
    if (po) po->toggles[idx] += t;
}

/* toggles of a Kulisch register (normalised digits before/after): its width bits only */
static void add_toggles_kul(const ctx_t *g, cnt_t *cn, macsim_outstats_t *po, int64_t idx,
                            const uint64_t *before, const int64_t *after)
{
    int64_t q, tg = 0;
    for (q = 0; q < g->limbs; q++) {
        int64_t left = g->o->width - 32 * q;
        uint64_t mk = left >= 32 ? UINT64_C(0xffffffff) : (left > 0 ? (UINT64_C(1) << left) - 1 : 0);
        tg += popcount64((before[q] ^ (uint64_t)after[q]) & mk);
    }
    cn->tog += tg;
    if (po) po->toggles[idx] += tg;
}

/* one addend into output j of row i (sequential and block orders) */
static inline void add_one(const ctx_t *g, char *wk, int64_t i, int64_t j, double x, cnt_t *cn)
{
    macsim_outstats_t *po = g->po;
    int64_t idx = i * g->n + j;
    int ev = 0;
    if (g->o->kind == MACSIM_ACC_FIXED) { /* float accumulators step in float_row */
        int64_t *acc = (int64_t *)wk;
        int64_t before = acc[j], r = xstep_round(g, before, x, &ev);
        EVENT(idx, ev);
        if (g->p->toggles) add_toggles(cn, po, idx, (uint64_t)before & g->mask, (uint64_t)r & g->mask);
        acc[j] = r;
        track_max(cn, po, idx, (double)r * g->xunscale);
    } else {
        int64_t *d = (int64_t *)(wk + 2 * align64(8 * g->n)) + j * g->limbs;
        int64_t q;
        if (g->p->toggles) { /* the register is width bits of two's complement */
            uint64_t snap[MACSIM_MAX_LIMBS];
            for (q = 0; q < g->limbs; q++) snap[q] = (uint64_t)d[q];
            kul_add(d, g->limbs, x, g->o->frac_bits, 1);
            add_toggles_kul(g, cn, po, idx, snap, d);
        } else {
            kul_add(d, g->limbs, x, g->o->frac_bits, 1);
        }
        { /* the exact conversion only when the register may exceed a maximum so far:
           * Horner in double is within L * 2^-52 (relative) of the value */
            double ap = d[g->limbs - 1], lim = cn->maxabs;
            for (q = g->limbs - 2; q >= 0; q--) ap = ap * 4294967296.0 + (double)d[q];
            ap = fabs(ap) * g->xunscale; /* 2^-frac; 0 when below double: then always exact */
            if (po && po->max_abs[idx] < lim) lim = po->max_abs[idx];
            if (ap >= lim * (1.0 - 0x1p-40) || g->xunscale == 0.0)
                track_max(cn, po, idx, kul_value(d, g->limbs, g->o->frac_bits));
        }
    }
}

static double result_of(const ctx_t *g, char *wk, int64_t j)
{
    if (g->o->kind == MACSIM_ACC_FLOAT) return ((double *)wk)[j];
    if (g->o->kind == MACSIM_ACC_FIXED) return (double)((int64_t *)wk)[j] * g->xunscale;
    return kul_value((int64_t *)(wk + 2 * align64(8 * g->n)) + j * g->limbs, g->limbs, g->o->frac_bits);
}

/* The register bits of a value of the accumulator grid (or Inf/NaN), without branches:
 * the layout of float_bits. */
static inline uint64_t float_bits_v(const ctx_t *g, double d)
{
    const int64_t man = g->o->man_bits, emin = g->o->emin;
    const uint64_t expall = (UINT64_C(1) << g->ebits) - 1;
    const uint64_t u = d2u(d), sgn = (u >> 63) << (g->ebits + man);
    const int64_t ex = (int64_t)((u >> 52) & 0x7ff) - 1023;
    const uint64_t normal = ((uint64_t)(ex - emin + 1) << man) | ((u & FRAC64) >> (52 - man));
    int64_t sh = 52 - man + (emin - ex);
    uint64_t subn, bitsv;
    sh = sh > 63 ? 63 : (sh < 0 ? 0 : sh);
    subn = ((u & FRAC64) | HIDDEN64) >> sh; /* 0 for d = 0: the hidden bit shifts out */
    bitsv = ex >= emin ? normal : subn;
    bitsv = ex == 1024 ? (expall << man) : bitsv; /* Inf; NaN below */
    bitsv = (ex == 1024) & ((u & FRAC64) != 0) ? 0 : (bitsv | sgn);
    return (ex == 1024) & ((u & FRAC64) != 0)
               ? (expall << man) | (UINT64_C(1) << (man > 0 ? man - 1 : 0))
               : bitsv;
}

/* acc[j] <- round(acc[j] + xs[j]) for j < n, any float accumulator, either rounding: the
 * step of round_bits (TwoSum, then rounding) written without branches on the data (every alternative is
 * computed and one selected by a bit mask) so that it vectorises across outputs.
 * Non-finite operands give the IEEE sum s itself and count no event.  lmax: running
 * |acc| maximum per output; po_*: per-output counters, when with_po; with_tog: count
 * register bit flips; sym: absorption of either addend (pairwise tree nodes). */
static inline __attribute__((always_inline)) void
float_row_body(const ctx_t *g, double *restrict acc, const double *restrict xs, int64_t n,
               int64_t *restrict po_ovf, int64_t *restrict po_inx, int64_t *restrict po_abs,
               int64_t *restrict po_tog, double *restrict lmax, cnt_t *cn, const int with_po,
               const int with_tog, const int sym)
{
    const int64_t ebase = g->o->emin + 1023, man = g->o->man_bits;
    const double maxfin = g->maxfin, minnorm = g->minnorm;
    const double big = g->o->rounding == MACSIM_RNE ? INFINITY : g->maxfin;
    const int rne = g->o->rounding == MACSIM_RNE, sub = g->o->subnormals;
    int64_t ovf = 0, inx = 0, absd = 0, tog = 0, j;
    for (j = 0; j < n; j++) {
        const double a = acc[j], x = xs[j];
        const double s = a + x, bb = s - a, e = (a - (s - bb)) + (x - bb);
        const uint64_t u = d2u(s), sgn = u & SIGN64, ue = d2u(e);
        const int64_t braw = (int64_t)((u >> 52) & 0x7ff);
        const int64_t be = braw > ebase ? braw : ebase, qb = be - man;
        const double cst = u2d(((uint64_t)(qb + 52) << 52) | (UINT64_C(1) << 51));
        const double r = (s + cst) - cst, d = s - r, q = u2d((uint64_t)qb << 52);
        const uint64_t ud = d2u(d);
        const int live = (fabs(a) < INFINITY) & (fabs(x) < INFINITY);
        const int enz = (ue << 1) != 0;
        /* nearest-even: a midpoint with e pointing away from r goes to the other side */
        const double hq = 0.5 * q, other = fabs(s + d);
        const int flip = (fabs(d) == hq) & enz & (((ue ^ ud) >> 63) == 0);
        const double m_rne = sel(flip, other, fabs(r));
        /* toward zero: back one step when r lies beyond s, or r = s and e points inward */
        const double ar = fabs(r), as = fabs(s);
        const int inward = enz & (((ue ^ u) >> 63) != 0);
        const int pow2 = ((u & FRAC64) == 0) & (braw > ebase);
        const double st = sel((ar == as) & inward, sel(pow2, hq, q), sel(ar > as, q, 0.0));
        const double m_rtz = ar - st;
        double mag = sel(rne, m_rne, m_rtz), res;
        const int o = mag > maxfin;
        int ix, ab, tiny;
        mag = sel(o, big, mag);
        tiny = mag < minnorm;
        mag = sel(tiny & !sub, 0.0, mag);
        res = u2d(d2u(mag) | sgn);
        ix = live & ((res != s) | enz);
        ab = (x != 0.0) & (res == a);
        if (sym) ab |= (a != 0.0) & (res == x);
        ab &= ix;
        res = sel(live, res, s); /* IEEE: Inf + finite = Inf, Inf - Inf = NaN, NaN propagates */
        ovf += live & o;
        inx += ix;
        absd += ab;
        mag = fabs(res);
        lmax[j] = sel(mag > lmax[j], mag, lmax[j]); /* per output; NaN compares false */
        acc[j] = res;
        if (with_tog) {
            int64_t t = popcount64(float_bits_v(g, a) ^ float_bits_v(g, res));
            tog += t;
            if (with_po) po_tog[j] += t;
        }
        if (with_po) {
            po_ovf[j] += live & o;
            po_inx[j] += ix;
            po_abs[j] += ab;
        }
    }
    cn->ovf += ovf;
    cn->inx += inx;
    cn->absd += absd;
    cn->tog += tog;
}

#define FLOAT_ROW(name, with_po, with_tog, sym)                                                \
    MACSIM_CLONES static void name(const ctx_t *g, double *restrict acc,                       \
                                   const double *restrict xs, int64_t n, int64_t *po_ovf,      \
                                   int64_t *po_inx, int64_t *po_abs, int64_t *po_tog,          \
                                   double *lmax, cnt_t *cn)                                    \
    {                                                                                          \
        float_row_body(g, acc, xs, n, po_ovf, po_inx, po_abs, po_tog, lmax, cn, with_po,      \
                       with_tog, sym);                                                         \
    }
FLOAT_ROW(float_row_plain, 0, 0, 0)
FLOAT_ROW(float_row_po, 1, 0, 0)
FLOAT_ROW(float_row_tog, 0, 1, 0)
FLOAT_ROW(float_row_tog_po, 1, 1, 0)
FLOAT_ROW(float_row_sym, 0, 0, 1)
FLOAT_ROW(float_row_sym_po, 1, 0, 1)

/* float accumulators of outputs j0..j0+len of row i: acc += xs (see float_row_body) */
static void float_row(const ctx_t *g, int64_t i, int64_t j0, double *acc, const double *xs,
                      int64_t len, double *lmax, int sym, cnt_t *cn)
{
    macsim_outstats_t *po = g->po;
    int64_t at = i * g->n + j0;
    int tog = g->p->toggles;
    if (po) {
        if (sym) float_row_sym_po(g, acc, xs, len, po->overflow + at, po->swamping + at,
                                  po->absorbed + at, NULL, po->max_abs + at, cn);
        else if (tog) float_row_tog_po(g, acc, xs, len, po->overflow + at, po->swamping + at,
                                       po->absorbed + at, po->toggles + at, po->max_abs + at, cn);
        else float_row_po(g, acc, xs, len, po->overflow + at, po->swamping + at,
                          po->absorbed + at, NULL, po->max_abs + at, cn);
    } else {
        if (sym) float_row_sym(g, acc, xs, len, NULL, NULL, NULL, NULL, lmax, cn);
        else if (tog) float_row_tog(g, acc, xs, len, NULL, NULL, NULL, NULL, lmax, cn);
        else float_row_plain(g, acc, xs, len, NULL, NULL, NULL, NULL, lmax, cn);
    }
}

static double *lane_max(const ctx_t *g, char *wk)
{
    int64_t off = 2 * align64(8 * g->n) + align64(8 * g->n * g->limbs);
    if (g->p->order == MACSIM_PAIRWISE) off += align64(8 * g->k * PJ);
    return (double *)(wk + off);
}

static int64_t *block_regs(const ctx_t *g, char *wk)
{
    return (int64_t *)((char *)lane_max(g, wk) + align64(8 * g->n));
}

/* Output j of row i takes the block sum held in the Kulisch register br (normalised here). */
static void block_add(const ctx_t *g, char *wk, int64_t i, int64_t j, int64_t *br, cnt_t *cn)
{
    const int64_t LB = g->p->bk_limbs, n = g->n, idx = i * n + j;
    macsim_outstats_t *po = g->po;
    int64_t q;
    int nz = 0, ev = 0;
    kul_norm(br, LB);
    for (q = 0; q < LB; q++) nz |= br[q] != 0;
    if (g->o->kind == MACSIM_ACC_FLOAT) {
        double *acc = (double *)wk, a = acc[j], r = a, s, e;
        int ovf = 0;
        if (isfinite(a)) {
            kul_add(br, LB, a, g->p->bk_frac, 1); /* the accumulator's value joins the sum */
            s = kul_value_r(br, LB, g->p->bk_frac, &e);
            r = (s == 0.0 && e == 0.0) ? 0.0 : round_bits(g, s, e, &ovf); /* 0: +0 as a + (+0) */
            if (r != s || e != 0.0) {
                ev = 2 | ovf;
                if (nz && r == a) ev |= 4;
            }
        }
        EVENT(idx, ev);
        if (g->p->toggles) add_toggles(cn, po, idx, float_bits(g, a), float_bits(g, r));
        acc[j] = r;
        track_max(cn, po, idx, r);
    } else { /* exact: the block register has the accumulator's digits and LSB */
        int64_t *d = (int64_t *)(wk + 2 * align64(8 * n)) + j * g->limbs;
        uint64_t snap[MACSIM_MAX_LIMBS];
        for (q = 0; q < LB; q++) snap[q] = (uint64_t)d[q]; /* normalised since the last block */
        for (q = 0; q < LB; q++) d[q] += br[q];
        kul_norm(d, LB);
        if (g->p->toggles) add_toggles_kul(g, cn, po, idx, snap, d);
        track_max(cn, po, idx, kul_value(d, LB, g->o->frac_bits));
    }
}

/* Pairwise order for row i, PJ outputs at a time: level by level, v[t] = v[2t] + v[2t+1]
 * (one adder of the accumulator format each), an odd last entry moving up unchanged. */
static void pairwise_row(const ctx_t *g, char *wk, int64_t i, cnt_t *cn)
{
    const int64_t k = g->k, n = g->n;
    double *v = (double *)(wk + 2 * align64(8 * n) + align64(8 * n * g->limbs));
    int64_t *vi = (int64_t *)v; /* fixed point: the same memory holds register units */
    double *lmax = lane_max(g, wk);
    macsim_outstats_t *po = g->po;
    int fl = g->o->kind == MACSIM_ACC_FLOAT;
    int64_t j0, kk, jj, len;
    for (jj = 0; jj < n; jj++) lmax[jj] = 0.0;
    for (j0 = 0; j0 < n; j0 += PJ) {
        int64_t jb = n - j0 < PJ ? n - j0 : PJ;
        for (kk = 0; kk < k; kk++) {
            double pa = a_value(g, i, kk);
            for (jj = 0; jj < jb; jj++) {
                double x = product(g, pa, kk, j0 + jj);
                if (fl) v[kk * PJ + jj] = x;
                else vi[kk * PJ + jj] = to_reg(g, x);
            }
        }
        len = k;
        if (len == 1) { /* a single product still passes through one adder: 0 + p */
            if (fl) {
                double zero[PJ];
                for (jj = 0; jj < jb; jj++) zero[jj] = 0.0;
                float_row(g, i, j0, zero, v, jb, lmax + j0, 1, cn);
                for (jj = 0; jj < jb; jj++) v[jj] = zero[jj];
            } else {
                for (jj = 0; jj < jb; jj++) {
                    int ev;
                    int64_t idx = i * n + j0 + jj;
                    vi[jj] = xstep(g, 0, vi[jj], &ev);
                    track_max(cn, po, idx, (double)vi[jj] * g->xunscale);
                    EVENT(idx, ev);
                }
            }
        }
        while (len > 1) {
            int64_t t, half = len / 2;
            for (t = 0; t < half; t++) {
                if (fl) { /* v[2t] += v[2t+1], then moved to v[t] */
                    float_row(g, i, j0, v + 2 * t * PJ, v + (2 * t + 1) * PJ, jb, lmax + j0, 1,
                              cn);
                    if (t) memcpy(v + t * PJ, v + 2 * t * PJ, (size_t)jb * sizeof(double));
                    continue;
                }
                for (jj = 0; jj < jb; jj++) {
                    int ev;
                    int64_t idx = i * n + j0 + jj;
                    int64_t r = xstep(g, vi[2 * t * PJ + jj], vi[(2 * t + 1) * PJ + jj], &ev);
                    vi[t * PJ + jj] = r;
                    track_max(cn, po, idx, (double)r * g->xunscale);
                    EVENT(idx, ev);
                }
            }
            if (len & 1)
                for (jj = 0; jj < jb; jj++) {
                    if (fl) v[half * PJ + jj] = v[(len - 1) * PJ + jj];
                    else vi[half * PJ + jj] = vi[(len - 1) * PJ + jj];
                }
            len = half + (len & 1);
        }
        for (jj = 0; jj < jb; jj++) {
            g->c[i * n + j0 + jj] = k == 0 ? 0.0 : (fl ? v[jj] : (double)vi[jj] * g->xunscale);
            if (fl && !po && lmax[j0 + jj] > cn->maxabs) cn->maxabs = lmax[j0 + jj];
            if (fl && po && po->max_abs[i * n + j0 + jj] > cn->maxabs)
                cn->maxabs = po->max_abs[i * n + j0 + jj];
        }
    }
}

/* Kulisch registers of row i += xs, without per-step normalisation (no toggles asked).
 * The running maximum needs the exact value only when the register may exceed it: a
 * double running sum ap[j] beside each register is within steps · 2^-52 · G of it (G: the
 * largest |ap| so far), so the exact conversion runs only when ap comes that close. */
static void exact_row(const ctx_t *g, char *wk, int64_t i, const double *xs, int64_t steps,
                      cnt_t *cn)
{
    const int64_t n = g->n, L = g->limbs;
    const int frac = g->o->frac_bits;
    int64_t *base = (int64_t *)(wk + 2 * align64(8 * n));
    double *ap = (double *)wk; /* unused by the Kulisch kind otherwise */
    macsim_outstats_t *po = g->po;
    int64_t j;
    for (j = 0; j < n; j++) {
        double lim = cn->maxabs, a, slack;
        if (xs[j] == 0.0) continue;
        kul_add(base + j * L, L, xs[j], frac, 0);
        ap[j] += xs[j];
        a = fabs(ap[j]);
        if (a > cn->apmax) cn->apmax = a;
        slack = (double)steps * 0x1p-51 * cn->apmax;
        if (po && po->max_abs[i * n + j] < lim) lim = po->max_abs[i * n + j];
        if (a + slack >= lim) {
            kul_norm(base + j * L, L);
            track_max(cn, po, i * n + j, kul_value(base + j * L, L, frac));
        }
    }
}

/* addends xs[0..n) into the accumulators of row i */
static void add_row(const ctx_t *g, char *wk, int64_t i, const double *xs, cnt_t *cn)
{
    const int64_t n = g->n;
    int64_t j;
    if (g->o->kind == MACSIM_ACC_FLOAT) {
        float_row(g, i, 0, (double *)wk, xs, n, lane_max(g, wk), 0, cn);
        return;
    }
    if (g->o->kind == MACSIM_ACC_EXACT && !g->p->toggles) {
        exact_row(g, wk, i, xs, ++cn->steps, cn);
        return;
    }
    for (j = 0; j < n; j++) add_one(g, wk, i, j, xs[j], cn);
}

static void generic_rows(const ctx_t *g, char *wk, int64_t i0, int64_t i1, cnt_t *cn)
{
    const int64_t k = g->k, n = g->n;
    double *xs = (double *)(wk + align64(8 * n)), *lmax = lane_max(g, wk);
    const double *bt = g->bt;
    int64_t i, j, kk;
    for (i = i0; i < i1; i++) {
        if (g->p->order == MACSIM_PAIRWISE) {
            pairwise_row(g, wk, i, cn);
            continue;
        }
        memset(wk, 0, (size_t)(8 * n)); /* +0.0 and integer 0 */
        for (j = 0; j < n; j++) lmax[j] = 0.0;
        cn->steps = 0;
        if (g->o->kind == MACSIM_ACC_EXACT)
            memset(wk + 2 * align64(8 * n), 0, (size_t)(8 * n * g->limbs));
        if (g->p->order == MACSIM_SEQUENTIAL) {
            for (kk = 0; kk < k; kk++) {
                double pa = a_value(g, i, kk);
                if (g->o->kind == MACSIM_ACC_EXACT && ((kk + 1) & ((INT64_C(1) << 28) - 1)) == 0)
                    for (j = 0; j < n; j++) kul_norm((int64_t *)(wk + 2 * align64(8 * n)) + j * g->limbs, g->limbs);
                if (g->p->b_scaled) {
                    for (j = 0; j < n; j++) xs[j] = product(g, pa, kk, j);
                } else if (g->b8) {
                    const uint8_t *brow = (const uint8_t *)g->b + kk * n;
                    for (j = 0; j < n; j++) xs[j] = pa * bt[brow[j]];
                } else {
                    const uint16_t *brow = (const uint16_t *)g->b + kk * n;
                    for (j = 0; j < n; j++) xs[j] = pa * bt[brow[j]];
                }
                add_row(g, wk, i, xs, cn);
            }
        } else if (g->p->bk_limbs) { /* block sums wider than a double: Kulisch sums */
            const int64_t LB = g->p->bk_limbs;
            int64_t *br = block_regs(g, wk), k0;
            for (k0 = 0; k0 < k; k0 += g->p->block) {
                int64_t k1 = k0 + g->p->block < k ? k0 + g->p->block : k;
                memset(br, 0, (size_t)(8 * n * LB));
                for (kk = k0; kk < k1; kk++) {
                    double pa = a_value(g, i, kk);
                    for (j = 0; j < n; j++)
                        kul_add(br + j * LB, LB, product(g, pa, kk, j), g->p->bk_frac, 0);
                }
                for (j = 0; j < n; j++) block_add(g, wk, i, j, br + j * LB, cn);
            }
        } else {
            int64_t k0;
            for (k0 = 0; k0 < k; k0 += g->p->block) {
                int64_t k1 = k0 + g->p->block < k ? k0 + g->p->block : k;
                for (j = 0; j < n; j++) xs[j] = 0.0;
                for (kk = k0; kk < k1; kk++) {
                    double pa = a_value(g, i, kk);
                    for (j = 0; j < n; j++) xs[j] += product(g, pa, kk, j); /* exact (front) */
                }
                add_row(g, wk, i, xs, cn);
                if (g->o->kind == MACSIM_ACC_EXACT && ((k0 / g->p->block + 1) & ((INT64_C(1) << 28) - 1)) == 0)
                    for (j = 0; j < n; j++) kul_norm((int64_t *)(wk + 2 * align64(8 * n)) + j * g->limbs, g->limbs);
            }
        }
        if (g->o->kind == MACSIM_ACC_EXACT)
            for (j = 0; j < n; j++) kul_norm((int64_t *)(wk + 2 * align64(8 * n)) + j * g->limbs, g->limbs);
        for (j = 0; j < n; j++) {
            g->c[i * n + j] = result_of(g, wk, j);
            if (lmax[j] > cn->maxabs) cn->maxabs = lmax[j];
            if (g->po && g->o->kind == MACSIM_ACC_FLOAT && g->po->max_abs[i * n + j] > cn->maxabs)
                cn->maxabs = g->po->max_abs[i * n + j];
        }
    }
}

/* ----------------------------------------------------------- fast loops */

MACSIM_CLONES
static void int_rows(const ctx_t *g, int32_t *apan, const int32_t *bdec, int64_t jp0,
                     int64_t jp1, int64_t i0, int64_t i1, cnt_t *cn)
{
    const int64_t k = g->k, n = g->n;
    const int64_t hi = g->hi, lo = g->lo;
    const int sat = g->o->saturate, w = g->o->width;
    const int checked = g->checked;
    int64_t t;
    for (int64_t r0 = i0; r0 < i1; r0 += RB) {
        int64_t rows = i1 - r0 < RB ? i1 - r0 : RB, r, jp;
        for (r = 0; r < RB; r++)
            for (t = 0; t < k; t++) apan[r * k + t] = r < rows ? g->ai[code_a(g, (r0 + r) * k + t)] : 0;
        for (jp = jp0; jp < jp1; jp++) { /* bdec holds panels jp0..jp1 */
            const int32_t *bp = bdec + (jp - jp0) * k * JB;
            int64_t acc[RB][JB], mx[JB], ov[JB];
            int64_t jj, kk;
            for (jj = 0; jj < JB; jj++) { mx[jj] = 0; ov[jj] = 0; }
            for (r = 0; r < RB; r++) for (jj = 0; jj < JB; jj++) acc[r][jj] = 0;
            for (r = 0; r < RB; r++) {
                const int32_t *ar = apan + r * k;
                int64_t *ac = acc[r];
                if (!checked && w <= 32) { /* every partial sum fits the register, hence int32 */
                    int32_t a32[JB], m32[JB];
                    for (jj = 0; jj < JB; jj++) { a32[jj] = 0; m32[jj] = 0; }
                    for (kk = 0; kk < k; kk++) {
                        const int32_t av = ar[kk];
                        const int32_t *b = bp + kk * JB;
                        for (jj = 0; jj < JB; jj++) {
                            int32_t s = a32[jj] + av * b[jj];
                            int32_t as = s < 0 ? -s : s;
                            m32[jj] = as > m32[jj] ? as : m32[jj];
                            a32[jj] = s;
                        }
                    }
                    for (jj = 0; jj < JB; jj++) {
                        ac[jj] = a32[jj];
                        mx[jj] = m32[jj] > mx[jj] ? m32[jj] : mx[jj];
                    }
                } else if (g->narrow32) { /* |acc| <= 2^30, |p| < 2^30: sums fit int32 */
                    const int32_t hi32 = (int32_t)hi, lo32 = (int32_t)lo;
                    const int sh32 = 32 - w;
                    int32_t a32[JB], m32[JB], o32[JB];
                    for (jj = 0; jj < JB; jj++) { a32[jj] = 0; m32[jj] = 0; o32[jj] = 0; }
                    if (sat) {
                        for (kk = 0; kk < k; kk++) {
                            const int32_t av = ar[kk];
                            const int32_t *b = bp + kk * JB;
                            for (jj = 0; jj < JB; jj++) {
                                const int32_t s = a32[jj] + av * b[jj];
                                const int32_t c2 = s > hi32 ? hi32 : (s < lo32 ? lo32 : s);
                                const int32_t as = c2 < 0 ? -c2 : c2;
                                o32[jj] += c2 != s;
                                m32[jj] = as > m32[jj] ? as : m32[jj];
                                a32[jj] = c2;
                            }
                        }
                    } else {
                        for (kk = 0; kk < k; kk++) {
                            const int32_t av = ar[kk];
                            const int32_t *b = bp + kk * JB;
                            for (jj = 0; jj < JB; jj++) {
                                const int32_t s = a32[jj] + av * b[jj];
                                /* sign-extend the low w bits: two's complement wrap */
                                const int32_t c2 = (int32_t)((uint32_t)s << sh32) >> sh32;
                                const int32_t as = c2 < 0 ? -c2 : c2;
                                o32[jj] += c2 != s;
                                m32[jj] = as > m32[jj] ? as : m32[jj];
                                a32[jj] = c2;
                            }
                        }
                    }
                    for (jj = 0; jj < JB; jj++) {
                        ac[jj] = a32[jj];
                        mx[jj] = m32[jj] > mx[jj] ? m32[jj] : mx[jj];
                        ov[jj] += o32[jj];
                    }
                } else if (!checked) {
                    for (kk = 0; kk < k; kk++) {
                        const int64_t av = ar[kk];
                        const int32_t *b = bp + kk * JB;
                        for (jj = 0; jj < JB; jj++) {
                            int64_t s = ac[jj] + av * b[jj];
                            int64_t as = s < 0 ? -s : s;
                            mx[jj] = as > mx[jj] ? as : mx[jj];
                            ac[jj] = s;
                        }
                    }
                } else if (sat) {
                    for (kk = 0; kk < k; kk++) {
                        const int64_t av = ar[kk];
                        const int32_t *b = bp + kk * JB;
                        for (jj = 0; jj < JB; jj++) {
                            int64_t s = ac[jj] + av * b[jj];
                            int64_t c2 = s > hi ? hi : (s < lo ? lo : s);
                            int64_t as = c2 < 0 ? -c2 : c2;
                            ov[jj] += c2 != s;
                            mx[jj] = as > mx[jj] ? as : mx[jj];
                            ac[jj] = c2;
                        }
                    }
                } else {
                    const int sh = 64 - w;
                    for (kk = 0; kk < k; kk++) {
                        const int64_t av = ar[kk];
                        const int32_t *b = bp + kk * JB;
                        for (jj = 0; jj < JB; jj++) {
                            int64_t s = ac[jj] + av * b[jj];
                            /* sign-extend the low w bits: two's complement wrap */
                            int64_t c2 = (int64_t)((uint64_t)s << sh) >> sh;
                            int64_t as = c2 < 0 ? -c2 : c2;
                            ov[jj] += c2 != s;
                            mx[jj] = as > mx[jj] ? as : mx[jj];
                            ac[jj] = c2;
                        }
                    }
                }
            }
            for (jj = 0; jj < JB; jj++) {
                cn->ovf += ov[jj];
                if ((double)mx[jj] * g->xunscale > cn->maxabs) cn->maxabs = (double)mx[jj] * g->xunscale;
            }
            for (r = 0; r < rows; r++)
                for (jj = 0; jj < JB && jp * JB + jj < n; jj++)
                    g->c[(r0 + r) * n + jp * JB + jj] = (double)acc[r][jj] * g->xunscale;
        }
    }
}

/* One FP32 step of output lane jj (acc x, product av * bv); statistics into lane arrays. */
#define F32_STEP(ac, av)                                                                   \
    do {                                                                                   \
        const float x = (ac)[jj], p = (av) * bv; /* exact in binary32 (front) */           \
        const float s = x + p; /* the IEEE binary32 addition, nearest-even */              \
        const float bb = s - x, e = (x - (s - bb)) + (p - bb); /* NaN once s is Inf */     \
        const int live = fabsf(x) < INFINITY, ix = live & (e != 0.0f);                    \
        const float as = fabsf(s);                                                         \
        inx[jj] += ix;                                                                     \
        ab[jj] += ix & (s == x) & (p != 0.0f);                                             \
        mx[jj] = as > mx[jj] ? as : mx[jj];                                                \
        (ac)[jj] = s;                                                                      \
    } while (0)

MACSIM_CLONES
static void f32_rows(const ctx_t *g, float *apan, const float *bdec, int64_t jp0,
                     int64_t jp1, int64_t i0, int64_t i1, cnt_t *cn)
{
    const int64_t k = g->k, n = g->n;
    for (int64_t r0 = i0; r0 < i1; r0 += RB) {
        int64_t rows = i1 - r0 < RB ? i1 - r0 : RB, r, t, jp;
        for (r = 0; r < RB; r++)
            for (t = 0; t < k; t++) apan[r * k + t] = r < rows ? (float)g->at[code_a(g, (r0 + r) * k + t)] : 0.0f;
        for (jp = jp0; jp < jp1; jp++) { /* bdec holds panels jp0..jp1 */
            const float *bp = bdec + (jp - jp0) * k * JB;
            float acc[RB][JB], mx[JB];
            int32_t inx[JB], ab[JB];
            int64_t jj, kk;
            for (jj = 0; jj < JB; jj++) { mx[jj] = 0.0f; inx[jj] = 0; ab[jj] = 0; }
            for (r = 0; r < RB; r++) for (jj = 0; jj < JB; jj++) acc[r][jj] = 0.0f;
            if (rows == RB) { /* four rows share each load of B */
                for (kk = 0; kk < k; kk++) {
                    const float a0 = apan[kk], a1 = apan[k + kk], a2 = apan[2 * k + kk];
                    const float a3 = apan[3 * k + kk], *b = bp + kk * JB;
                    for (jj = 0; jj < JB; jj++) {
                        const float bv = b[jj];
                        F32_STEP(acc[0], a0);
                        F32_STEP(acc[1], a1);
                        F32_STEP(acc[2], a2);
                        F32_STEP(acc[3], a3);
                    }
                }
            } else {
                for (r = 0; r < rows; r++)
                    for (kk = 0; kk < k; kk++) {
                        const float a0 = apan[r * k + kk], *b = bp + kk * JB;
                        for (jj = 0; jj < JB; jj++) {
                            const float bv = b[jj];
                            F32_STEP(acc[r], a0);
                        }
                    }
            }
            for (r = 0; r < rows; r++)
                for (jj = 0; jj < JB && jp * JB + jj < n; jj++) {
                    g->c[(r0 + r) * n + jp * JB + jj] = (double)acc[r][jj];
                    cn->ovf += isinf(acc[r][jj]) ? 1 : 0;
                }
            for (jj = 0; jj < JB; jj++) {
                cn->inx += inx[jj];
                cn->absd += ab[jj];
                if ((double)mx[jj] > cn->maxabs) cn->maxabs = (double)mx[jj];
            }
        }
    }
}

/* Any float accumulator with nearest-even.  twosum = 0: acc + p is exact in double
 * (e = 0).  twosum = 1: e from TwoSum; when s is a midpoint of the target grid and e
 * points away from the even neighbour r, the result is the other neighbour s + (s - r)
 * (exact: s - r = +-2^(q-1), s a midpoint). */
static inline __attribute__((always_inline)) void f64_body(const ctx_t *g, double *apan,
                                                          const double *bdec, int64_t jp0,
                                                          int64_t jp1, int64_t i0, int64_t i1,
                                                          cnt_t *cn, const int twosum)
{
    const int64_t k = g->k, n = g->n;
    const int64_t ebase = g->o->emin + 1023, man = g->o->man_bits;
    const double maxfin = g->maxfin, minnorm = g->minnorm;
    const int sub = g->o->subnormals;
    for (int64_t r0 = i0; r0 < i1; r0 += RB) {
        int64_t rows = i1 - r0 < RB ? i1 - r0 : RB, r, t, jp;
        for (r = 0; r < RB; r++)
            for (t = 0; t < k; t++) apan[r * k + t] = r < rows ? g->at[code_a(g, (r0 + r) * k + t)] : 0.0;
        for (jp = jp0; jp < jp1; jp++) { /* bdec holds panels jp0..jp1 */
            const double *bp = bdec + (jp - jp0) * k * JB;
            double acc[JB], mx[JB];
            int64_t inx[JB], ab[JB];
            int64_t jj, kk;
            for (jj = 0; jj < JB; jj++) { mx[jj] = 0.0; inx[jj] = 0; ab[jj] = 0; }
            for (r = 0; r < rows; r++) {
                const double *ar = apan + r * k;
                for (jj = 0; jj < JB; jj++) acc[jj] = 0.0;
                for (kk = 0; kk < k; kk++) {
                    const double av = ar[kk];
                    const double *b = bp + kk * JB;
                    for (jj = 0; jj < JB; jj++) {
                        double x = acc[jj];
                        double p = av * b[jj];
                        double s = x + p;
                        uint64_t u = d2u(s);
                        int64_t be = (int64_t)((u >> 52) & 0x7ff);
                        double cst, rr, ar2;
                        int live = fabs(x) < INFINITY, ix, enz_any = 0;
                        be = be > ebase ? be : ebase;
                        cst = u2d(((uint64_t)(be - man + 52) << 52) | (UINT64_C(1) << 51));
                        rr = (s + cst) - cst; /* nearest-even onto multiples of 2^q */
                        if (twosum) {
                            double bb = s - x;
                            double e = (x - (s - bb)) + (p - bb);
                            double d = s - rr;
                            double hq = u2d((uint64_t)(be - man - 1) << 52);
                            double other = s + d; /* computed unconditionally: vectorises */
                            /* on the bits: |d| == hq, e != 0, e and d of one sign */
                            uint64_t ue = d2u(e), ud = d2u(d);
                            int enz = (ue << 1) != 0;
                            uint64_t fm = (uint64_t)0 - (uint64_t)(((ud & ~SIGN64) == d2u(hq)) & enz &
                                                                   (((ue ^ ud) >> 63) == 0));
                            enz_any = enz;
                            rr = u2d((d2u(other) & fm) | (d2u(rr) & ~fm)); /* a bit-mask select */
                        }
                        rr = u2d(d2u(rr) | (u & SIGN64)); /* a result of 0 keeps s's sign */
                        ar2 = fabs(rr);
                        rr = ar2 > maxfin ? u2d(d2u(INFINITY) | (u & SIGN64)) : rr;
                        rr = (!sub && ar2 < minnorm) ? u2d(u & SIGN64) : rr;
                        ix = live & ((rr != s) | enz_any); /* after overflow and flush */
                        rr = live ? rr : x; /* Inf + finite stays Inf */
                        inx[jj] += ix;
                        ab[jj] += ix & (rr == x) & (p != 0.0);
                        ar2 = fabs(rr);
                        mx[jj] = ar2 > mx[jj] ? ar2 : mx[jj];
                        acc[jj] = rr;
                    }
                }
                for (jj = 0; jj < JB && jp * JB + jj < n; jj++) {
                    g->c[(r0 + r) * n + jp * JB + jj] = acc[jj];
                    cn->ovf += isinf(acc[jj]) ? 1 : 0;
                }
            }
            for (jj = 0; jj < JB; jj++) {
                cn->inx += inx[jj];
                cn->absd += ab[jj];
                if (mx[jj] > cn->maxabs) cn->maxabs = mx[jj];
            }
        }
    }
}

MACSIM_CLONES
static void f64_rows(const ctx_t *g, double *apan, const double *bdec, int64_t jp0, int64_t jp1,
                     int64_t i0, int64_t i1, cnt_t *cn)
{
    f64_body(g, apan, bdec, jp0, jp1, i0, i1, cn, 0);
}

MACSIM_CLONES
static void f64s_rows(const ctx_t *g, double *apan, const double *bdec, int64_t jp0,
                      int64_t jp1, int64_t i0, int64_t i1, cnt_t *cn)
{
    f64_body(g, apan, bdec, jp0, jp1, i0, i1, cn, 1);
}

/* Panels jp0..jp1 of B (JB columns each, k x JB, zero-padded) decoded into buf. */
static void pack_panels(const ctx_t *g, int path, void *buf, int64_t jp0, int64_t jp1)
{
    const int64_t k = g->k, n = g->n;
    int64_t jp, kk, jj;
    for (jp = jp0; jp < jp1; jp++)
        for (kk = 0; kk < k; kk++)
            for (jj = 0; jj < JB; jj++) {
                int64_t j = jp * JB + jj, at = ((jp - jp0) * k + kk) * JB + jj;
                if (path == PATH_INT)
                    ((int32_t *)buf)[at] = j < n ? g->bi[code_b(g, kk * n + j)] : 0;
                else if (path == PATH_F32)
                    ((float *)buf)[at] = j < n ? (float)g->bt[code_b(g, kk * n + j)] : 0.0f;
                else
                    ((double *)buf)[at] = j < n ? g->bt[code_b(g, kk * n + j)] : 0.0;
            }
}

/* -------------------------------------------------------------- threads */

typedef struct {
    const ctx_t *g;
    int path;
    char *wk;
    int64_t i0, i1;
    cnt_t cn;
} job_t;

/* A fast loop over rows i0..i1: B decoded a pass of panels at a time into this thread's
 * work memory (after its RB rows of decoded A), each pass run over all the rows.  Every
 * output still sees its K products in order, so results equal one pass over all of B. */
static void fast_job(job_t *jb)
{
    const ctx_t *g = jb->g;
    const int64_t es = path_es(jb->path), npan = (g->n + JB - 1) / JB;
    const int64_t q = pass_panels(g->k, npan, es);
    char *bbuf = jb->wk + align64(es * RB * g->k);
    int64_t jp0;
    if (jb->i0 >= jb->i1) return;
    for (jp0 = 0; jp0 < npan; jp0 += q) {
        const int64_t jp1 = jp0 + q < npan ? jp0 + q : npan;
        pack_panels(g, jb->path, bbuf, jp0, jp1);
        switch (jb->path) {
        case PATH_INT:
            int_rows(g, (int32_t *)jb->wk, (const int32_t *)bbuf, jp0, jp1, jb->i0, jb->i1, &jb->cn);
            break;
        case PATH_F32:
            f32_rows(g, (float *)jb->wk, (const float *)bbuf, jp0, jp1, jb->i0, jb->i1, &jb->cn);
            break;
        case PATH_F64:
            f64_rows(g, (double *)jb->wk, (const double *)bbuf, jp0, jp1, jb->i0, jb->i1, &jb->cn);
            break;
        default:
            f64s_rows(g, (double *)jb->wk, (const double *)bbuf, jp0, jp1, jb->i0, jb->i1, &jb->cn);
            break;
        }
    }
}

static void *run_job(void *arg)
{
    job_t *jb = (job_t *)arg;
    if (jb->path == PATH_GENERIC) generic_rows(jb->g, jb->wk, jb->i0, jb->i1, &jb->cn);
    else fast_job(jb);
    return NULL;
}

int macsim_gemm(const void *a, const void *b,
                const double *a_table, const double *b_table,
                const int32_t *a_int, const int32_t *b_int,
                const double *a_scale, const double *b_scale,
                int64_t m, int64_t k, int64_t n,
                const macsim_acc_t *o, const macsim_opts_t *p,
                double *c, void *work, int64_t work_bytes,
                macsim_stats_t *stats, macsim_outstats_t *po)
{
    ctx_t g;
    job_t jobs[MACSIM_MAX_THREADS];
    pthread_t tid[MACSIM_MAX_THREADS];
    int started[MACSIM_MAX_THREADS];
    int64_t per, sh, nth, t, chunk;
    char *base;
    int path;

    if (macsim_check(o, p) != MACSIM_OK) return MACSIM_EBADACC;
    if (m < 0 || k < 0 || n < 0) return MACSIM_EBADOPTS;
    if (work_bytes < macsim_work_size(m, k, n, o, p)) return MACSIM_EWORK;
    path = choose_path(o, p);
    if ((path == PATH_INT) && (a_int == NULL || b_int == NULL)) return MACSIM_EBADOPTS;
    if ((p->a_scaled && a_scale == NULL) || (p->b_scaled && b_scale == NULL)) return MACSIM_EBADOPTS;
    if (p->per_output && (po == NULL || po->overflow == NULL || po->swamping == NULL ||
                          po->absorbed == NULL || po->toggles == NULL || po->max_abs == NULL))
        return MACSIM_EBADOPTS;

    memset(&g, 0, sizeof g);
    g.a = a; g.b = b; g.a8 = p->a_u8; g.b8 = p->b_u8; g.at = a_table; g.bt = b_table; g.ai = a_int; g.bi = b_int;
    g.as = a_scale; g.bs = b_scale; g.m = m; g.k = k; g.n = n;
    g.nkb = (k + p->scale_block - 1) / p->scale_block;
    g.o = o; g.p = p; g.c = c; g.po = p->per_output ? po : NULL;
    if (o->kind == MACSIM_ACC_FLOAT) {
        int top = o->emax - o->emin + 2; /* the Inf/NaN exponent field, biased */
        g.maxfin = (2.0 - pow2i(-o->man_bits)) * pow2i(o->emax);
        g.minnorm = pow2i(o->emin);
        for (g.ebits = 1; (1 << g.ebits) - 1 < top; g.ebits++) {}
    } else {
        int w = o->kind == MACSIM_ACC_FIXED ? o->width : 62;
        g.hi = (int64_t)((UINT64_C(1) << (w - 1)) - 1);
        g.lo = -g.hi - 1;
        g.mask = (UINT64_C(1) << w) - 1;
        g.half = UINT64_C(1) << (w - 1);
        g.xscale = ldexp(1.0, o->frac_bits);
        g.xunscale = ldexp(1.0, -o->frac_bits);
        g.limbs = limbs_of(o);
    }
    if (p->per_output) {
        int64_t q;
        for (q = 0; q < m * n; q++) {
            po->overflow[q] = po->swamping[q] = po->absorbed[q] = po->toggles[q] = 0;
            po->max_abs[q] = 0.0;
        }
    }

    work_parts(m, k, n, o, p, &per, &sh);
    base = (char *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    if (path == PATH_INT) { /* no step can leave the range when k * max|product| <= hi */
        int64_t amax = 0, bmax = 0, q;
        for (q = 0; q < m * k; q++) { int64_t v = a_int[code_a(&g, q)]; v = v < 0 ? -v : v; if (v > amax) amax = v; }
        for (q = 0; q < k * n; q++) { int64_t v = b_int[code_b(&g, q)]; v = v < 0 ? -v : v; if (v > bmax) bmax = v; }
        g.checked = (double)k * (double)amax * (double)bmax > (double)g.hi;
        g.narrow32 = o->width <= 31 && (double)amax * (double)bmax < 1073741824.0;
    }

    nth = p->threads;
    if (path == PATH_GENERIC) { if (nth > m) nth = m; }
    else if (nth > (m + RB - 1) / RB) nth = (m + RB - 1) / RB;
    if (nth < 1) nth = 1;
    chunk = (m + nth - 1) / nth;
    if (path != PATH_GENERIC) chunk = ((chunk + RB - 1) / RB) * RB;
    for (t = 0; t < nth; t++) {
        jobs[t].g = &g;
        jobs[t].path = path;
        jobs[t].wk = base + sh + t * per;
        jobs[t].i0 = t * chunk < m ? t * chunk : m;
        jobs[t].i1 = (t + 1) * chunk < m ? (t + 1) * chunk : m;
        memset(&jobs[t].cn, 0, sizeof jobs[t].cn);
        started[t] = 0;
    }
    for (t = 1; t < nth; t++)
        started[t] = pthread_create(&tid[t], NULL, run_job, &jobs[t]) == 0;
    run_job(&jobs[0]);
    for (t = 1; t < nth; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else run_job(&jobs[t]); /* no thread to be had: run it here */
    }
    memset(stats, 0, sizeof *stats);
    for (t = 0; t < nth; t++) {
        stats->overflow += jobs[t].cn.ovf;
        stats->swamping += jobs[t].cn.inx;
        stats->absorbed += jobs[t].cn.absd;
        stats->toggles += jobs[t].cn.tog;
        if (jobs[t].cn.maxabs > stats->max_abs) stats->max_abs = jobs[t].cn.maxabs;
    }
    stats->fast = path != PATH_GENERIC;
    return MACSIM_OK;
}
