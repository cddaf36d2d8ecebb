// Benchmark for the CKernels int8 GEMM / GEMV against OpenBLAS sgemm on the same shapes, plus the
// memory bandwidth probes. Prints medians of repeated runs (the machine may be shared and noisy).
//
// build: cc -O2 -I Sources/CKernels/include Sources/CKernels/*.c Tests/CKernelsHarness/q8_bench.c \
//          -o q8_bench -lopenblas -lpthread -lm
// usage: q8_bench [--m 1,64,256,512] [--shape KxN]... [--isa avx2,avx512vnni] [--no-sgemm]
//                 [--i32] [--dynamic] [--seconds 0.4] [--stat median|min] [--no-bw]
//   --dynamic: quantize the f32 activations (rk_quantize_rows_q8) inside every timed call, like a
//              dynamic int8 Linear layer.
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ckernels.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double min_seconds = 0.4;
static int use_min; // --stat min: best run instead of the median (for tuning on a busy machine)

/// Median wall time of fn(ctx) over repeats (one warm-up, at least 5 runs, about min_seconds total).
static double median_time(void (*fn)(void *), void *ctx) {
    double times[201];
    int n = 0;
    fn(ctx);
    const double start = now_s();
    while (n < 201 && (n < 5 || now_s() - start < min_seconds)) {
        const double t0 = now_s();
        fn(ctx);
        times[n++] = now_s() - t0;
    }
    qsort(times, (size_t)n, sizeof times[0], cmp_double);
    return use_min ? times[0] : times[n / 2];
}

enum { ROUNDS = 5 }; // GEMV / probe alternations

static double median(const double *v, int n) {
    double t[64];
    memcpy(t, v, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    return t[n / 2];
}

typedef struct {
    int m, n, k, i32, dynamic;
    const int8_t *a;
    const float *as, *ws, *bias;
    rk_q8_weights *w;
    float *y;
    int32_t *c;
    const float *af, *wf;
    const void *buf;
    size_t bytes;
} bench_ctx;

static void run_q8(void *p) {
    bench_ctx *b = p;
    if (b->dynamic) rk_quantize_rows_q8(b->af, b->m, b->k, b->k, (int8_t *)b->a, b->k, (float *)b->as);
    if (b->i32) rk_q8_gemm_i32(b->w, b->a, b->m, b->k, b->c, b->n);
    else rk_q8_gemm_f32(b->w, b->a, b->m, b->k, b->as, b->ws, b->bias, b->y, b->n);
}

static void run_sgemm(void *p) {
    bench_ctx *b = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b->m, b->n, b->k, 1.0f, b->af, b->k, b->wf,
                b->k, 0.0f, b->y, b->n);
}

static volatile uint64_t sink;
static void run_read(void *p) {
    bench_ctx *b = p;
    sink += rk_parallel_read(b->buf, b->bytes);
}

static int parse_list(const char *s, int *out, int max) {
    int n = 0;
    while (*s && n < max) {
        out[n++] = atoi(s);
        const char *c = strchr(s, ',');
        if (!c) break;
        s = c + 1;
    }
    return n;
}

/// Read bandwidth (GB/s) of all pool threads over a buffer of `bytes`.
static double read_bandwidth(size_t bytes) {
    unsigned char *buf = rk_alloc(bytes);
    memset(buf, 1, bytes);
    bench_ctx b = {.buf = buf, .bytes = bytes};
    double t = median_time(run_read, &b);
    rk_free(buf);
    return (double)bytes / t * 1e-9;
}

int main(int argc, char **argv) {
    int ms[8] = {1, 64, 256, 512}, nm = 4;
    int shapes[16][2] = {{896, 896},   {896, 4864},   {4864, 896},  {896, 151936},
                         {4096, 4096}, {4096, 11008}, {11008, 4096}};
    int nshapes = 7, custom_shapes = 0, sgemm = 1, i32 = 0, bw = 1, dynamic = 0;
    rk_isa isas[8] = {RK_ISA_AVX2, RK_ISA_AVX512VNNI};
    int nisa = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--m") && i + 1 < argc) nm = parse_list(argv[++i], ms, 8);
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc && nshapes < 16) {
            if (!custom_shapes) nshapes = 0, custom_shapes = 1;
            sscanf(argv[++i], "%dx%d", &shapes[nshapes][0], &shapes[nshapes][1]);
            nshapes++;
        } else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
            nisa = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", argv[++i]);
            for (char *t = strtok(buf, ","); t && nisa < 8; t = strtok(NULL, ","))
                for (int j = 1; j < RK_ISA_COUNT; j++)
                    if (!strcmp(t, rk_isa_name((rk_isa)j))) isas[nisa++] = (rk_isa)j;
        } else if (!strcmp(argv[i], "--no-sgemm")) sgemm = 0;
        else if (!strcmp(argv[i], "--i32")) i32 = 1;
        else if (!strcmp(argv[i], "--no-bw")) bw = 0;
        else if (!strcmp(argv[i], "--dynamic")) dynamic = 1;
        else if (!strcmp(argv[i], "--stat") && i + 1 < argc) use_min = !strcmp(argv[++i], "min");
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) min_seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    // Debian's OpenBLAS 0.3.21 does not know this CPU generation and falls back to the generic
    // "Prescott" kernels (~5x slower); compare against its best kernel set instead.
    if (sgemm && !getenv("OPENBLAS_CORETYPE") && !strcmp(openblas_get_corename(), "Prescott") &&
        rk_isa_supported(RK_ISA_AVX512VNNI)) {
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
        execv("/proc/self/exe", argv);
    }
    const int threads = rk_num_threads();
    openblas_set_num_threads(threads);
    printf("OpenBLAS: %s\n", openblas_get_config());
    printf("threads %d, best path %s, int8 output %s%s\n", threads, rk_isa_name(rk_isa_best()),
           i32 ? "int32" : "f32 (fused dequant)",
           dynamic ? ", activations quantized from f32 in every call" : "");
    if (bw)
        printf("memory read bandwidth (rk_parallel_read, 2 GiB buffer): %.1f GB/s\n",
               read_bandwidth((size_t)2 << 30));
    printf("timing: %s of repeats\n\n", use_min ? "best" : "median");

    printf("%-12s %5s %9s", "KxN", "M", "sgemm");
    for (int i = 0; i < nisa; i++) printf(" %11s", rk_isa_name(isas[i]));
    printf("   (GOP/s; for M=1: GB/s of packed weights, read-probe GB/s on the same size)\n");

    for (int s = 0; s < nshapes; s++) {
        const int k = shapes[s][0], n = shapes[s][1];
        int mmax = 1;
        for (int i = 0; i < nm; i++) mmax = ms[i] > mmax ? ms[i] : mmax;
        int8_t *a = rk_alloc((size_t)mmax * k), *w = rk_alloc((size_t)n * k);
        float *af = rk_alloc(sizeof(float) * (size_t)mmax * k);
        float *wf = sgemm ? rk_alloc(sizeof(float) * (size_t)n * k) : NULL;
        float *y = rk_alloc(sizeof(float) * (size_t)mmax * n);
        int32_t *c = rk_alloc(sizeof(int32_t) * (size_t)mmax * n);
        float *as = rk_alloc(sizeof(float) * (size_t)mmax), *ws = rk_alloc(sizeof(float) * (size_t)n);
        float *bias = rk_alloc(sizeof(float) * (size_t)n);
        uint32_t r = 12345;
        for (size_t i = 0; i < (size_t)mmax * k; i++) {
            r = r * 1664525u + 1013904223u;
            a[i] = (int8_t)(((int)(r >> 24) - 128) % 128);
            af[i] = a[i] * 0.01f;
        }
        for (size_t i = 0; i < (size_t)n * k; i++) {
            r = r * 1664525u + 1013904223u;
            w[i] = (int8_t)(((int)(r >> 24) - 128) % 128);
            if (wf) wf[i] = w[i] * 0.01f;
        }
        for (int i = 0; i < mmax; i++) as[i] = 0.01f;
        for (int i = 0; i < n; i++) ws[i] = 0.01f, bias[i] = 0.5f;
        rk_q8_weights *pw[8];
        for (int i = 0; i < nisa; i++) pw[i] = rk_q8_pack(w, n, k, k, isas[i]);

        for (int mi = 0; mi < nm; mi++) {
            const int m = ms[mi];
            const double ops = 2.0 * m * n * k;
            bench_ctx b = {.m = m, .n = n, .k = k, .i32 = i32, .dynamic = dynamic, .a = a, .as = as, .ws = ws,
                           .bias = bias, .y = y, .c = c, .af = af, .wf = wf};
            char label[32];
            snprintf(label, sizeof label, "%dx%d", k, n);
            printf("%-12s %5d", label, m);
            if (sgemm && wf) printf(" %9.1f", ops / median_time(run_sgemm, &b) * 1e-9);
            else printf(" %9s", "-");
            // GEMV is compared with the read probe on a buffer of the same size, measured in
            // alternation (bandwidth on a shared host drifts from second to second).
            unsigned char *probe = m == 1 && bw ? rk_alloc((size_t)n * k) : NULL;
            if (probe) memset(probe, 1, (size_t)n * k);
            bench_ctx pb = {.buf = probe, .bytes = (size_t)n * k};
            double best_ratio = 0, probe_gbs[ROUNDS], gbs[8][ROUNDS];
            const int rounds = m == 1 ? ROUNDS : 1;
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < nisa; i++) {
                    if (!pw[i]) continue;
                    b.w = pw[i];
                    gbs[i][r] = (m == 1 ? (double)pw[i]->bytes : ops) / median_time(run_q8, &b) * 1e-9;
                }
                if (probe) probe_gbs[r] = (double)pb.bytes / median_time(run_read, &pb) * 1e-9;
            }
            for (int i = 0; i < nisa; i++) {
                if (!pw[i]) {
                    printf(" %11s", "n/a");
                    continue;
                }
                const double v = median(gbs[i], rounds);
                if (m == 1) printf(" %7.1fGB/s", v);
                else printf(" %11.1f", v);
                if (probe) best_ratio = v / median(probe_gbs, rounds);
            }
            if (probe) {
                printf("   read-probe %.1f GB/s (last path at %.0f%%)", median(probe_gbs, rounds),
                       100 * best_ratio);
                rk_free(probe);
            }
            printf("\n");
            fflush(stdout);
        }
        for (int i = 0; i < nisa; i++) rk_q8_free(pw[i]);
        rk_free(a), rk_free(w), rk_free(af), rk_free(wf), rk_free(y), rk_free(c);
        rk_free(as), rk_free(ws), rk_free(bias);
    }
    return 0;
}
