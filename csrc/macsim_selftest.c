/* macsim self-test: every loop, accumulator, order, scale and statistic on random codes,
 * with work memory of exactly macsim_work_size bytes, for runs under AddressSanitizer,
 * UndefinedBehaviorSanitizer or ThreadSanitizer (tests/hwmodel/test_macsim_sanitize.py).
 *
 * It checks what needs no oracle: the vectorised loops equal the generic loop (values and
 * statistics), threads change nothing, per-output statistics sum to the totals, bad options
 * are refused.  Bit-exactness against the exact reference is tested from Python.
 * Exit status 0 when every check passed.
 */
#include "macsim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int failures = 0;
#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond)) {                                                \
            failures++;                                               \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
            fprintf(stderr, __VA_ARGS__);                             \
            fprintf(stderr, "\n");                                    \
        }                                                             \
    } while (0)

/* value of an IEEE-style minifloat code (e exponent bits, m mantissa bits); fn: no Inf,
 * only the all-ones code is NaN (OCP E4M3) */
static double minifloat(unsigned code, int e, int m, int fn)
{
    unsigned sign = (code >> (e + m)) & 1, ex = (code >> m) & ((1u << e) - 1);
    unsigned man = code & ((1u << m) - 1);
    int bias = (1 << (e - 1)) - 1;
    double v;
    if (fn && ex == (1u << e) - 1 && man == (1u << m) - 1) return NAN;
    if (!fn && ex == (1u << e) - 1) return man ? NAN : (sign ? -INFINITY : INFINITY);
    if (ex == 0) v = ldexp((double)man, 1 - bias - m);
    else v = ldexp((double)(man | (1u << m)), (int)ex - bias - m);
    return sign ? -v : v;
}

typedef struct {
    const char *name;
    int bits;
    double table[65536];
    int32_t itab[65536]; /* integer values (integer formats) */
    int is_int, has_special;
} fmt_t;

static fmt_t F_INT8, F_E4M3, F_E5M2, F_FP16;

static void make_formats(void)
{
    unsigned c;
    F_INT8.name = "int8"; F_INT8.bits = 8; F_INT8.is_int = 1;
    for (c = 0; c < 256; c++) {
        F_INT8.itab[c] = c < 128 ? (int32_t)c : (int32_t)c - 256;
        F_INT8.table[c] = F_INT8.itab[c];
    }
    F_E4M3.name = "e4m3fn"; F_E4M3.bits = 8; F_E4M3.has_special = 1;
    for (c = 0; c < 256; c++) F_E4M3.table[c] = minifloat(c, 4, 3, 1);
    F_E5M2.name = "e5m2"; F_E5M2.bits = 8; F_E5M2.has_special = 1;
    for (c = 0; c < 256; c++) F_E5M2.table[c] = minifloat(c, 5, 2, 0);
    F_FP16.name = "fp16"; F_FP16.bits = 16; F_FP16.has_special = 1;
    for (c = 0; c < 65536; c++) F_FP16.table[c] = minifloat(c, 5, 10, 0);
}

static void fill_codes(uint16_t *x, int64_t count, const fmt_t *f, int finite_only)
{
    int64_t i;
    for (i = 0; i < count; i++) {
        uint16_t c;
        do c = (uint16_t)(next_u64() & ((1u << f->bits) - 1));
        while (finite_only && !isfinite(f->table[c]));
        x[i] = c;
    }
}

typedef struct {
    double *c;
    macsim_stats_t st;
    int64_t *po_i[4];
    double *po_max;
    int rc;
} run_t;

static run_t run(const void *a, const void *b, const fmt_t *fa, const fmt_t *fb,
                 const double *sa, const double *sb, int64_t m, int64_t k, int64_t n,
                 const macsim_acc_t *acc, const macsim_opts_t *opts)
{
    run_t r;
    int64_t bytes = macsim_work_size(m, k, n, acc, opts), q;
    void *work;
    macsim_outstats_t po;
    memset(&r, 0, sizeof r);
    r.c = malloc((size_t)(m * n + 1) * sizeof(double));
    memset(&po, 0, sizeof po);
    if (opts->per_output) {
        for (q = 0; q < 4; q++) r.po_i[q] = malloc((size_t)(m * n + 1) * sizeof(int64_t));
        r.po_max = malloc((size_t)(m * n + 1) * sizeof(double));
        po.overflow = r.po_i[0]; po.swamping = r.po_i[1];
        po.absorbed = r.po_i[2]; po.toggles = r.po_i[3]; po.max_abs = r.po_max;
    }
    if (bytes < 0) {
        r.rc = -100;
        return r;
    }
    work = malloc((size_t)bytes); /* exactly what was asked for: ASan sees any overrun */
    r.rc = macsim_gemm(a, b, fa->table, fb->table, fa->is_int ? fa->itab : NULL,
                       fb->is_int ? fb->itab : NULL, sa, sb, m, k, n, acc, opts, r.c, work,
                       bytes, &r.st, opts->per_output ? &po : NULL);
    free(work);
    return r;
}

static void release(run_t *r)
{
    int q;
    free(r->c);
    for (q = 0; q < 4; q++) free(r->po_i[q]);
    free(r->po_max);
}

static int same_double(double x, double y)
{
    uint64_t ux, uy;
    if (isnan(x) && isnan(y)) return 1;
    memcpy(&ux, &x, 8);
    memcpy(&uy, &y, 8);
    return ux == uy;
}

static void compare(const char *what, const run_t *x, const run_t *y, int64_t count)
{
    int64_t i, bad = 0;
    for (i = 0; i < count; i++) bad += !same_double(x->c[i], y->c[i]);
    CHECK(bad == 0, "%s: %lld outputs differ", what, (long long)bad);
    CHECK(x->st.overflow == y->st.overflow && x->st.swamping == y->st.swamping &&
              x->st.absorbed == y->st.absorbed && x->st.toggles == y->st.toggles &&
              same_double(x->st.max_abs, y->st.max_abs),
          "%s: stats differ (%lld/%lld %lld/%lld %lld/%lld %lld/%lld %g/%g)", what,
          (long long)x->st.overflow, (long long)y->st.overflow, (long long)x->st.swamping,
          (long long)y->st.swamping, (long long)x->st.absorbed, (long long)y->st.absorbed,
          (long long)x->st.toggles, (long long)y->st.toggles, x->st.max_abs, y->st.max_abs);
}

static macsim_acc_t fixed_acc(int width, int frac, int sat)
{
    macsim_acc_t a;
    memset(&a, 0, sizeof a);
    a.kind = MACSIM_ACC_FIXED; a.width = width; a.frac_bits = frac; a.saturate = sat;
    return a;
}

static macsim_acc_t float_acc(int man, int emin, int emax, int sub, int rnd)
{
    macsim_acc_t a;
    memset(&a, 0, sizeof a);
    a.kind = MACSIM_ACC_FLOAT; a.man_bits = man; a.emin = emin; a.emax = emax;
    a.subnormals = sub; a.rounding = rnd;
    return a;
}

static macsim_acc_t exact_acc(int width, int frac)
{
    macsim_acc_t a;
    memset(&a, 0, sizeof a);
    a.kind = MACSIM_ACC_EXACT; a.width = width; a.frac_bits = frac;
    return a;
}

typedef struct {
    const fmt_t *fa, *fb;
    macsim_acc_t acc;
    int int_ok, f32_ok, f64_exact, f64_ok, specials, scales;
    const char *label;
    int bk_limbs, bk_frac; /* Kulisch block sums (order BLOCKS) */
} case_t;

static void one_case(const case_t *cs, int64_t m, int64_t k, int64_t n)
{
    uint16_t *a = malloc((size_t)(m * k + 1) * sizeof(uint16_t));
    uint16_t *b = malloc((size_t)(k * n + 1) * sizeof(uint16_t));
    const int64_t sblk = 4, nkb = (k + sblk - 1) / sblk;
    double *sa = malloc((size_t)(m * nkb + 1) * sizeof(double));
    double *sb = malloc((size_t)(nkb * n + 1) * sizeof(double));
    int order, tog, per, th;
    int64_t i;
    fill_codes(a, m * k, cs->fa, !cs->specials);
    fill_codes(b, k * n, cs->fb, !cs->specials);
    for (i = 0; i < m * nkb; i++) sa[i] = ldexp(1.0, (int)(next_u64() % 7) - 3);
    for (i = 0; i < nkb * n; i++) sb[i] = (next_u64() & 1) ? 0.75 : -2.0;
    for (order = 0; order < 3; order++) {
        if (order == MACSIM_PAIRWISE && cs->acc.kind == MACSIM_ACC_EXACT) continue;
        if (order == MACSIM_PAIRWISE && cs->acc.rounding == MACSIM_DOWN) continue; /* refused */
        for (tog = 0; tog < 2; tog++) {
            if (tog && order == MACSIM_PAIRWISE) continue;
            for (per = 0; per < 2; per++) {
                macsim_opts_t o;
                run_t base;
                char what[200];
                memset(&o, 0, sizeof o);
                o.order = order; o.block = order == MACSIM_BLOCKS ? 4 : 1; o.scale_block = sblk;
                o.a_scaled = o.b_scaled = cs->scales;
                o.toggles = tog; o.per_output = per; o.threads = 1; o.fast = 0;
                o.int_ok = cs->int_ok; o.f32_ok = cs->f32_ok; o.f64_exact = cs->f64_exact;
                o.f64_ok = cs->f64_ok;
                if (order == MACSIM_BLOCKS) {
                    o.bk_limbs = cs->bk_limbs;
                    o.bk_frac = cs->bk_frac;
                }
                base = run(a, b, cs->fa, cs->fb, sa, sb, m, k, n, &cs->acc, &o);
                snprintf(what, sizeof what, "%s order=%d tog=%d per=%d %lldx%lldx%lld", cs->label,
                         order, tog, per, (long long)m, (long long)k, (long long)n);
                CHECK(base.rc == 0, "%s: rc %d", what, base.rc);
                if (per && base.rc == 0) {
                    int64_t sums[3] = {0, 0, 0};
                    for (i = 0; i < m * n; i++) {
                        sums[0] += base.po_i[0][i];
                        sums[1] += base.po_i[1][i];
                        sums[2] += base.po_i[2][i];
                    }
                    CHECK(sums[0] == base.st.overflow && sums[1] == base.st.swamping &&
                              sums[2] == base.st.absorbed,
                          "%s: per-output sums differ from the totals", what);
                }
                for (th = 1; th <= 3; th++) {
                    int fast;
                    for (fast = 0; fast < 2; fast++) {
                        run_t r;
                        if (th == 1 && !fast) continue;
                        o.threads = th; o.fast = fast;
                        r = run(a, b, cs->fa, cs->fb, sa, sb, m, k, n, &cs->acc, &o);
                        CHECK(r.rc == 0, "%s threads=%d fast=%d: rc %d", what, th, fast, r.rc);
                        if (r.rc == 0 && base.rc == 0) compare(what, &r, &base, m * n);
                        release(&r);
                    }
                }
                if (cs->fa->bits <= 8 && cs->fb->bits <= 8 && base.rc == 0) {
                    /* the same codes as uint8 arrays of exactly their size */
                    uint8_t *a8 = malloc((size_t)(m * k + 1)), *b8 = malloc((size_t)(k * n + 1));
                    int fast;
                    for (i = 0; i < m * k; i++) a8[i] = (uint8_t)a[i];
                    for (i = 0; i < k * n; i++) b8[i] = (uint8_t)b[i];
                    for (fast = 0; fast < 2; fast++) {
                        run_t r;
                        o.threads = 2; o.fast = fast; o.a_u8 = 1; o.b_u8 = 1;
                        r = run(a8, b8, cs->fa, cs->fb, sa, sb, m, k, n, &cs->acc, &o);
                        CHECK(r.rc == 0, "%s uint8 fast=%d: rc %d", what, fast, r.rc);
                        if (r.rc == 0) compare(what, &r, &base, m * n);
                        release(&r);
                        o.a_u8 = 0; /* and A uint16 with B uint8 */
                        r = run(a, b8, cs->fa, cs->fb, sa, sb, m, k, n, &cs->acc, &o);
                        CHECK(r.rc == 0, "%s uint16 x uint8 fast=%d: rc %d", what, fast, r.rc);
                        if (r.rc == 0) compare(what, &r, &base, m * n);
                        release(&r);
                        o.b_u8 = 0;
                    }
                    free(a8); free(b8);
                }
                o.threads = 1;
                release(&base);
            }
        }
    }
    free(a); free(b); free(sa); free(sb);
}

static void bad_options(void)
{
    macsim_acc_t acc = float_acc(10, -14, 15, 1, MACSIM_RNE);
    macsim_opts_t o;
    memset(&o, 0, sizeof o);
    o.block = 1; o.scale_block = 1; o.threads = 1;
    CHECK(macsim_check(&acc, &o) == MACSIM_OK, "good options refused");
    o.threads = 0;
    CHECK(macsim_check(&acc, &o) != MACSIM_OK, "threads=0 accepted");
    o.threads = 1; o.order = 7;
    CHECK(macsim_check(&acc, &o) != MACSIM_OK, "order 7 accepted");
    o.order = MACSIM_PAIRWISE; o.toggles = 1;
    CHECK(macsim_check(&acc, &o) != MACSIM_OK, "pairwise toggles accepted");
    o.order = 0; o.toggles = 0; o.a_u8 = 2;
    CHECK(macsim_check(&acc, &o) != MACSIM_OK, "a_u8 = 2 accepted");
    o.a_u8 = 0;
    o.order = 0; o.toggles = 0; acc.man_bits = 24;
    CHECK(macsim_check(&acc, &o) != MACSIM_OK, "24 mantissa bits accepted");
    acc = fixed_acc(63, 0, 0);
    CHECK(macsim_check(&acc, &o) != MACSIM_OK, "63-bit fixed accepted");
    acc = fixed_acc(62, -962, 0);
    CHECK(macsim_check(&acc, &o) == MACSIM_OK, "fixed frac -962 at width 62 refused");
    acc = fixed_acc(62, -963, 0); /* register values up to 2^1024: not finite doubles */
    CHECK(macsim_check(&acc, &o) != MACSIM_OK, "fixed frac -963 at width 62 accepted");
    acc = fixed_acc(32, 1024, 0); /* 2^1024 scales the addends: not a finite double */
    CHECK(macsim_check(&acc, &o) != MACSIM_OK, "fixed frac 1024 accepted");
    acc = exact_acc(5000, 0);
    CHECK(macsim_check(&acc, &o) != MACSIM_OK, "5000-bit Kulisch accepted");
    CHECK(macsim_work_size(-1, 1, 1, &acc, &o) < 0, "negative m accepted");
    {   /* too little work memory is refused before any loop runs */
        macsim_acc_t f = float_acc(10, -14, 15, 1, MACSIM_RNE);
        uint16_t a[4] = {0}, b[4] = {0};
        double c[4];
        char work[8];
        macsim_stats_t st;
        CHECK(macsim_gemm(a, b, F_E4M3.table, F_E4M3.table, NULL, NULL, NULL, NULL, 2, 2, 2,
                          &f, &o, c, work, 8, &st, NULL) == MACSIM_EWORK,
              "short work memory accepted");
    }
}

int main(void)
{
    const case_t cases[] = {
        {&F_INT8, &F_INT8, {0}, 1, 0, 0, 0, 0, 0, "int8 fixed32 wrap", 0, 0},
        {&F_INT8, &F_INT8, {0}, 1, 0, 0, 0, 0, 0, "int8 fixed14 sat", 0, 0},
        {&F_INT8, &F_INT8, {0}, 1, 0, 0, 0, 0, 0, "int8 fixed11 wrap", 0, 0},
        {&F_INT8, &F_INT8, {0}, 1, 0, 0, 0, 0, 0, "int8 fixed48 wrap", 0, 0},
        {&F_E4M3, &F_E4M3, {0}, 0, 1, 0, 1, 0, 0, "e4m3 fp32", 0, 0},
        {&F_E4M3, &F_E4M3, {0}, 0, 0, 1, 1, 0, 0, "e4m3 fp16", 0, 0},
        {&F_E4M3, &F_E4M3, {0}, 0, 0, 0, 1, 0, 0, "e4m3 bf16", 0, 0},
        {&F_E4M3, &F_E4M3, {0}, 0, 0, 0, 1, 0, 0, "e4m3 fp16 rtz", 0, 0},
        {&F_E4M3, &F_E4M3, {0}, 0, 0, 1, 1, 0, 0, "e4m3 fp16 ftz", 0, 0},
        {&F_E4M3, &F_E4M3, {0}, 0, 0, 0, 0, 0, 1, "e4m3 fp16 scaled", 0, 0},
        {&F_E5M2, &F_E5M2, {0}, 0, 0, 0, 0, 1, 0, "e5m2 fp16 specials", 0, 0},
        {&F_E4M3, &F_E4M3, {0}, 0, 0, 0, 0, 0, 0, "e4m3 fixed40 sat", 0, 0},
        {&F_FP16, &F_FP16, {0}, 0, 0, 0, 0, 0, 0, "fp16 kulisch", 6, 48},
        {&F_E5M2, &F_E5M2, {0}, 0, 0, 0, 1, 0, 0, "e5m2 fp32 wide blocks", 11, 149},
        {&F_E5M2, &F_E5M2, {0}, 0, 0, 0, 1, 0, 0, "e5m2 bf16 rtz wide blocks", 11, 133},
        {&F_E4M3, &F_E4M3, {0}, 0, 0, 0, 0, 0, 0, "e4m3 fixed12 frac4 down", 0, 0},
    };
    const int64_t shapes[][3] = {{5, 37, 70}, {1, 1, 1}, {3, 0, 2}, {0, 4, 3}, {9, 9, 0}};
    case_t cs[sizeof cases / sizeof cases[0]];
    size_t c, s;
    make_formats();
    memcpy(cs, cases, sizeof cases);
    cs[0].acc = fixed_acc(32, 0, 0);
    cs[1].acc = fixed_acc(14, 0, 1);
    cs[2].acc = fixed_acc(11, 0, 0);
    cs[3].acc = fixed_acc(48, 0, 0);
    cs[4].acc = float_acc(23, -126, 127, 1, MACSIM_RNE);
    cs[5].acc = float_acc(10, -14, 15, 1, MACSIM_RNE);
    cs[6].acc = float_acc(7, -126, 127, 1, MACSIM_RNE);
    cs[7].acc = float_acc(10, -14, 15, 1, MACSIM_RTZ);
    cs[8].acc = float_acc(10, -14, 15, 0, MACSIM_RNE);
    cs[9].acc = float_acc(10, -14, 15, 1, MACSIM_RNE);
    cs[10].acc = float_acc(10, -14, 15, 1, MACSIM_RNE);
    cs[11].acc = fixed_acc(40, 18, 1);
    cs[12].acc = exact_acc(100, 48);
    cs[13].acc = float_acc(23, -126, 127, 1, MACSIM_RNE);
    cs[14].acc = float_acc(7, -126, 127, 1, MACSIM_RTZ);
    cs[15].acc = fixed_acc(12, 4, 0);
    cs[15].acc.rounding = MACSIM_DOWN;
    for (c = 0; c < sizeof cs / sizeof cs[0]; c++)
        for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            /* the Kulisch case keeps k small: its width holds 37 FP16 products */
            one_case(&cs[c], shapes[s][0], shapes[s][1], shapes[s][2]);
        }
    bad_options();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("macsim selftest: all checks passed\n");
    return 0;
}
