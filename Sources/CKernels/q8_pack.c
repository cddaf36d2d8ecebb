// Packing for the int8 GEMM: weights once per model load (rk_q8_pack / rk_q8_free) and activation
// micro-panels per call (rk_q8_pack_a_panel). One generic layout family, parameterized by the kernel
// descriptor (MR, NR, K group, A xor); see q8_internal.h for the layouts.
#include <string.h>

#include "q8_internal.h"

/// Copies one K group of g bytes (g in {1, 4, 8, 16} on every path) and applies the xor.
RK_INLINE void copy_group(uint8_t *dst, const int8_t *src, int g, uint8_t x) {
    const uint64_t x8 = 0x0101010101010101ull * x;
    switch (g) {
    case 4: {
        uint32_t v;
        memcpy(&v, src, 4);
        v ^= (uint32_t)x8;
        memcpy(dst, &v, 4);
        return;
    }
    case 8: {
        uint64_t v;
        memcpy(&v, src, 8);
        v ^= x8;
        memcpy(dst, &v, 8);
        return;
    }
    case 16: {
        uint64_t v[2];
        memcpy(v, src, 16);
        v[0] ^= x8;
        v[1] ^= x8;
        memcpy(dst, v, 16);
        return;
    }
    default:
        for (int t = 0; t < g; t++) dst[t] = (uint8_t)src[t] ^ x;
    }
}

/// Packs rows [0, rows) x K [0, kvalid) of src into a micro-panel [kc/g][MR][g] with zero padding
/// (then xor). Rows are visited one at a time so each source row streams sequentially.
void rk_q8_pack_a_panel(const rk_q8_impl *impl, const int8_t *src, int lda, int rows, int kvalid,
                        int kc, uint8_t *dst) {
    const int g = impl->kg, mr = impl->mr;
    const uint8_t x = impl->a_xor;
    const int full = kvalid / g;           // groups entirely inside [0, kvalid)
    const int groups = kc / g;
    const ptrdiff_t step = (ptrdiff_t)mr * g; // distance between consecutive groups of one row
    for (int r = 0; r < mr; r++) {
        uint8_t *d = dst + (ptrdiff_t)r * g;
        if (r >= rows) {
            for (int q = 0; q < groups; q++, d += step) memset(d, x, (size_t)g);
            continue;
        }
        const int8_t *s = src + (ptrdiff_t)r * lda;
        int q = 0;
        for (; q < full; q++, d += step, s += g) copy_group(d, s, g, x);
        for (; q < groups; q++, d += step, s += g) {
            for (int t = 0; t < g; t++) {
                const int k = q * g + t;
                d[t] = (uint8_t)(k < kvalid ? s[t] : 0) ^ x;
            }
        }
    }
}

/// Packs row-major int8 weights (N x K, stride ldw) for `isa` (AUTO → best). Returns NULL when the
/// path is unsupported, the arguments are invalid, or allocation fails.
typedef struct {
    rk_q8_weights *p;
    const int8_t *w;
    int ldw, g, nr;
    int panels_per_task;
} pack_ctx;

/// Packs weight rows [j0, j1) and their row sums.
static void pack_rows(const pack_ctx *c, int j0, int j1) {
    rk_q8_weights *p = c->p;
    const int g = c->g, nr = c->nr, k = p->k;
    const int full = k / g, groups = p->k_pad / g;
    const ptrdiff_t step = (ptrdiff_t)nr * g;
    for (int j = j0; j < j1; j++) {
        const int8_t *s = c->w + (ptrdiff_t)j * c->ldw;
        const ptrdiff_t panel = (ptrdiff_t)(j / nr) * nr * p->k_pad;
        uint8_t *d = (uint8_t *)p->data + panel + (ptrdiff_t)(j % nr) * g;
        int32_t sum = 0;
        for (int t = 0; t < k; t++) sum += s[t];
        p->row_sum[j] = sum;
        int q = 0;
        for (; q < full; q++, d += step, s += g) copy_group(d, s, g, 0);
        for (; q < groups; q++, d += step, s += g)
            for (int t = 0; q * g + t < k; t++) d[t] = (uint8_t)s[t];
    }
}

static void pack_rows_task(void *ctx, int task) {
    const pack_ctx *c = ctx;
    const int j0 = task * c->panels_per_task * c->nr;
    int j1 = j0 + c->panels_per_task * c->nr;
    if (j1 > c->p->n) j1 = c->p->n;
    if (j0 < j1) pack_rows(c, j0, j1);
}

rk_q8_weights *rk_q8_pack(const int8_t *w, int n, int k, int ldw, rk_isa isa) {
    if (isa == RK_ISA_AUTO) isa = rk_isa_best();
    const rk_q8_impl *impl = rk_q8_impl_for(isa);
    if (!impl || !w || n <= 0 || k <= 0 || ldw < k) return NULL;

    const int g = impl->kg, nr = impl->nr;
    rk_q8_weights *p = rk_alloc(sizeof *p);
    if (!p) return NULL;
    p->n = n;
    p->k = k;
    p->n_pad = rk_round_up(n, nr);
    p->k_pad = rk_round_up(k, g);
    p->isa = isa;
    p->bytes = (size_t)p->n_pad * (size_t)p->k_pad;
    p->data = rk_alloc(p->bytes);
    p->row_sum = rk_alloc(sizeof(int32_t) * (size_t)p->n_pad);
    if (!p->data || !p->row_sum) {
        rk_q8_free(p);
        return NULL;
    }
    memset(p->data, 0, p->bytes);
    memset(p->row_sum, 0, sizeof(int32_t) * (size_t)p->n_pad);

    pack_ctx ctx = {p, w, ldw, g, nr};
    // Rows are independent (each writes its own lanes of its panel): spread them over the pool in
    // chunks of whole panels once the matrix is big enough to pay for the hand-off.
    const int panels = p->n_pad / nr;
    const int tasks = panels < 64 ? panels : 64;
    const int chunk = (panels + tasks - 1) / tasks;
    if ((size_t)n * (size_t)k >= ((size_t)1 << 20)) {
        ctx.panels_per_task = chunk;
        rk_parallel_for((panels + chunk - 1) / chunk, pack_rows_task, &ctx);
    } else {
        pack_rows(&ctx, 0, n);
    }
    return p;
}

/// Frees weights from rk_q8_pack (NULL is fine).
void rk_q8_free(rk_q8_weights *w) {
    if (!w) return;
    rk_free(w->data);
    rk_free(w->row_sum);
    rk_free(w);
}
