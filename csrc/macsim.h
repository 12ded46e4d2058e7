/* macsim: bit-exact GEMM on element codes with a finite accumulator.
 *
 * The boundary follows cpfloat: the accumulator travels in one small options
 * struct, validated once (macsim_check_acc) before any loop runs; the loops then
 * trust it.  No global state; the caller owns every buffer (no allocation here).
 *
 * Inputs are codes (uint16) decoded through per-operand tables of doubles built
 * by the Python front from lowbit's format objects.  The front guarantees that
 * every code indexes its table, every table value used is finite, and every
 * product of two table values is exact in double (see lowbit/hwmodel/macsim.py).
 */
#ifndef MACSIM_H
#define MACSIM_H

#include <stddef.h>
#include <stdint.h>

#define MACSIM_ACC_FIXED 1
#define MACSIM_ACC_FLOAT 2

#define MACSIM_RNE 0 /* round to nearest, ties to even */
#define MACSIM_RTZ 1 /* round toward zero */

#define MACSIM_OK 0
#define MACSIM_EBADACC (-1)

typedef struct {
    int kind;       /* MACSIM_ACC_FIXED or MACSIM_ACC_FLOAT */
    /* fixed point: two's complement, value = n * 2^-frac_bits, 2 <= width <= 62 */
    int width;
    int frac_bits;
    int saturate;   /* 1 saturate, 0 wrap */
    /* floating point (IEEE-style, precision man_bits + 1, normal exponents emin..emax) */
    int man_bits;   /* 0..23 */
    int emin;       /* >= -126 */
    int emax;       /* <= 127 */
    int subnormals; /* 0: results below 2^emin are flushed to (signed) zero */
    int rounding;   /* MACSIM_RNE or MACSIM_RTZ */
} macsim_acc_t;

typedef struct {
    int64_t overflow;  /* steps whose exact result was outside the range (wrapped, saturated, Inf) */
    int64_t inexact;   /* steps where a nonzero product was partly or wholly lost (swamping) */
    int64_t absorbed;  /* steps where a nonzero product was wholly lost (acc unchanged) */
    double max_abs;    /* largest |accumulator| after any step */
} macsim_stats_t;

int macsim_check_acc(const macsim_acc_t *acc);

/* C[m x n] = A[m x k] . B[k x n], row-major, accumulated sequentially along k.
 * scratch: n int64 values (used by the fixed-point accumulator only). */
int macsim_gemm(const uint16_t *a, const uint16_t *b,
                const double *a_table, const double *b_table,
                int64_t m, int64_t k, int64_t n,
                const macsim_acc_t *acc, double *c, int64_t *scratch,
                macsim_stats_t *stats);

#endif
