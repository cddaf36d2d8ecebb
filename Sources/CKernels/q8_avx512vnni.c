// AVX-512 VNNI int8 micro-kernel (vpdpbusd, u8 x s8 → s32).
//
// A is packed as uint8 = a + 128 ([kc/4][6 rows][4]); W as int8 panels of 64 channels
// ([kc/4][64][4] = four zmm per K group). Each K group broadcasts 4 bytes of every A row and
// issues rows x 4 vpdpbusd into up to 6 x 4 = 24 zmm accumulators. The +128 offset is undone in
// the epilogue by subtracting 128 * row_sum[n] (exact in int32 wrap-around arithmetic, since the
// true result fits). The fused f32 epilogue converts, scales by a_scale[m] * w_scale[n], adds bias,
// and uses masked loads/stores for N tails. M = 1 (GEMV) uses a two-way K-unrolled variant with 8
// independent accumulators that streams the weights once.
#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#include "q8_internal.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vnni"))), \
                             apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vnni")
#endif

enum { MR = 6, NR = 64, KG = 4, A_STEP = MR * KG, W_STEP = NR * KG, W_AHEAD = 4 * W_STEP };

RK_INLINE __m512i bcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

RK_INLINE __m512i ld(const int8_t *p) { return _mm512_loadu_si512((const void *)p); }

#define DP(acc, a, b) acc = _mm512_dpbusd_epi32(acc, a, b)

// Per-tile epilogue constants: column masks, offset correction, channel scales and bias.
typedef struct {
    __mmask16 mask[4];
    __m512i corr[4];
    __m512 ws[4], bias[4];
} epi_consts;

RK_INLINE void epi_setup(const rk_q8_tile *t, const int V, epi_consts *e) {
    const rk_q8_out *o = t->out;
    const int tail = t->nr - 16 * (V - 1); // 1..16 columns in the last vector
    for (int v = 0; v < 4; v++) {
        e->mask[v] = v < V - 1 ? (__mmask16)0xffff : (__mmask16)((1u << tail) - 1);
        e->corr[v] = _mm512_setzero_si512();
        e->ws[v] = e->bias[v] = _mm512_setzero_ps();
    }
    if (!t->finish) return;
    for (int v = 0; v < V; v++) {
        const int n = t->n0 + 16 * v;
        const __m512i rs = _mm512_maskz_loadu_epi32(e->mask[v], o->row_sum + n);
        e->corr[v] = _mm512_mullo_epi32(rs, _mm512_set1_epi32(o->a_offset));
        if (o->y) {
            e->ws[v] = _mm512_maskz_loadu_ps(e->mask[v], o->w_scale + n);
            if (o->bias) e->bias[v] = _mm512_maskz_loadu_ps(e->mask[v], o->bias + n);
        }
    }
}

/// Accumulate / correct / dequantize / store one output row of the tile.
RK_INLINE void epi_row(const rk_q8_tile *t, int i, const int V, __m512i r[4], const epi_consts *e) {
    const rk_q8_out *o = t->out;
    const int m = t->m0 + i;
    int32_t *c = o->c + (ptrdiff_t)m * o->ldc + t->n0;
    if (t->accumulate)
        for (int v = 0; v < V; v++)
            r[v] = _mm512_add_epi32(r[v], _mm512_maskz_loadu_epi32(e->mask[v], c + 16 * v));
    if (!t->finish) {
        for (int v = 0; v < V; v++) _mm512_mask_storeu_epi32(c + 16 * v, e->mask[v], r[v]);
        return;
    }
    for (int v = 0; v < V; v++) r[v] = _mm512_sub_epi32(r[v], e->corr[v]);
    if (!o->y) {
        for (int v = 0; v < V; v++) _mm512_mask_storeu_epi32(c + 16 * v, e->mask[v], r[v]);
        return;
    }
    float *y = o->y + (ptrdiff_t)m * o->ldy + t->n0;
    const __m512 as = _mm512_set1_ps(o->a_scale[m]);
    for (int v = 0; v < V; v++) {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(r[v]), as);
        f = _mm512_add_ps(_mm512_mul_ps(f, e->ws[v]), e->bias[v]);
        _mm512_mask_storeu_ps(y + 16 * v, e->mask[v], f);
    }
}

// One A row against V weight vectors, accumulators c<i>0..c<i>3.
#define ROW(i)                                                                                     \
    if (R > i) {                                                                                   \
        const __m512i a##i = bcast4(a + 4 * i);                                                    \
        DP(c##i##0, a##i, b0);                                                                     \
        if (V > 1) DP(c##i##1, a##i, b1);                                                          \
        if (V > 2) DP(c##i##2, a##i, b2);                                                          \
        if (V > 3) DP(c##i##3, a##i, b3);                                                          \
    }
#define ZERO4(i)                                                                                   \
    __m512i c##i##0 = _mm512_setzero_si512(), c##i##1 = c##i##0, c##i##2 = c##i##0,               \
            c##i##3 = c##i##0;
#define EPI(i)                                                                                     \
    if (R > i) {                                                                                   \
        __m512i r[4] = {c##i##0, c##i##1, c##i##2, c##i##3};                                       \
        epi_row(t, i, V, r, &e);                                                                   \
    }

/// R x (16 V) register tile, R in 2..6, V in 1..4.
RK_INLINE void kernel(const rk_q8_tile *t, const int R, const int V) {
    ZERO4(0) ZERO4(1) ZERO4(2) ZERO4(3) ZERO4(4) ZERO4(5)
    const uint8_t *a = t->a;
    const int8_t *w = t->w;
    // Prefetch: the W micro-panel streams from L2, so pull it into L1 a few K groups ahead; and
    // pull one line per K group of the W block the next tiles need (t->pf) into L2.
    const char *pf = t->pf ? (const char *)t->pf : (const char *)w;
    const ptrdiff_t pf_step = t->pf ? 64 : 0;
    for (int g = t->kc / KG; g > 0; g--, a += A_STEP, w += W_STEP, pf += pf_step) {
        _mm_prefetch(pf, _MM_HINT_T1);
        for (int v = 0; v < V; v++) _mm_prefetch((const char *)w + W_AHEAD + 64 * v, _MM_HINT_T0);
        const __m512i b0 = ld(w);
        const __m512i b1 = V > 1 ? ld(w + 64) : _mm512_setzero_si512();
        const __m512i b2 = V > 2 ? ld(w + 128) : _mm512_setzero_si512();
        const __m512i b3 = V > 3 ? ld(w + 192) : _mm512_setzero_si512();
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
    }
    epi_consts e;
    epi_setup(t, V, &e);
    EPI(0) EPI(1) EPI(2) EPI(3) EPI(4) EPI(5)
}

/// One row (GEMV): two K groups per iteration into separate accumulators (8 independent chains),
/// so the loop is bound by streaming the weights, not by vpdpbusd latency.
RK_INLINE void kernel_m1(const rk_q8_tile *t, const int V) {
    ZERO4(0) ZERO4(1)
    const uint8_t *a = t->a;
    const int8_t *w = t->w;
    int g = t->kc / KG;
    for (; g >= 2; g -= 2, a += 2 * A_STEP, w += 2 * W_STEP) {
        const __m512i a0 = bcast4(a), a1 = bcast4(a + A_STEP);
        DP(c00, a0, ld(w));
        if (V > 1) DP(c01, a0, ld(w + 64));
        if (V > 2) DP(c02, a0, ld(w + 128));
        if (V > 3) DP(c03, a0, ld(w + 192));
        DP(c10, a1, ld(w + W_STEP));
        if (V > 1) DP(c11, a1, ld(w + W_STEP + 64));
        if (V > 2) DP(c12, a1, ld(w + W_STEP + 128));
        if (V > 3) DP(c13, a1, ld(w + W_STEP + 192));
    }
    if (g) {
        const __m512i a0 = bcast4(a);
        DP(c00, a0, ld(w));
        if (V > 1) DP(c01, a0, ld(w + 64));
        if (V > 2) DP(c02, a0, ld(w + 128));
        if (V > 3) DP(c03, a0, ld(w + 192));
    }
    epi_consts e;
    epi_setup(t, V, &e);
    __m512i r[4] = {_mm512_add_epi32(c00, c10), _mm512_add_epi32(c01, c11),
                    _mm512_add_epi32(c02, c12), _mm512_add_epi32(c03, c13)};
    epi_row(t, 0, V, r, &e);
}

#define TILE_1(V) static void tile_1_##V(const rk_q8_tile *t) { kernel_m1(t, V); }
#define TILE(R, V) static void tile_##R##_##V(const rk_q8_tile *t) { kernel(t, R, V); }
#define TILES(R) TILE(R, 1) TILE(R, 2) TILE(R, 3) TILE(R, 4)
TILE_1(1) TILE_1(2) TILE_1(3) TILE_1(4)
TILES(2) TILES(3) TILES(4) TILES(5) TILES(6)

static void (*const tiles[MR][4])(const rk_q8_tile *) = {
    {tile_1_1, tile_1_2, tile_1_3, tile_1_4}, {tile_2_1, tile_2_2, tile_2_3, tile_2_4},
    {tile_3_1, tile_3_2, tile_3_3, tile_3_4}, {tile_4_1, tile_4_2, tile_4_3, tile_4_4},
    {tile_5_1, tile_5_2, tile_5_3, tile_5_4}, {tile_6_1, tile_6_2, tile_6_3, tile_6_4},
};

static void vnni_tile(const rk_q8_tile *t) { tiles[t->mr - 1][(t->nr + 15) / 16 - 1](t); }

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

const rk_q8_impl rk_q8_impl_avx512vnni = {
    .isa = RK_ISA_AVX512VNNI, .mr = MR, .nr = NR, .kg = KG, .kc_min = 256, .cache_bytes = 1 << 20,
    .a_xor = 0x80,
    .tile = vnni_tile,
};

#endif
