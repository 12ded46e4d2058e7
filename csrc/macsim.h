/* macsim: bit-exact GEMM on element codes with a finite accumulator.
 *
 * The boundary follows cpfloat: the accumulator and the run options travel in
 * two small structs, validated once (macsim_check) before any loop runs; the
 * loops then trust them.  No global state; the caller owns every buffer,
 * including the work memory (macsim_work_size), so nothing is allocated here.
 *
 * Inputs are codes (uint16, or uint8 when opts says so) decoded through per-operand tables of doubles built
 * by the Python front from lowbit's format objects.  The front guarantees that
 * every code indexes its table and that every product of table values (times
 * the block scales, when given) is exact in double, normal, and below 2^300;
 * for block sums, that the sum of `block` such products is exact too (see
 * lowbit/hwmodel/macsim/).  Non-finite table values (NaN, Inf) are allowed
 * with floating-point accumulators only, and follow IEEE 754 there.
 */
#ifndef MACSIM_H
#define MACSIM_H

#include <stddef.h>
#include <stdint.h>

#define MACSIM_ACC_FIXED 1 /* two's complement, W bits, F fractional */
#define MACSIM_ACC_FLOAT 2 /* IEEE-style, any precision <= 24 bits, exponent within FP32's */
#define MACSIM_ACC_EXACT 3 /* Kulisch: multi-word fixed point wide enough to never round */

#define MACSIM_RNE 0 /* round to nearest, ties to even */
#define MACSIM_RTZ 1 /* round toward zero */
#define MACSIM_DOWN 2 /* round toward minus infinity (fixed point only: dropping low bits) */

#define MACSIM_SEQUENTIAL 0 /* acc <- round(acc + p_k), k = 0, 1, ... */
#define MACSIM_BLOCKS 1     /* acc <- round(acc + exact sum of the next `block` products) */
#define MACSIM_PAIRWISE 2   /* a tree of adders of the accumulator format over the products */

#define MACSIM_OK 0
#define MACSIM_EBADACC (-1)
#define MACSIM_EBADOPTS (-2)
#define MACSIM_EWORK (-3)

/* words (8 bytes) of a Kulisch register, at most */
#define MACSIM_MAX_LIMBS 40
/* widest exact (Kulisch) register: 32-bit digits, MACSIM_MAX_LIMBS - 2 of them */
#define MACSIM_MAX_EXACT_WIDTH 1216
/* widest fixed-point register: int64 sums of a register and a product (see macsim.c) */
#define MACSIM_MAX_FIXED_WIDTH 62
/* most threads one call runs */
#define MACSIM_MAX_THREADS 64

typedef struct {
    int kind;       /* MACSIM_ACC_* */
    /* fixed point: value = n * 2^-frac_bits, 2 <= width <= 62 (FIXED);
     * exact: value = n * 2^-frac_bits with n held in 32-bit digits, width <= MACSIM_MAX_EXACT_WIDTH */
    int width;
    int frac_bits;
    int saturate;   /* 1 saturate, 0 wrap */
    /* fixed point also uses `rounding` (RNE, RTZ, DOWN) for addends below its LSB */
    /* floating point (IEEE-style, precision man_bits + 1, normal exponents emin..emax) */
    int man_bits;   /* 0..23 */
    int emin;       /* >= -126 */
    int emax;       /* <= 127 */
    int subnormals; /* 0: results below 2^emin are flushed to (signed) zero */
    int rounding;   /* MACSIM_RNE or MACSIM_RTZ */
} macsim_acc_t;

typedef struct {
    int order;        /* MACSIM_SEQUENTIAL, MACSIM_BLOCKS or MACSIM_PAIRWISE */
    int64_t block;    /* products per exact block (MACSIM_BLOCKS), >= 1 */
    int64_t scale_block; /* K-length of a per-block scale, >= 1 (when scales are given) */
    int a_scaled;     /* 1: a_scale is m x ceil(k / scale_block), row-major */
    int b_scaled;     /* 1: b_scale is ceil(k / scale_block) x n, row-major */
    int toggles;      /* 1: count bit toggles of the accumulator register (not PAIRWISE) */
    int per_output;   /* 1: fill the per-output arrays */
    int threads;      /* 1..64: threads over rows of C */
    int fast;         /* 1: vectorised kernels where they apply; 0: the generic loop only */
    /* fast fixed-point kernel: integer tables with a_int[a] * b_int[b] = product * 2^frac,
     * |entries| < 2^31, |products| < 2^62; width <= 32 needs |products| < 2^30 */
    int int_ok;
    /* fast float kernels: products and their sums follow the conditions in macsim.c */
    int f32_ok;       /* every product is exact in binary32 */
    int f64_exact;    /* acc + product is exact in binary64 for every acc and product */
    int f64_ok;       /* finite operands, no block scales: the TwoSum kernel applies */
    /* MACSIM_BLOCKS with block sums wider than a double: each block is summed in a Kulisch
     * register of bk_limbs 32-bit digits with LSB 2^-bk_frac (float accumulators: wide enough
     * for the accumulator's values too; exact: the accumulator's own digits); 0: in double */
    int bk_limbs;
    int bk_frac;
    /* bytes per code of A and B: 1 = uint8 (codes of formats of <= 8 bits), 0 = uint16 */
    int a_u8;
    int b_u8;
} macsim_opts_t;

typedef struct {
    int64_t overflow;  /* steps whose exact result was outside the range (wrapped, saturated, Inf) */
    int64_t swamping;  /* steps where a nonzero addend was partly or wholly lost (swamping) */
    int64_t absorbed;  /* steps where a nonzero addend was wholly lost (result = the other one) */
    int64_t toggles;   /* bits of the accumulator register that changed, summed over steps */
    double max_abs;    /* largest |accumulator| after any step */
    int fast;          /* 1 when a vectorised kernel ran */
} macsim_stats_t;

/* Optional per-output statistics, m x n row-major each; all NULL unless opts.per_output. */
typedef struct {
    int64_t *overflow;
    int64_t *swamping;
    int64_t *absorbed;
    int64_t *toggles;
    double *max_abs;
} macsim_outstats_t;

int macsim_check(const macsim_acc_t *acc, const macsim_opts_t *opts);

/* Bytes of work memory macsim_gemm needs (8-byte aligned), or < 0 for bad options. */
int64_t macsim_work_size(int64_t m, int64_t k, int64_t n, const macsim_acc_t *acc,
                         const macsim_opts_t *opts);

/* C[m x n] = A[m x k] . B[k x n], row-major codes (uint16_t, or uint8_t per opts.a_u8/b_u8). */
int macsim_gemm(const void *a, const void *b,
                const double *a_table, const double *b_table,
                const int32_t *a_int, const int32_t *b_int,
                const double *a_scale, const double *b_scale,
                int64_t m, int64_t k, int64_t n,
                const macsim_acc_t *acc, const macsim_opts_t *opts,
                double *c, void *work, int64_t work_bytes,
                macsim_stats_t *stats, macsim_outstats_t *per_output);

#endif
