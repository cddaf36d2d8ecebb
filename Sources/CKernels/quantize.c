// Dynamic per-row symmetric int8 quantization of activations (the A side of the int8 GEMM).
// Plain C written so that clang auto-vectorizes both passes for the build target's baseline ISA.
#include <math.h>
#include <string.h>

#include "include/ckernels.h"

/// max |x[i]| of one row. Compares the IEEE bit patterns of |x| as integers (monotonic for
/// non-NaN values), which vectorizes without fast-math.
static float row_absmax(const float *x, int n) {
    uint32_t m = 0;
    for (int i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &x[i], sizeof b);
        b &= 0x7fffffffu;
        m = b > m ? b : m;
    }
    float r;
    memcpy(&r, &m, sizeof r);
    return r;
}

/// Round to nearest, ties to even, for |v| < 2^22 in the default rounding mode: adding 1.5 * 2^23
/// leaves no fraction bits, so the FPU's own round-to-nearest-even does the work (vectorizable, unlike
/// a nearbyintf libcall on baseline x86-64). Fast-math would fold it away, so fall back there.
static inline float round_even(float v) {
#if defined(__FAST_MATH__)
    return nearbyintf(v);
#else
    const float magic = 12582912.0f; // 1.5 * 2^23
    return (v + magic) - magic;
#endif
}

static void quantize_rows(const float *x, int rows, int cols, int ldx, int8_t *q, int ldq,
                          float *scale) {
    for (int r = 0; r < rows; r++) {
        const float *restrict xr = x + (ptrdiff_t)r * ldx;
        int8_t *restrict qr = q + (ptrdiff_t)r * ldq;
        const float amax = row_absmax(xr, cols);
        float s = amax / 127.0f;
        if (!(s > 0.0f) || s > 3.0e38f) s = 1.0f; // all zero (or underflow / inf / NaN): 1
        scale[r] = s;
        for (int i = 0; i < cols; i++) {
            int32_t v = (int32_t)round_even(xr[i] / s);
            v = v > 127 ? 127 : v;
            v = v < -127 ? -127 : v;
            qr[i] = (int8_t)v;
        }
    }
}

typedef struct {
    const float *x;
    int8_t *q;
    float *scale;
    int rows, cols, ldx, ldq, chunks;
} quantize_ctx;

static void quantize_task(void *ctx, int chunk) {
    const quantize_ctx *c = ctx;
    const int r0 = (int)((long)c->rows * chunk / c->chunks);
    const int r1 = (int)((long)c->rows * (chunk + 1) / c->chunks);
    quantize_rows(c->x + (ptrdiff_t)r0 * c->ldx, r1 - r0, c->cols, c->ldx,
                  c->q + (ptrdiff_t)r0 * c->ldq, c->ldq, c->scale + r0);
}

/// Dynamic per-row symmetric quantization: scale[r] = max|x[r]| / 127 (1 when the row is all zero),
/// q = round-to-nearest-even(x / scale) clamped to [-127, 127]. Large inputs are split by rows
/// across the thread pool.
void rk_quantize_rows_q8(const float *x, int rows, int cols, int ldx, int8_t *q, int ldq,
                         float *scale) {
    if (rows <= 0 || cols <= 0) return;
    if (rows < 2 || (long)rows * cols < (1L << 15)) {
        quantize_rows(x, rows, cols, ldx, q, ldq, scale);
        return;
    }
    const int threads = rk_num_threads();
    quantize_ctx c = {x, q, scale, rows, cols, ldx, ldq, rows < 4 * threads ? rows : 4 * threads};
    rk_parallel_for(c.chunks, quantize_task, &c);
}

/// Index of the first element equal to `value` in p[0..n), or -1. Scans 64-byte blocks with a
/// branch-free inner loop (vectorized by the compiler) and only looks closer at a block that hits.
ptrdiff_t rk_find_i8(const int8_t *p, size_t n, int8_t value) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        int hit = 0;
        for (int j = 0; j < 64; j++) hit |= (p[i + j] == value);
        if (hit) break;
    }
    for (; i < n; i++)
        if (p[i] == value) return (ptrdiff_t)i;
    return -1;
}
