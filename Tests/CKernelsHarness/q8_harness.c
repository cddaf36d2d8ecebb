// Correctness harness for the CKernels int8 paths: every path this CPU supports is forced explicitly
// and compared bit-exactly (int32) with rk_q8_gemm_ref, and within 1e-5 relative (f32) with a double
// reference, over odd shapes, strides, K blocking, threading, int8 extremes; plus quantization and
// the thread pool. Exit status is nonzero on the first mismatch, which is printed.
//
// usage: q8_harness [--expect ISA] [--require isa,isa,...] [--quick]
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckernels.h"

// Internal test hook (Sources/CKernels/q8_internal.h): force the K block size; 0 = automatic.
void rk_q8_debug_force_kc(int kc);

// MARK: - Helpers

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static int8_t rnd_q(void) { return (int8_t)((int)(rnd() % 255) - 127); }
static float rnd_f(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() & 0xffffff) / 16777216.0f; }

typedef enum { FILL_RANDOM, FILL_PLUS, FILL_MINUS, FILL_SIGNS } fill_kind;

static void fill(int8_t *p, size_t n, fill_kind kind) {
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case FILL_RANDOM: p[i] = rnd_q(); break;
        case FILL_PLUS: p[i] = 127; break;
        case FILL_MINUS: p[i] = -127; break;
        case FILL_SIGNS: p[i] = (rnd() & 1) ? 127 : -127; break;
        }
    }
}

static int failures;
static long cases;

static void fail_i32(rk_isa isa, const char *what, int m, int n, int k, int threads, long idx,
                     long got, long want) {
    if (failures++ == 0)
        fprintf(stderr,
                "MISMATCH path=%s test=%s M=%d N=%d K=%d threads=%d index=%ld got=%ld want=%ld\n",
                rk_isa_name(isa), what, m, n, k, threads, idx, got, want);
}

// MARK: - GEMM cases

/// One shape on one path: int32 bit-exact vs the reference and f32 vs a double reference.
static void check_gemm(rk_isa isa, int m, int n, int k, fill_kind fa, fill_kind fw, int threads) {
    const int lda = k + (int)(rnd() % 3), ldw = k + (int)(rnd() % 3);
    const int ldc = n + (int)(rnd() % 3);
    int8_t *a = malloc((size_t)m * lda + 1), *w = malloc((size_t)n * ldw + 1);
    int32_t *want = malloc(sizeof(int32_t) * (size_t)m * ldc);
    int32_t *got = malloc(sizeof(int32_t) * (size_t)m * ldc);
    float *y = malloc(sizeof(float) * (size_t)m * ldc);
    float *as = malloc(sizeof(float) * (size_t)m), *ws = malloc(sizeof(float) * (size_t)n);
    float *bias = malloc(sizeof(float) * (size_t)n);
    fill(a, (size_t)m * lda, fa);
    fill(w, (size_t)n * ldw, fw);
    for (int i = 0; i < m; i++) as[i] = rnd_f(0.001f, 0.05f);
    for (int j = 0; j < n; j++) ws[j] = rnd_f(0.001f, 0.05f), bias[j] = rnd_f(-2.0f, 2.0f);

    rk_set_num_threads(threads);
    rk_q8_gemm_ref(a, m, lda, w, n, ldw, k, want, ldc);
    rk_q8_weights *pw = rk_q8_pack(w, n, k, ldw, isa);
    if (!pw || pw->isa != isa) {
        fail_i32(isa, "pack", m, n, k, threads, -1, pw ? (long)pw->isa : -1L, (long)isa);
        goto done;
    }
    for (size_t i = 0; i < (size_t)m * ldc; i++) got[i] = 0x5a5a5a5a;
    rk_q8_gemm_i32(pw, a, m, lda, got, ldc);
    for (int i = 0; i < m && !failures; i++)
        for (int j = 0; j < ldc; j++) {
            const long idx = (long)i * ldc + j;
            const long expect = j < n ? want[idx] : 0x5a5a5a5a; // stride padding untouched
            if (got[idx] != expect) {
                fail_i32(isa, "i32", m, n, k, threads, idx, got[idx], expect);
                break;
            }
        }
    for (int with_bias = 0; with_bias < 2 && !failures; with_bias++) {
        for (size_t i = 0; i < (size_t)m * ldc; i++) y[i] = -12345.0f;
        rk_q8_gemm_f32(pw, a, m, lda, as, ws, with_bias ? bias : NULL, y, ldc);
        for (int i = 0; i < m && !failures; i++)
            for (int j = 0; j < ldc; j++) {
                const long idx = (long)i * ldc + j;
                if (j >= n) {
                    if (y[idx] != -12345.0f) fail_i32(isa, "f32-stride", m, n, k, threads, idx, (long)y[idx], -12345);
                    continue;
                }
                const double prod = (double)want[idx] * as[i] * ws[j];
                const double ref = prod + (with_bias ? bias[j] : 0.0);
                const double tol = 1e-5 * (fabs(prod) + (with_bias ? fabs(bias[j]) : 0.0)) + 1e-30;
                if (!(fabs((double)y[idx] - ref) <= tol)) {
                    if (failures++ == 0)
                        fprintf(stderr,
                                "MISMATCH path=%s test=f32%s M=%d N=%d K=%d threads=%d index=%ld "
                                "got=%.9g want=%.9g\n",
                                rk_isa_name(isa), with_bias ? "+bias" : "", m, n, k, threads, idx,
                                (double)y[idx], ref);
                    break;
                }
            }
    }
done:
    cases++;
    rk_q8_free(pw);
    free(a), free(w), free(want), free(got), free(y), free(as), free(ws), free(bias);
}

static const int grid_m[] = {1, 2, 3, 5, 7, 13, 64, 65};
static const int grid_n[] = {1, 3, 15, 16, 17, 63, 64, 65, 130};
static const int grid_k[] = {1, 3, 4, 5, 31, 32, 33, 64, 100, 257};
#define COUNT(x) (int)(sizeof(x) / sizeof((x)[0]))

// Shapes big enough to take the threaded, K-blocked and M-split code paths.
static const int big[][3] = {
    {1, 1030, 300}, {3, 777, 513}, {13, 640, 700}, {65, 200, 1111}, {130, 64, 2000},
    {1, 64, 5000},  {9, 40, 2100}, {20, 70, 4100}, {200, 300, 600}, {2, 2051, 257},
};

static void check_path(rk_isa isa, int threads, int quick) {
    const long before = cases;
    // Pass 0: one thread, automatic K blocks. Pass 1: pool threads, K blocks forced to 32 (or the
    // path's K group) so that small shapes accumulate across many K blocks too.
    for (int t = 0; t < 2; t++) {
        const int nt = t == 0 ? 1 : threads;
        rk_q8_debug_force_kc(t == 0 ? 0 : 32);
        for (int mi = 0; mi < COUNT(grid_m); mi++)
            for (int ni = 0; ni < COUNT(grid_n); ni++)
                for (int ki = 0; ki < COUNT(grid_k); ki++) {
                    if (quick && t == 1) continue;
                    check_gemm(isa, grid_m[mi], grid_n[ni], grid_k[ki], FILL_RANDOM, FILL_RANDOM, nt);
                    if (failures) return;
                }
        for (int b = 0; b < COUNT(big); b++) {
            check_gemm(isa, big[b][0], big[b][1], big[b][2], FILL_RANDOM, FILL_RANDOM, nt);
            if (failures) return;
        }
        // Large K at the int8 extremes: catches int16 saturation and int32 overflow.
        const fill_kind ext[][2] = {{FILL_PLUS, FILL_PLUS}, {FILL_PLUS, FILL_MINUS},
                                    {FILL_MINUS, FILL_MINUS}, {FILL_SIGNS, FILL_SIGNS}};
        for (int e = 0; e < 4; e++) {
            check_gemm(isa, 1, 70, 11008, ext[e][0], ext[e][1], nt);
            check_gemm(isa, 7, 70, 11008, ext[e][0], ext[e][1], nt);
            if (failures) return;
        }
    }
    rk_q8_debug_force_kc(0);
    printf("path %-10s %5ld cases ok (threads 1 and %d; automatic and forced K blocks)\n",
           rk_isa_name(isa), cases - before, threads);
}

// MARK: - Quantization

static void check_quantize(void) {
    enum { ROWS = 137, COLS = 301, LDX = 305, LDQ = 303 }; // > 32K values: threaded path
    float *x = malloc(sizeof(float) * ROWS * LDX), scale[ROWS];
    int8_t *q = malloc(ROWS * LDQ);
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < COLS; i++) x[r * LDX + i] = rnd_f(-1.0f, 1.0f) * (float)(r % 40 + 1) * 0.37f;
    for (int i = 0; i < COLS; i++) x[3 * LDX + i] = 0.0f;           // all-zero row → scale 1
    const float ties[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 126.5f, 127.0f, -127.0f};
    for (int i = 0; i < COLS; i++) x[5 * LDX + i] = ties[i % 8];    // amax 127 → scale 1
    rk_quantize_rows_q8(x, ROWS, COLS, LDX, q, LDQ, scale);
    long checked = 0;
    for (int r = 0; r < ROWS && !failures; r++) {
        double amax = 0;
        for (int i = 0; i < COLS; i++) amax = fmax(amax, fabs((double)x[r * LDX + i]));
        const double s_ref = amax > 0 ? amax / 127.0 : 1.0;
        if (fabs(scale[r] - s_ref) > 1e-6 * s_ref) {
            fprintf(stderr, "MISMATCH quantize scale row=%d got=%.9g want=%.9g\n", r, scale[r], s_ref);
            failures++;
            break;
        }
        for (int i = 0; i < COLS; i++) {
            const double v = (double)x[r * LDX + i] / (double)scale[r];
            double want = nearbyint(v); // double reference, ties to even
            want = want > 127 ? 127 : want < -127 ? -127 : want;
            const int got = q[r * LDQ + i];
            const int near_tie = fabs(fabs(v - trunc(v)) - 0.5) < 1e-5;
            const double err = fabs(got * (double)scale[r] - (double)x[r * LDX + i]);
            if ((got != (int)want && !near_tie) || err > 0.5 * scale[r] * (1 + 1e-5)) {
                fprintf(stderr, "MISMATCH quantize row=%d index=%d got=%d want=%d\n", r, i, got, (int)want);
                failures++;
                break;
            }
            checked++;
        }
    }
    const int8_t tie_want[] = {0, 2, 2, 0, -2, 126, 127, -127};
    for (int i = 0; i < 8 && !failures; i++)
        if (q[5 * LDQ + i] != tie_want[i] || scale[5] != 1.0f) {
            fprintf(stderr, "MISMATCH quantize ties index=%d got=%d want=%d (scale %g)\n", i,
                    q[5 * LDQ + i], tie_want[i], scale[5]);
            failures++;
        }
    if (!failures && scale[3] != 1.0f) {
        fprintf(stderr, "MISMATCH quantize zero row scale=%g\n", scale[3]);
        failures++;
    }
    if (!failures) printf("quantize   %ld values ok\n", checked);
    free(x), free(q);
}

// MARK: - Thread pool

typedef struct {
    int hits[1000];
    int nested_sum[8];
} pool_ctx;

static void nested_task(void *ctx, int t) { __atomic_fetch_add((int *)ctx, t + 1, __ATOMIC_RELAXED); }
static void outer_task(void *ctx, int t) {
    pool_ctx *p = ctx;
    if (t < 8) rk_parallel_for(10, nested_task, &p->nested_sum[t]); // runs serially inside a task
    __atomic_fetch_add(&p->hits[t], 1, __ATOMIC_RELAXED);
}

typedef struct {
    rk_q8_weights *w;
    const int8_t *a;
    const int32_t *want;
    int m, n, k, bad;
} concurrent_ctx;

static void *concurrent_caller(void *arg) {
    concurrent_ctx *c = arg;
    int32_t *got = malloc(sizeof(int32_t) * (size_t)c->m * c->n);
    for (int rep = 0; rep < 20; rep++) {
        rk_q8_gemm_i32(c->w, c->a, c->m, c->k, got, c->n);
        if (memcmp(got, c->want, sizeof(int32_t) * (size_t)c->m * c->n) != 0) c->bad = 1;
    }
    free(got);
    return NULL;
}

static void check_pool(int threads) {
    rk_set_num_threads(threads);
    static pool_ctx p;
    for (int rep = 0; rep < 200; rep++) {
        memset(&p, 0, sizeof p);
        rk_parallel_for(1000, outer_task, &p);
        for (int t = 0; t < 1000; t++)
            if (p.hits[t] != 1) {
                fprintf(stderr, "MISMATCH pool rep=%d task=%d ran %d times\n", rep, t, p.hits[t]);
                failures++;
                return;
            }
        for (int t = 0; t < 8; t++)
            if (p.nested_sum[t] != 55) {
                fprintf(stderr, "MISMATCH pool nested sum=%d want 55\n", p.nested_sum[t]);
                failures++;
                return;
            }
    }
    // Two application threads calling kernels at once must serialize, not corrupt each other.
    enum { M = 9, N = 700, K = 600 };
    int8_t *a = malloc(M * K), *w = malloc(N * K);
    int32_t *want = malloc(sizeof(int32_t) * M * N);
    fill(a, M * K, FILL_RANDOM);
    fill(w, N * K, FILL_RANDOM);
    rk_q8_gemm_ref(a, M, K, w, N, K, K, want, N);
    concurrent_ctx c[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        c[i] = (concurrent_ctx){rk_q8_pack(w, N, K, K, RK_ISA_AUTO), a, want, M, N, K, 0};
        pthread_create(&th[i], NULL, concurrent_caller, &c[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (c[i].bad) {
            fprintf(stderr, "MISMATCH pool concurrent callers corrupted results\n");
            failures++;
        }
        rk_q8_free(c[i].w);
    }
    free(a), free(w), free(want);
    if (!failures) printf("threadpool ok (%d threads, nested + concurrent callers)\n", threads);
}

// MARK: - Main

static rk_isa isa_by_name(const char *name) {
    for (int i = 0; i < RK_ISA_COUNT; i++)
        if (strcmp(rk_isa_name((rk_isa)i), name) == 0) return (rk_isa)i;
    return RK_ISA_COUNT;
}

int main(int argc, char **argv) {
    const char *expect = NULL, *require = NULL;
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc) expect = argv[++i];
        else if (strcmp(argv[i], "--require") == 0 && i + 1 < argc) require = argv[++i];
        else if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else {
            fprintf(stderr, "usage: %s [--expect ISA] [--require isa,isa,...] [--quick]\n", argv[0]);
            return 2;
        }
    }
    const int threads = rk_num_threads() > 2 ? rk_num_threads() : 2;
    printf("cpu paths:");
    for (int i = 1; i < RK_ISA_COUNT; i++)
        if (rk_isa_supported((rk_isa)i)) printf(" %s", rk_isa_name((rk_isa)i));
    printf("; best = %s\n", rk_isa_name(rk_isa_best()));

    if (expect && strcmp(expect, rk_isa_name(rk_isa_best())) != 0) {
        fprintf(stderr, "FAIL: expected best path %s, got %s\n", expect, rk_isa_name(rk_isa_best()));
        return 1;
    }
    if (require) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", require);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            const rk_isa isa = isa_by_name(tok);
            if (isa == RK_ISA_COUNT || !rk_isa_supported(isa)) {
                fprintf(stderr, "FAIL: required path %s is not supported here\n", tok);
                return 1;
            }
        }
    }
    // Unsupported paths must refuse to pack.
    for (int i = 1; i < RK_ISA_COUNT; i++) {
        int8_t w1[4] = {1, 2, 3, 4};
        rk_q8_weights *pw = rk_q8_pack(w1, 1, 4, 4, (rk_isa)i);
        if (!rk_isa_supported((rk_isa)i) && pw) {
            fprintf(stderr, "FAIL: unsupported path %s packed weights\n", rk_isa_name((rk_isa)i));
            return 1;
        }
        rk_q8_free(pw);
    }

    for (int i = 1; i < RK_ISA_COUNT && !failures; i++)
        if (rk_isa_supported((rk_isa)i)) check_path((rk_isa)i, threads, quick);
    if (!failures) check_quantize();
    if (!failures) check_pool(threads);
    if (failures) {
        fprintf(stderr, "FAIL (%d mismatching checks)\n", failures);
        return 1;
    }
    printf("all ok\n");
    return 0;
}
