// AArch64 dotprod int8 micro-kernel (sdot, ARMv8.2-A+dotprod, e.g. Cortex-A76 / A78 / X1).
//
// Layouts: A [kc/4][8 rows][4] (one 16-byte vector = 4 rows x 4 K values), W [kc/4][12 channels][4]
// (three vectors of 4 channels). sdot by lane multiplies a W vector by one row's 4-byte group:
// up to 8 x 3 = 24 int32x4 accumulators. One row (GEMV) broadcasts the row group instead and runs
// two K groups per iteration into 6 independent accumulators, streaming the weights once.
#if defined(__aarch64__)

#include <arm_neon.h>
#include <string.h>

#include "q8_internal.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("arch=armv8.2-a+dotprod"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif

enum { MR = 8, NR = 12, KG = 4, A_STEP = MR * KG, W_STEP = NR * KG };

#define LANE(i, av, lane)                                                                          \
    c##i##0 = vdotq_laneq_s32(c##i##0, b0, av, lane);                                              \
    c##i##1 = vdotq_laneq_s32(c##i##1, b1, av, lane);                                              \
    c##i##2 = vdotq_laneq_s32(c##i##2, b2, av, lane);
#define ZERO3(i) int32x4_t c##i##0 = vdupq_n_s32(0), c##i##1 = c##i##0, c##i##2 = c##i##0;
#define STORE(i)                                                                                   \
    vst1q_s32(out[i], c##i##0);                                                                    \
    vst1q_s32(out[i] + 4, c##i##1);                                                                \
    vst1q_s32(out[i] + 8, c##i##2);

/// 4 * H x 12 tile (H = 1: rows 0-3, H = 2: rows 0-7); rows past mr are zero padding.
RK_INLINE void kernel(const rk_q8_tile *t, const int H) {
    ZERO3(0) ZERO3(1) ZERO3(2) ZERO3(3) ZERO3(4) ZERO3(5) ZERO3(6) ZERO3(7)
    const int8_t *a = (const int8_t *)t->a;
    const int8_t *w = t->w;
    for (int g = t->kc / KG; g > 0; g--, a += A_STEP, w += W_STEP) {
        const int8x16_t b0 = vld1q_s8(w), b1 = vld1q_s8(w + 16), b2 = vld1q_s8(w + 32);
        const int8x16_t lo = vld1q_s8(a);
        LANE(0, lo, 0) LANE(1, lo, 1) LANE(2, lo, 2) LANE(3, lo, 3)
        if (H > 1) {
            const int8x16_t hi = vld1q_s8(a + 16);
            LANE(4, hi, 0) LANE(5, hi, 1) LANE(6, hi, 2) LANE(7, hi, 3)
        }
    }
    int32_t out[MR][NR];
    STORE(0) STORE(1) STORE(2) STORE(3)
    if (H > 1) {
        STORE(4) STORE(5) STORE(6) STORE(7)
    }
    rk_q8_tile_epilogue(t, &out[0][0], NR);
}

RK_INLINE int8x16_t bcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

/// One row (GEMV).
RK_INLINE void kernel_m1(const rk_q8_tile *t) {
    ZERO3(0) ZERO3(1)
    const uint8_t *a = t->a;
    const int8_t *w = t->w;
    int g = t->kc / KG;
    for (; g >= 2; g -= 2, a += 2 * A_STEP, w += 2 * W_STEP) {
        const int8x16_t a0 = bcast4(a), a1 = bcast4(a + A_STEP);
        c00 = vdotq_s32(c00, vld1q_s8(w), a0);
        c01 = vdotq_s32(c01, vld1q_s8(w + 16), a0);
        c02 = vdotq_s32(c02, vld1q_s8(w + 32), a0);
        c10 = vdotq_s32(c10, vld1q_s8(w + W_STEP), a1);
        c11 = vdotq_s32(c11, vld1q_s8(w + W_STEP + 16), a1);
        c12 = vdotq_s32(c12, vld1q_s8(w + W_STEP + 32), a1);
    }
    if (g) {
        const int8x16_t a0 = bcast4(a);
        c00 = vdotq_s32(c00, vld1q_s8(w), a0);
        c01 = vdotq_s32(c01, vld1q_s8(w + 16), a0);
        c02 = vdotq_s32(c02, vld1q_s8(w + 32), a0);
    }
    int32_t out[NR];
    vst1q_s32(out, vaddq_s32(c00, c10));
    vst1q_s32(out + 4, vaddq_s32(c01, c11));
    vst1q_s32(out + 8, vaddq_s32(c02, c12));
    rk_q8_tile_epilogue(t, out, NR);
}

static void tile_1(const rk_q8_tile *t) { kernel_m1(t); }
static void tile_4(const rk_q8_tile *t) { kernel(t, 1); }
static void tile_8(const rk_q8_tile *t) { kernel(t, 2); }

static void dotprod_tile(const rk_q8_tile *t) {
    if (t->mr == 1) tile_1(t);
    else if (t->mr <= 4) tile_4(t);
    else tile_8(t);
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

const rk_q8_impl rk_q8_impl_neon_dotprod = {
    .isa = RK_ISA_NEON_DOTPROD, .mr = MR, .nr = NR, .kg = KG, .kc_min = 256,
    .cache_bytes = 256 << 10, .a_xor = 0,
    .tile = dotprod_tile,
};

#endif
