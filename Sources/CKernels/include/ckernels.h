// CKernels: ISA-specific hot loops for Reflex.
//
// Portable scalar reference first (q8_ref.c); one micro-kernel file per ISA (q8_avx2.c,
// q8_avx512vnni.c, q8_neon.c, q8_neon_dotprod.c, q8_neon_i8mm.c) behind one shared driver
// (q8_gemm.c, q8_pack.c); runtime CPU feature detection and dispatch in cpu.c; a small thread
// pool in threadpool.c. Every ISA path is tested against the reference.
#ifndef REFLEX_CKERNELS_H
#define REFLEX_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - CPU features and kernel paths

/// Kernel paths. A path is usable only when `rk_isa_supported` says so.
typedef enum {
    RK_ISA_AUTO = 0,        ///< let dispatch pick the best supported path
    RK_ISA_SCALAR = 1,      ///< portable C reference
    RK_ISA_AVX2 = 2,        ///< x86 AVX2: vpmaddubsw / vpmaddwd
    RK_ISA_AVX512VNNI = 3,  ///< x86 AVX-512 VNNI: vpdpbusd
    RK_ISA_NEON = 4,        ///< aarch64 Advanced SIMD: smull / sadalp
    RK_ISA_NEON_DOTPROD = 5,///< aarch64 dotprod: sdot
    RK_ISA_NEON_I8MM = 6,   ///< aarch64 i8mm: smmla
    RK_ISA_COUNT = 7
} rk_isa;

/// Stable lowercase name of a path ("scalar", "avx2", "avx512vnni", "neon", "dotprod", "i8mm").
const char *rk_isa_name(rk_isa isa);
/// 1 when this CPU (and this build) can execute the path, else 0. RK_ISA_AUTO is always 1.
int rk_isa_supported(rk_isa isa);
/// The best supported path (what RK_ISA_AUTO resolves to).
rk_isa rk_isa_best(void);

// MARK: - Thread pool

/// Number of worker threads used by parallel kernels: REFLEX_THREADS if set (>=1), else the CPUs
/// available to this process (sched_getaffinity).
int rk_num_threads(void);
/// Overrides the thread count for subsequent calls (n >= 1). Not thread-safe with running kernels.
void rk_set_num_threads(int n);

/// Moves the calling thread to SCHED_OTHER and raises its nice value by `nice_increment` (Linux: both are
/// per-thread). Threads it creates afterwards — the pool's workers, when its first parallel call comes
/// from this thread — inherit both. Returns 0, or an errno value.
int rk_lower_thread_priority(int nice_increment);
/// Runs fn(ctx, task) for task in [0, ntasks) across the pool; returns when all are done.
/// Calls from inside a task run serially on the calling thread.
typedef void (*rk_task_fn)(void *ctx, int task);
void rk_parallel_for(int ntasks, rk_task_fn fn, void *ctx);

// MARK: - int8 GEMM / GEMV
//
// Math: C[m][n] = sum_k A[m][k] * W[n][k], exact in int32.
// A: activations, int8 in [-127, 127], row-major M x K with row stride lda.
// W: weights, int8 in [-127, 127], one row per output channel (N x K, row-major), packed
//    once by rk_q8_pack into the layout that `isa` wants.
// Values of -128 are not allowed in A or W (symmetric quantization never produces them);
// the AVX2 path relies on it.

/// Weights packed for one kernel path. Opaque layout; owned by the caller through
/// rk_q8_pack / rk_q8_free.
typedef struct rk_q8_weights {
    int n, k;           ///< logical shape (N output channels, K inputs)
    int n_pad, k_pad;   ///< padded sizes used by the layout
    rk_isa isa;         ///< the resolved path this packing is for (never RK_ISA_AUTO)
    int8_t *data;       ///< packed bytes (64-byte aligned)
    int32_t *row_sum;   ///< sum_k W[n][k] per output channel (n_pad entries)
    size_t bytes;       ///< size of data
} rk_q8_weights;

/// Packs row-major int8 weights (N x K, stride ldw) for `isa` (AUTO → best). Returns NULL when the
/// path is unsupported or allocation fails.
rk_q8_weights *rk_q8_pack(const int8_t *w, int n, int k, int ldw, rk_isa isa);
void rk_q8_free(rk_q8_weights *w);

/// Exact int32 product: C (M x N, stride ldc) = A · Wᵀ. Uses the path the weights were packed for.
void rk_q8_gemm_i32(const rk_q8_weights *w, const int8_t *a, int m, int lda,
                    int32_t *c, int ldc);

/// Dequantizing product: Y[m][n] = (float)(A·Wᵀ)[m][n] * a_scale[m] * w_scale[n] + (bias ? bias[n] : 0).
/// Y is M x N with row stride ldy. Same integer core as rk_q8_gemm_i32 (fused epilogue).
void rk_q8_gemm_f32(const rk_q8_weights *w, const int8_t *a, int m, int lda,
                    const float *a_scale, const float *w_scale, const float *bias,
                    float *y, int ldy);

/// Reference: plain int32 loops over unpacked W (N x K, stride ldw). For tests.
void rk_q8_gemm_ref(const int8_t *a, int m, int lda, const int8_t *w, int n, int ldw, int k,
                    int32_t *c, int ldc);

/// Dynamic per-row symmetric quantization: scale[r] = max|x[r]| / 127 (1 when the row is all
/// zero), q = round-to-nearest-even(x / scale) clamped to [-127, 127].
void rk_quantize_rows_q8(const float *x, int rows, int cols, int ldx,
                         int8_t *q, int ldq, float *scale);

/// Index of the first element equal to `value` in p[0..n), or -1 (validates int8 weights read from
/// files: symmetric quantization never produces -128).
ptrdiff_t rk_find_i8(const int8_t *p, size_t n, int8_t value);

// MARK: - Memory bandwidth probes (for benchmarks)

/// Copies `bytes` from src to dst with all pool threads; returns nothing (time it outside).
void rk_parallel_memcpy(void *dst, const void *src, size_t bytes);
/// Reads `bytes` with all pool threads and returns a checksum (prevents dead-code elimination).
uint64_t rk_parallel_read(const void *src, size_t bytes);

// MARK: - Aligned allocation

/// 64-byte aligned allocation (NULL on failure); free with rk_free.
void *rk_alloc(size_t bytes);
void rk_free(void *p);
/// Returns free heap memory to the system (between model layers while loading).
void rk_release_free_memory(void);

#ifdef __cplusplus
}
#endif
#endif
