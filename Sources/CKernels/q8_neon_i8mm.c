// AArch64 i8mm int8 micro-kernel (smmla, ARMv8.6-A / optional from v8.2, e.g. Neoverse V1/N2,
// Cortex-A710+).
//
// smmla multiplies a 2 x 8 block of A by a 2 x 8 block of W (transposed) into a 2 x 2 int32 block.
// Layouts: A [kc/8][8 rows][8] (each 16-byte vector = rows 2p, 2p+1 x 8 K values), W [kc/8][8
// channels][8] (vector q = channels 2q, 2q+1). Tile 8 x 8 = 4 x 4 blocks in 16 accumulators,
// templated on the number of row pairs; the 2 x 2 blocks are split into rows at the end.
#if defined(__aarch64__)

#include <arm_neon.h>

#include "q8_internal.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("arch=armv8.6-a+i8mm"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("arch=armv8.6-a+i8mm")
#endif

enum { MR = 8, NR = 8, KG = 8, A_STEP = MR * KG, W_STEP = NR * KG };

#define PAIR(p)                                                                                    \
    if (P > p) {                                                                                   \
        const int8x16_t a##p = vld1q_s8(a + 16 * p);                                               \
        c##p##0 = vmmlaq_s32(c##p##0, a##p, b0);                                                   \
        c##p##1 = vmmlaq_s32(c##p##1, a##p, b1);                                                   \
        c##p##2 = vmmlaq_s32(c##p##2, a##p, b2);                                                   \
        c##p##3 = vmmlaq_s32(c##p##3, a##p, b3);                                                   \
    }
#define ZERO4(p)                                                                                   \
    int32x4_t c##p##0 = vdupq_n_s32(0), c##p##1 = c##p##0, c##p##2 = c##p##0, c##p##3 = c##p##0;
#define SPLIT1(p, q)                                                                               \
    vst1_s32(out[2 * p] + 2 * q, vget_low_s32(c##p##q));                                           \
    vst1_s32(out[2 * p + 1] + 2 * q, vget_high_s32(c##p##q));
#define SPLIT(p)                                                                                   \
    if (P > p) {                                                                                   \
        SPLIT1(p, 0) SPLIT1(p, 1) SPLIT1(p, 2) SPLIT1(p, 3)                                        \
    }

/// 2P x 8 tile, P in 1..4 row pairs.
RK_INLINE void kernel(const rk_q8_tile *t, const int P) {
    ZERO4(0) ZERO4(1) ZERO4(2) ZERO4(3)
    const int8_t *a = (const int8_t *)t->a;
    const int8_t *w = t->w;
    for (int g = t->kc / KG; g > 0; g--, a += A_STEP, w += W_STEP) {
        const int8x16_t b0 = vld1q_s8(w), b1 = vld1q_s8(w + 16), b2 = vld1q_s8(w + 32),
                        b3 = vld1q_s8(w + 48);
        PAIR(0) PAIR(1) PAIR(2) PAIR(3)
    }
    int32_t out[MR][NR];
    SPLIT(0) SPLIT(1) SPLIT(2) SPLIT(3)
    rk_q8_tile_epilogue(t, &out[0][0], NR);
}

/// One row pair (GEMV and M = 2): two K groups per iteration, 8 independent accumulators.
RK_INLINE void kernel_p1(const rk_q8_tile *t) {
    ZERO4(0) ZERO4(1)
    const int8_t *a = (const int8_t *)t->a;
    const int8_t *w = t->w;
    int g = t->kc / KG;
    for (; g >= 2; g -= 2, a += 2 * A_STEP, w += 2 * W_STEP) {
        const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + A_STEP);
        c00 = vmmlaq_s32(c00, a0, vld1q_s8(w));
        c01 = vmmlaq_s32(c01, a0, vld1q_s8(w + 16));
        c02 = vmmlaq_s32(c02, a0, vld1q_s8(w + 32));
        c03 = vmmlaq_s32(c03, a0, vld1q_s8(w + 48));
        c10 = vmmlaq_s32(c10, a1, vld1q_s8(w + W_STEP));
        c11 = vmmlaq_s32(c11, a1, vld1q_s8(w + W_STEP + 16));
        c12 = vmmlaq_s32(c12, a1, vld1q_s8(w + W_STEP + 32));
        c13 = vmmlaq_s32(c13, a1, vld1q_s8(w + W_STEP + 48));
    }
    if (g) {
        const int8x16_t a0 = vld1q_s8(a);
        c00 = vmmlaq_s32(c00, a0, vld1q_s8(w));
        c01 = vmmlaq_s32(c01, a0, vld1q_s8(w + 16));
        c02 = vmmlaq_s32(c02, a0, vld1q_s8(w + 32));
        c03 = vmmlaq_s32(c03, a0, vld1q_s8(w + 48));
    }
    c00 = vaddq_s32(c00, c10);
    c01 = vaddq_s32(c01, c11);
    c02 = vaddq_s32(c02, c12);
    c03 = vaddq_s32(c03, c13);
    int32_t out[2][NR];
    SPLIT1(0, 0) SPLIT1(0, 1) SPLIT1(0, 2) SPLIT1(0, 3)
    rk_q8_tile_epilogue(t, &out[0][0], NR);
}

static void tile_p1(const rk_q8_tile *t) { kernel_p1(t); }
static void tile_p2(const rk_q8_tile *t) { kernel(t, 2); }
static void tile_p3(const rk_q8_tile *t) { kernel(t, 3); }
static void tile_p4(const rk_q8_tile *t) { kernel(t, 4); }

static void i8mm_tile(const rk_q8_tile *t) {
    static void (*const tiles[MR / 2])(const rk_q8_tile *) = {tile_p1, tile_p2, tile_p3, tile_p4};
    tiles[(t->mr + 1) / 2 - 1](t);
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

const rk_q8_impl rk_q8_impl_neon_i8mm = {
    .isa = RK_ISA_NEON_I8MM, .mr = MR, .nr = NR, .kg = KG, .kc_min = 256,
    .cache_bytes = 256 << 10, .a_xor = 0,
    .tile = i8mm_tile,
};

#endif
