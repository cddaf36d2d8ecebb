// AVX2 int8 micro-kernel (vpmaddubsw + vpmaddwd).
//
// vpmaddubsw multiplies unsigned by signed bytes and saturates pairwise sums to int16, so the signs
// are moved onto one operand: |a| (vpabsb) is the unsigned operand and sign(w, a) (vpsignb) the
// signed one; |a| * sign(w, a) = a * w exactly, and a pair sum is at most 2 * 127 * 127 = 32258, so
// nothing saturates (this is why -128 is not allowed). vpmaddwd with ones widens pairs to int32.
// Layouts: A [kc/4][4 rows][4], W [kc/4][16 channels][4] (two ymm per K group); tile 4 x 16.
#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#include "q8_internal.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2")
#endif

enum { MR = 4, NR = 16, KG = 4, A_STEP = MR * KG, W_STEP = NR * KG, W_AHEAD = 4096 };

RK_INLINE __m256i bcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

RK_INLINE __m256i ld(const int8_t *p) {
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/// acc += a · w over one K group of 4, per int32 lane (one channel).
RK_INLINE __m256i madd(__m256i acc, __m256i abs_a, __m256i a, __m256i w, __m256i ones) {
    const __m256i p16 = _mm256_maddubs_epi16(abs_a, _mm256_sign_epi8(w, a));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, ones));
}

/// Lanes [0, count) set (count may be ≤ 0 or ≥ 8).
RK_INLINE __m256i lane_mask(int count) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), iota);
}

/// Accumulate / correct / dequantize / store one output row (up to 16 columns, masked tails).
RK_INLINE void epi_row(const rk_q8_tile *t, int i, __m256i r0, __m256i r1) {
    const rk_q8_out *o = t->out;
    const int m = t->m0 + i, n0 = t->n0;
    const __m256i m0 = lane_mask(t->nr), m1 = lane_mask(t->nr - 8);
    int32_t *c = o->c + (ptrdiff_t)m * o->ldc + n0;
    if (t->accumulate) {
        r0 = _mm256_add_epi32(r0, _mm256_maskload_epi32(c, m0));
        r1 = _mm256_add_epi32(r1, _mm256_maskload_epi32(c + 8, m1));
    }
    if (t->finish) {
        const __m256i off = _mm256_set1_epi32(o->a_offset);
        const __m256i rs0 = _mm256_maskload_epi32(o->row_sum + n0, m0);
        const __m256i rs1 = _mm256_maskload_epi32(o->row_sum + n0 + 8, m1);
        r0 = _mm256_sub_epi32(r0, _mm256_mullo_epi32(off, rs0));
        r1 = _mm256_sub_epi32(r1, _mm256_mullo_epi32(off, rs1));
        if (o->y) {
            float *y = o->y + (ptrdiff_t)m * o->ldy + n0;
            const __m256 as = _mm256_set1_ps(o->a_scale[m]);
            __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(r0), as);
            __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(r1), as);
            f0 = _mm256_mul_ps(f0, _mm256_maskload_ps(o->w_scale + n0, m0));
            f1 = _mm256_mul_ps(f1, _mm256_maskload_ps(o->w_scale + n0 + 8, m1));
            if (o->bias) {
                f0 = _mm256_add_ps(f0, _mm256_maskload_ps(o->bias + n0, m0));
                f1 = _mm256_add_ps(f1, _mm256_maskload_ps(o->bias + n0 + 8, m1));
            }
            _mm256_maskstore_ps(y, m0, f0);
            _mm256_maskstore_ps(y + 8, m1, f1);
            return;
        }
    }
    _mm256_maskstore_epi32(c, m0, r0);
    _mm256_maskstore_epi32(c + 8, m1, r1);
}

#define ROW(i)                                                                                     \
    if (R > i) {                                                                                   \
        const __m256i a##i = bcast4(a + 4 * i), u##i = _mm256_abs_epi8(a##i);                      \
        c##i##0 = madd(c##i##0, u##i, a##i, b0, ones);                                             \
        c##i##1 = madd(c##i##1, u##i, a##i, b1, ones);                                             \
    }
#define ZERO2(i) __m256i c##i##0 = _mm256_setzero_si256(), c##i##1 = c##i##0;
#define EPI(i)                                                                                     \
    if (R > i) epi_row(t, i, c##i##0, c##i##1);

/// R x 16 register tile, R in 1..4.
RK_INLINE void kernel(const rk_q8_tile *t, const int R) {
    ZERO2(0) ZERO2(1) ZERO2(2) ZERO2(3)
    const __m256i ones = _mm256_set1_epi16(1);
    const uint8_t *a = t->a;
    const int8_t *w = t->w;
    for (int g = t->kc / KG; g > 0; g--, a += A_STEP, w += W_STEP) {
        const __m256i b0 = ld(w), b1 = ld(w + 32);
        ROW(0) ROW(1) ROW(2) ROW(3)
    }
    EPI(0) EPI(1) EPI(2) EPI(3)
}

/// One row (GEMV): two K groups per iteration, four independent accumulators, software prefetch
/// 4 KiB ahead of the weight stream.
RK_INLINE void kernel_m1(const rk_q8_tile *t) {
    ZERO2(0) ZERO2(1)
    const __m256i ones = _mm256_set1_epi16(1);
    const uint8_t *a = t->a;
    const int8_t *w = t->w;
    int g = t->kc / KG;
    for (; g >= 2; g -= 2, a += 2 * A_STEP, w += 2 * W_STEP) {
        _mm_prefetch((const char *)w + W_AHEAD, _MM_HINT_T0); // this loop has few loads in flight
        _mm_prefetch((const char *)w + W_AHEAD + 64, _MM_HINT_T0);
        const __m256i a0 = bcast4(a), u0 = _mm256_abs_epi8(a0);
        const __m256i a1 = bcast4(a + A_STEP), u1 = _mm256_abs_epi8(a1);
        c00 = madd(c00, u0, a0, ld(w), ones);
        c01 = madd(c01, u0, a0, ld(w + 32), ones);
        c10 = madd(c10, u1, a1, ld(w + W_STEP), ones);
        c11 = madd(c11, u1, a1, ld(w + W_STEP + 32), ones);
    }
    if (g) {
        const __m256i a0 = bcast4(a), u0 = _mm256_abs_epi8(a0);
        c00 = madd(c00, u0, a0, ld(w), ones);
        c01 = madd(c01, u0, a0, ld(w + 32), ones);
    }
    epi_row(t, 0, _mm256_add_epi32(c00, c10), _mm256_add_epi32(c01, c11));
}

static void tile_1(const rk_q8_tile *t) { kernel_m1(t); }
static void tile_2(const rk_q8_tile *t) { kernel(t, 2); }
static void tile_3(const rk_q8_tile *t) { kernel(t, 3); }
static void tile_4(const rk_q8_tile *t) { kernel(t, 4); }

static void avx2_tile(const rk_q8_tile *t) {
    static void (*const tiles[MR])(const rk_q8_tile *) = {tile_1, tile_2, tile_3, tile_4};
    tiles[t->mr - 1](t);
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

const rk_q8_impl rk_q8_impl_avx2 = {
    .isa = RK_ISA_AVX2, .mr = MR, .nr = NR, .kg = KG, .kc_min = 256, .cache_bytes = 1 << 20,
    .a_xor = 0, .tile = avx2_tile,
};

#endif
