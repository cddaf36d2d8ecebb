// Private contract between the int8 GEMM driver (q8_gemm.c), the packing code (q8_pack.c), the
// dispatch table (cpu.c) and the per-ISA micro-kernels (q8_*.c). Not part of the public API.
//
// Layouts shared by every path (g = impl->kg, the K group a kernel consumes at once):
//   packed W: panels of NR output channels; panel p is contiguous, NR * k_pad bytes, laid out as
//             [k_pad/g][NR][g]. The K block starting at k0 begins at byte k0 * NR of the panel.
//             Channels past n (padding) and k past k (padding) are zero.
//   packed A: for each K block (k0, kcb): m_pad * kcb bytes at k0 * m_pad, holding micro-panels of
//             MR rows, each [kcb/g][MR][g] (rows past m and k past k are zero, then xor a_xor).
#ifndef REFLEX_Q8_INTERNAL_H
#define REFLEX_Q8_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "include/ckernels.h"

#define RK_INLINE static inline __attribute__((always_inline))

/// Where and how a tile's results go. Shared by all tiles of one GEMM call.
typedef struct rk_q8_out {
    int32_t *c;             ///< int32 results; in f32 mode this aliases y and holds K-block partials
    ptrdiff_t ldc;          ///< row stride of c, in elements
    float *y;               ///< non-NULL: dequantized output (f32 mode)
    ptrdiff_t ldy;          ///< row stride of y, in elements
    const float *a_scale;   ///< per row (f32 mode)
    const float *w_scale;   ///< per output channel (f32 mode)
    const float *bias;      ///< per output channel, or NULL
    const int32_t *row_sum; ///< per output channel: sum_k W[n][k]
    int32_t a_offset;       ///< A was packed as a + a_offset: subtract a_offset * row_sum[n] at the end
} rk_q8_out;

/// One micro-kernel invocation: C[m0 : m0+mr][n0 : n0+nr] (+)= A-panel · W-panelᵀ over one K block.
typedef struct rk_q8_tile {
    const uint8_t *a;       ///< packed A micro-panel for this K block ([kc/g][MR][g])
    const int8_t *w;        ///< packed W micro-panel for this K block ([kc/g][NR][g])
    int kc;                 ///< K block length, a multiple of g
    int m0, n0;             ///< tile origin in the output
    int mr, nr;             ///< valid rows (1..MR) and columns (1..NR)
    int accumulate;         ///< add the partial sums already stored in out->c (not the first K block)
    int finish;             ///< last K block: apply offset correction / dequantization and store
    const int8_t *pf;       ///< W bytes the kernel may prefetch (one line per K group), or NULL:
                            ///< a slice of the W block the next tiles will use
    const rk_q8_out *out;
} rk_q8_tile;

typedef void (*rk_q8_tile_fn)(const rk_q8_tile *t);

/// A kernel path: its register tile, packing granularity and micro-kernel.
typedef struct rk_q8_impl {
    rk_isa isa;
    int mr, nr;             ///< micro-tile rows (A) and columns (W)
    int kg;                 ///< K group; k_pad and every K block are multiples of it
    int kc_min;             ///< smallest K block worth using when A has several micro-panels
    int cache_bytes;        ///< cache budget for one K block of all of A plus one W micro-panel
                            ///< when the L2 size is unknown (otherwise half of L2 is used)
    uint8_t a_xor;          ///< xor applied to A bytes while packing (0x80: int8 → uint8 + 128)
    rk_q8_tile_fn tile;
} rk_q8_impl;

/// The implementation for a concrete path, or NULL when this CPU/build cannot run it (cpu.c).
const rk_q8_impl *rk_q8_impl_for(rk_isa isa);

/// Size of one core's L2 cache in bytes, 0 when unknown (cpu.c; detected once).
int rk_l2_cache_bytes(void);

// Per-ISA descriptors; each exists only in builds for its architecture.
extern const rk_q8_impl rk_q8_impl_scalar;
#if defined(__x86_64__)
extern const rk_q8_impl rk_q8_impl_avx2;
extern const rk_q8_impl rk_q8_impl_avx512vnni;
#endif
#if defined(__aarch64__)
extern const rk_q8_impl rk_q8_impl_neon;
extern const rk_q8_impl rk_q8_impl_neon_dotprod;
extern const rk_q8_impl rk_q8_impl_neon_i8mm;
#endif

/// Packs `rows` (≤ MR) rows of A, K range [0, kvalid) of `src` (stride lda), into one micro-panel of
/// kc (≥ kvalid, multiple of kg) columns at dst, zero-padding rows and columns (q8_pack.c).
void rk_q8_pack_a_panel(const rk_q8_impl *impl, const int8_t *src, int lda, int rows, int kvalid,
                        int kc, uint8_t *dst);

/// Portable epilogue: takes a raw mr x nr int32 tile (row stride ld) and applies the tile's
/// accumulate / finish semantics (q8_gemm.c). Kernels without a vector epilogue use it.
void rk_q8_tile_epilogue(const rk_q8_tile *t, const int32_t *acc, int ld);

/// Test hook: forces the K block (in K values, rounded up to the path's group) for GEMMs with more
/// than one A micro-panel, so small shapes exercise K-block accumulation; 0 restores the normal
/// cache-based choice. Not thread-safe with running kernels.
void rk_q8_debug_force_kc(int kc);

static inline int rk_round_up(int x, int m) { return (x + m - 1) / m * m; }

#endif
