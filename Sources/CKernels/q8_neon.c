// Plain Advanced SIMD int8 micro-kernel (smull / smlal2 / sadalp), for AArch64 cores without
// dotprod (e.g. Cortex-A72).
//
// Layouts: A [kc/16][4 rows][16], W [kc/16][4 channels][16]. For each (row, channel) an int32x4
// accumulator collects 16 products per step: smull + smlal2 pair products into int16 (a pair sum is
// at most 2 * 127 * 127 = 32258, no overflow), sadalp widens pairwise into int32. Rows are reduced
// with addp at the end. Tile 4 x 4, templated on the number of valid rows.
#if defined(__aarch64__)

#include <arm_neon.h>

#include "q8_internal.h"

enum { MR = 4, NR = 4, KG = 16, A_STEP = MR * KG, W_STEP = NR * KG };

/// acc (4 partial sums) += the 16 products a[t] * w[t].
RK_INLINE int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t w) {
    int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(w));
    p = vmlal_high_s8(p, a, w);
    return vpadalq_s16(acc, p);
}

#define ROW(i)                                                                                     \
    if (R > i) {                                                                                   \
        const int8x16_t a##i = vld1q_s8(a + KG * i);                                               \
        c##i##0 = dot16(c##i##0, a##i, b0);                                                        \
        c##i##1 = dot16(c##i##1, a##i, b1);                                                        \
        c##i##2 = dot16(c##i##2, a##i, b2);                                                        \
        c##i##3 = dot16(c##i##3, a##i, b3);                                                        \
    }
#define ZERO4(i)                                                                                   \
    int32x4_t c##i##0 = vdupq_n_s32(0), c##i##1 = c##i##0, c##i##2 = c##i##0, c##i##3 = c##i##0;
#define REDUCE(i)                                                                                  \
    if (R > i)                                                                                     \
        vst1q_s32(out[i], vpaddq_s32(vpaddq_s32(c##i##0, c##i##1), vpaddq_s32(c##i##2, c##i##3)));

/// R x 4 tile, R in 1..4.
RK_INLINE void kernel(const rk_q8_tile *t, const int R) {
    ZERO4(0) ZERO4(1) ZERO4(2) ZERO4(3)
    const int8_t *a = (const int8_t *)t->a;
    const int8_t *w = t->w;
    for (int g = t->kc / KG; g > 0; g--, a += A_STEP, w += W_STEP) {
        const int8x16_t b0 = vld1q_s8(w), b1 = vld1q_s8(w + 16), b2 = vld1q_s8(w + 32),
                        b3 = vld1q_s8(w + 48);
        ROW(0) ROW(1) ROW(2) ROW(3)
    }
    int32_t out[MR][NR];
    REDUCE(0) REDUCE(1) REDUCE(2) REDUCE(3)
    rk_q8_tile_epilogue(t, &out[0][0], NR);
}

static void tile_1(const rk_q8_tile *t) { kernel(t, 1); }
static void tile_2(const rk_q8_tile *t) { kernel(t, 2); }
static void tile_3(const rk_q8_tile *t) { kernel(t, 3); }
static void tile_4(const rk_q8_tile *t) { kernel(t, 4); }

static void neon_tile(const rk_q8_tile *t) {
    static void (*const tiles[MR])(const rk_q8_tile *) = {tile_1, tile_2, tile_3, tile_4};
    tiles[t->mr - 1](t);
}

const rk_q8_impl rk_q8_impl_neon = {
    .isa = RK_ISA_NEON, .mr = MR, .nr = NR, .kg = KG, .kc_min = 256, .cache_bytes = 256 << 10,
    .a_xor = 0, .tile = neon_tile,
};

#endif
