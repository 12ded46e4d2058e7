/* macsim: bit-exact GEMM with a finite accumulator (see macsim.h).
 *
 * Floating-point accumulation, why one addition in double and a TwoSum suffice
 * ------------------------------------------------------------------------------
 * Every accumulator value a is a point of the target grid (precision <= 24 bits,
 * exponent >= -149), so it is a double; every product p is an exact double (the
 * Python front checks this).  s = fl(a + p) and e = (a + p) - s are computed by
 * Knuth's TwoSum, exact in IEEE double without FMA contraction or extended
 * precision (checked below; compiled with -ffp-contract=off), underflow included,
 * and without overflow since |a|, |p| < 2^300.  So x = a + p = s + e exactly.
 * The target grid points and the midpoints between them are doubles (<= 25
 * significant bits, exponents far inside double's range).  Rounding to nearest
 * in double is monotone, so s lies on the same side of every such double as x,
 * or equals it.  Hence:
 *   - nearest-even: round(s) = round(x) unless s is a midpoint and e != 0, where
 *     x lies beyond the midpoint on the side of e's sign;
 *   - toward zero: trunc(s) = trunc(x) unless s is a grid point and e points
 *     toward zero, where the result is the grid point below s in magnitude.
 * That is the whole rounding rule below; nothing else depends on host rounding.
 * Subnormals off: the result is rounded on the subnormal grid, and a nonzero
 * result of magnitude below 2^emin is then flushed to zero of the same sign
 * (accumulator values are therefore never subnormal).
 */
#include "macsim.h"

#include <float.h>
#include <math.h>

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "macsim needs double arithmetic evaluated in double (FLT_EVAL_METHOD == 0)"
#endif

int macsim_check_acc(const macsim_acc_t *o)
{
    if (o == NULL) return MACSIM_EBADACC;
    if (o->kind == MACSIM_ACC_FIXED) {
        if (o->width < 2 || o->width > 62) return MACSIM_EBADACC;
        if (o->frac_bits < -1000 || o->frac_bits > 1000) return MACSIM_EBADACC;
        if (o->saturate != 0 && o->saturate != 1) return MACSIM_EBADACC;
        return MACSIM_OK;
    }
    if (o->kind == MACSIM_ACC_FLOAT) {
        if (o->man_bits < 0 || o->man_bits > 23) return MACSIM_EBADACC;
        if (o->emin < -126 || o->emax > 127 || o->emin > o->emax) return MACSIM_EBADACC;
        if (o->subnormals != 0 && o->subnormals != 1) return MACSIM_EBADACC;
        if (o->rounding != MACSIM_RNE && o->rounding != MACSIM_RTZ) return MACSIM_EBADACC;
        return MACSIM_OK;
    }
    return MACSIM_EBADACC;
}

/* Round x = s + e (exact, |e| <= ulp_double(s) / 2) to the accumulator grid. */
static double round_to_acc(double s, double e, const macsim_acc_t *o, double maxfin,
                           double minnorm, int *overflow)
{
    int ex, qe;
    double t, r, frac, out;

    *overflow = 0;
    if (s == 0.0) return s; /* then e == 0: exact, sign of zero from IEEE addition */
    (void)frexp(s, &ex);    /* |s| in [2^(ex-1), 2^ex) */
    qe = (ex - 1 > o->emin ? ex - 1 : o->emin) - o->man_bits; /* quantum 2^qe */
    t = ldexp(s, -qe);      /* exact: a power-of-two scaling inside double's range */
    r = trunc(t);
    frac = t - r;           /* exact */
    if (o->rounding == MACSIM_RNE) {
        double af = fabs(frac);
        int away;
        if (af > 0.5) away = 1;
        else if (af < 0.5) away = 0;
        else if (e != 0.0) away = ((e > 0.0) == (s > 0.0));
        else away = (fmod(r, 2.0) != 0.0);
        if (away) r += (s > 0.0) ? 1.0 : -1.0;
        out = ldexp(r, qe);
    } else {
        out = ldexp(r, qe);
        if (frac == 0.0 && e != 0.0 && ((e > 0.0) != (s > 0.0))) {
            /* s is a grid point and x is just inside it: one grid step toward zero,
             * in the binade below when |s| is a power of two above 2^emin. */
            int q = qe;
            if (fabs(r) == ldexp(1.0, o->man_bits) && ex - 1 > o->emin) q = qe - 1;
            out = (s > 0.0) ? s - ldexp(1.0, q) : s + ldexp(1.0, q);
        }
    }
    if (fabs(out) > maxfin) {
        *overflow = 1;
        if (o->rounding == MACSIM_RNE) return copysign(INFINITY, s);
        return copysign(maxfin, s);
    }
    if (out == 0.0) return copysign(0.0, s);
    if (!o->subnormals && fabs(out) < minnorm) return copysign(0.0, s);
    return out;
}

static void gemm_float(const uint16_t *a, const uint16_t *b, const double *at,
                       const double *bt, int64_t m, int64_t k, int64_t n,
                       const macsim_acc_t *o, double *c, macsim_stats_t *st)
{
    const double maxfin = ldexp(2.0 - ldexp(1.0, -o->man_bits), o->emax);
    const double minnorm = ldexp(1.0, o->emin);
    int64_t i, j, kk;
    int64_t ovf = 0, inexact = 0, absorbed = 0;
    double maxabs = 0.0;

    for (i = 0; i < m * n; i++) c[i] = 0.0;
    for (i = 0; i < m; i++) {
        double *crow = c + i * n;
        for (kk = 0; kk < k; kk++) {
            const double pa = at[a[i * k + kk]];
            const uint16_t *brow = b + kk * n;
            for (j = 0; j < n; j++) {
                const double acc = crow[j];
                const double p = pa * bt[brow[j]]; /* exact (checked by the front) */
                double s, bb, e, r;
                int of;
                if (isinf(acc)) continue; /* Inf + finite = Inf; no new event */
                s = acc + p; /* TwoSum */
                bb = s - acc;
                e = (acc - (s - bb)) + (p - bb);
                r = round_to_acc(s, e, o, maxfin, minnorm, &of);
                ovf += of;
                if (r != s || e != 0.0) {
                    inexact++;
                    if (p != 0.0 && r == acc) absorbed++;
                }
                if (fabs(r) > maxabs) maxabs = fabs(r);
                crow[j] = r;
            }
        }
    }
    st->overflow = ovf;
    st->inexact = inexact;
    st->absorbed = absorbed;
    st->max_abs = maxabs;
}

static void gemm_fixed(const uint16_t *a, const uint16_t *b, const double *at,
                       const double *bt, int64_t m, int64_t k, int64_t n,
                       const macsim_acc_t *o, double *c, int64_t *acc,
                       macsim_stats_t *st)
{
    /* Products scaled by 2^F are integers of magnitude < 2^62 (checked by the
     * front), accumulator values are < 2^61, so every sum fits int64. */
    const double scale = ldexp(1.0, o->frac_bits);
    const double unscale = ldexp(1.0, -o->frac_bits);
    const int64_t hi = (int64_t)((UINT64_C(1) << (o->width - 1)) - 1);
    const int64_t lo = -hi - 1;
    const uint64_t mask = (UINT64_C(1) << o->width) - 1;
    const uint64_t half = UINT64_C(1) << (o->width - 1);
    int64_t i, j, kk;
    int64_t ovf = 0, maxabs = 0;

    for (i = 0; i < m; i++) {
        for (j = 0; j < n; j++) acc[j] = 0;
        for (kk = 0; kk < k; kk++) {
            const double pa = at[a[i * k + kk]] * scale;
            const uint16_t *brow = b + kk * n;
            for (j = 0; j < n; j++) {
                int64_t s = acc[j] + (int64_t)(pa * bt[brow[j]]);
                if (s > hi || s < lo) {
                    ovf++;
                    if (o->saturate) {
                        s = s > hi ? hi : lo;
                    } else {
                        uint64_t u = (uint64_t)s & mask; /* two's complement wrap */
                        s = (u & half) ? -(int64_t)(((~u) & mask) + 1) : (int64_t)u;
                    }
                }
                acc[j] = s;
                if (s > maxabs) maxabs = s;
                else if (-s > maxabs) maxabs = -s;
            }
        }
        for (j = 0; j < n; j++) c[i * n + j] = (double)acc[j] * unscale;
    }
    st->overflow = ovf;
    st->inexact = 0;
    st->absorbed = 0;
    st->max_abs = (double)maxabs * unscale;
}

int macsim_gemm(const uint16_t *a, const uint16_t *b,
                const double *a_table, const double *b_table,
                int64_t m, int64_t k, int64_t n,
                const macsim_acc_t *acc, double *c, int64_t *scratch,
                macsim_stats_t *stats)
{
    if (macsim_check_acc(acc) != MACSIM_OK || m < 0 || k < 0 || n < 0)
        return MACSIM_EBADACC;
    if (acc->kind == MACSIM_ACC_FLOAT)
        gemm_float(a, b, a_table, b_table, m, k, n, acc, c, stats);
    else
        gemm_fixed(a, b, a_table, b_table, m, k, n, acc, c, scratch, stats);
    return MACSIM_OK;
}
