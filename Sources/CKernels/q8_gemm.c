// The int8 GEMM / GEMV driver shared by every kernel path: packs A into per-call scratch, blocks K,
// walks output tiles and spreads them over the thread pool, and hands each tile to the path's
// micro-kernel. Also the portable tile epilogue used by kernels without a vector one.
//
// Loop nest per task:
//   for each W panel (NR channels)      tasks split N panels (and M when N is small)
//     for each K block (kc)             A's K block (all rows) + one W micro-panel fit in L2 / 2
//       for each A micro-panel (MR rows)
//         micro-kernel                  W micro-panel re-read from L1/L2; the next W block is
//                                       prefetched into L2 by the first tiles of this one
// With M ≤ MR (GEMV and small M) there is one A micro-panel and K is not blocked, so every packed
// weight byte is read exactly once, streaming, split across threads by N panels.
#include <pthread.h>
#include <string.h>

#include "q8_internal.h"

// MARK: - Per-thread scratch for packed A (grown once, reused by every call from that thread)

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local struct {
    uint8_t *p;
    size_t cap;
} scratch;

static void scratch_release(void *p) { rk_free(p); }
static void scratch_key_init(void) { pthread_key_create(&scratch_key, scratch_release); }

static uint8_t *scratch_get(size_t bytes) {
    if (bytes <= scratch.cap) return scratch.p;
    size_t cap = scratch.cap ? scratch.cap : 64 * 1024;
    while (cap < bytes) cap *= 2;
    uint8_t *p = rk_alloc(cap);
    if (!p) return NULL;
    rk_free(scratch.p);
    scratch.p = p;
    scratch.cap = cap;
    pthread_once(&scratch_once, scratch_key_init);
    pthread_setspecific(scratch_key, p); // freed when the thread exits
    return p;
}

// MARK: - Driver

typedef struct gemm_plan {
    const rk_q8_impl *impl;
    const rk_q8_weights *w;
    const int8_t *a;      // caller's A
    int lda, m;
    uint8_t *ap;          // packed A
    int m_pad, kc;        // rows padded to MR; K block
    int m_panels, n_panels;
    int m_chunks, n_chunks;
    rk_q8_out out;
} gemm_plan;

static void pack_task(void *ctx, int mp) {
    const gemm_plan *p = ctx;
    const rk_q8_impl *impl = p->impl;
    const int k = p->w->k, k_pad = p->w->k_pad;
    const int row0 = mp * impl->mr;
    const int rows = p->m - row0 < impl->mr ? p->m - row0 : impl->mr;
    const int8_t *src = p->a + (ptrdiff_t)row0 * p->lda;
    for (int k0 = 0; k0 < k_pad; k0 += p->kc) {
        const int kcb = k_pad - k0 < p->kc ? k_pad - k0 : p->kc;
        const int kvalid = k - k0 < kcb ? k - k0 : kcb;
        uint8_t *dst = p->ap + (ptrdiff_t)k0 * p->m_pad + (ptrdiff_t)mp * impl->mr * kcb;
        rk_q8_pack_a_panel(impl, src + k0, p->lda, rows, kvalid, kcb, dst);
    }
}

static void compute_task(void *ctx, int task) {
    const gemm_plan *p = ctx;
    const rk_q8_impl *impl = p->impl;
    const rk_q8_weights *w = p->w;
    const int MR = impl->mr, NR = impl->nr, k_pad = w->k_pad;
    const int nc = task % p->n_chunks, mc = task / p->n_chunks;
    const int np0 = (int)((long)p->n_panels * nc / p->n_chunks);
    const int np1 = (int)((long)p->n_panels * (nc + 1) / p->n_chunks);
    const int mp0 = (int)((long)p->m_panels * mc / p->m_chunks);
    const int mp1 = (int)((long)p->m_panels * (mc + 1) / p->m_chunks);

    rk_q8_tile t;
    t.out = &p->out;
    for (int np = np0; np < np1; np++) {
        const int8_t *wp = w->data + (ptrdiff_t)np * NR * k_pad;
        t.n0 = np * NR;
        t.nr = w->n - t.n0 < NR ? w->n - t.n0 : NR;
        for (int k0 = 0; k0 < k_pad; k0 += p->kc) {
            const int kcb = k_pad - k0 < p->kc ? k_pad - k0 : p->kc;
            const uint8_t *ab = p->ap + (ptrdiff_t)k0 * p->m_pad;
            t.w = wp + (ptrdiff_t)k0 * NR;
            t.kc = kcb;
            t.accumulate = k0 > 0;
            t.finish = k0 + kcb >= k_pad;
            // The W block after this one (next K block, else the next panel): tiles of this block
            // prefetch it in quarters, so its first tile does not wait on memory.
            const int8_t *next = !t.finish ? t.w + (ptrdiff_t)kcb * NR
                                 : np + 1 < np1 ? wp + (ptrdiff_t)NR * k_pad : NULL;
            const ptrdiff_t quarter = (ptrdiff_t)kcb * NR / 4;
            for (int mp = mp0; mp < mp1; mp++) {
                t.m0 = mp * MR;
                t.mr = p->m - t.m0 < MR ? p->m - t.m0 : MR;
                t.a = ab + (ptrdiff_t)mp * MR * kcb;
                t.pf = next && mp - mp0 < 4 ? next + quarter * (mp - mp0) : NULL;
                impl->tile(&t);
            }
        }
    }
}

static int forced_kc; // test hook (rk_q8_debug_force_kc); 0 = normal choice

void rk_q8_debug_force_kc(int kc) { __atomic_store_n(&forced_kc, kc, __ATOMIC_RELAXED); }

/// K block. One A micro-panel (GEMV, small M): whole K, every weight byte is read once. Otherwise
/// the largest block for which all M rows of A plus one W micro-panel fit in half of L2 (so A is
/// re-read from L2, not L3, for every W panel), but at least kc_min, evened out so the last
/// block is not a sliver.
static int choose_kc(const rk_q8_impl *impl, int m_pad, int k_pad) {
    if (m_pad <= impl->mr) return k_pad;
    const int forced = __atomic_load_n(&forced_kc, __ATOMIC_RELAXED);
    if (forced > 0) {
        const int kc = rk_round_up(forced, impl->kg);
        return kc < k_pad ? kc : k_pad;
    }
    const int l2 = rk_l2_cache_bytes();
    const int budget = l2 >= (256 << 10) ? l2 / 2 : impl->cache_bytes;
    int kc = budget / (m_pad + impl->nr) / impl->kg * impl->kg;
    if (kc < impl->kc_min) kc = impl->kc_min;
    if (k_pad <= kc) return k_pad;
    const int blocks = (k_pad + kc - 1) / kc;
    return rk_round_up((k_pad + blocks - 1) / blocks, impl->kg);
}

/// Splits tiles into tasks: N panels first (independent W streams), M as well when there are too
/// few N panels to keep every thread busy. Small problems stay on the calling thread.
static void choose_tasks(gemm_plan *p) {
    const int threads = rk_num_threads();
    const double macs = (double)p->m * p->w->n_pad * p->w->k_pad;
    const double wbytes = (double)p->w->n_pad * p->w->k_pad;
    p->n_chunks = p->m_chunks = 1;
    if (threads <= 1 || (macs < (1 << 21) && wbytes < (1 << 18))) return;
    const int target = 8 * threads; // several tasks per thread: dynamic load balance
    p->n_chunks = p->n_panels < target ? p->n_panels : target;
    if (p->n_chunks < 2 * threads && p->m_panels > 1) {
        int want = (target + p->n_chunks - 1) / p->n_chunks;
        p->m_chunks = p->m_panels < want ? p->m_panels : want;
    }
}

static void gemm(const rk_q8_weights *w, const int8_t *a, int m, int lda, rk_q8_out out) {
    if (!w || m <= 0) return;
    const rk_q8_impl *impl = rk_q8_impl_for(w->isa);
    if (!impl) return;
    gemm_plan p;
    p.impl = impl;
    p.w = w;
    p.a = a;
    p.lda = lda;
    p.m = m;
    p.m_panels = (m + impl->mr - 1) / impl->mr;
    p.m_pad = p.m_panels * impl->mr;
    p.n_panels = w->n_pad / impl->nr;
    p.kc = choose_kc(impl, p.m_pad, w->k_pad);
    p.ap = scratch_get((size_t)p.m_pad * (size_t)w->k_pad);
    if (!p.ap) return;
    out.row_sum = w->row_sum;
    out.a_offset = impl->a_xor == 0x80 ? 128 : 0;
    p.out = out;
    choose_tasks(&p);

    if ((double)m * w->k >= 65536.0 && p.m_panels > 1) rk_parallel_for(p.m_panels, pack_task, &p);
    else for (int mp = 0; mp < p.m_panels; mp++) pack_task(&p, mp);

    const int ntasks = p.n_chunks * p.m_chunks;
    if (ntasks == 1) compute_task(&p, 0);
    else rk_parallel_for(ntasks, compute_task, &p);
}

/// Exact int32 product: C (M x N, stride ldc) = A · Wᵀ, on the path the weights were packed for.
void rk_q8_gemm_i32(const rk_q8_weights *w, const int8_t *a, int m, int lda, int32_t *c, int ldc) {
    rk_q8_out out = {.c = c, .ldc = ldc};
    gemm(w, a, m, lda, out);
}

/// Dequantizing product: Y[m][n] = (float)(A·Wᵀ)[m][n] * a_scale[m] * w_scale[n] + bias[n].
/// K-block partial sums are kept in Y's own storage (as int32) until the last block.
void rk_q8_gemm_f32(const rk_q8_weights *w, const int8_t *a, int m, int lda, const float *a_scale,
                    const float *w_scale, const float *bias, float *y, int ldy) {
    rk_q8_out out = {
        .c = (int32_t *)(void *)y, .ldc = ldy, .y = y, .ldy = ldy,
        .a_scale = a_scale, .w_scale = w_scale, .bias = bias,
    };
    gemm(w, a, m, lda, out);
}

// MARK: - Portable epilogue

void rk_q8_tile_epilogue(const rk_q8_tile *t, const int32_t *acc, int ld) {
    const rk_q8_out *o = t->out;
    const int nr = t->nr;
    const int32_t *rs = o->row_sum + t->n0;
    for (int i = 0; i < t->mr; i++) {
        const int32_t *ar = acc + (ptrdiff_t)i * ld;
        int32_t *cr = o->c + (ptrdiff_t)(t->m0 + i) * o->ldc + t->n0;
        int32_t v[256]; // NR ≤ 256 on every path
        for (int j = 0; j < nr; j++) v[j] = ar[j];
        if (t->accumulate)
            for (int j = 0; j < nr; j++) v[j] += cr[j];
        if (!t->finish) {
            memcpy(cr, v, sizeof(int32_t) * (size_t)nr);
            continue;
        }
        if (o->a_offset)
            for (int j = 0; j < nr; j++) v[j] -= o->a_offset * rs[j];
        if (!o->y) {
            memcpy(cr, v, sizeof(int32_t) * (size_t)nr);
            continue;
        }
        float *yr = o->y + (ptrdiff_t)(t->m0 + i) * o->ldy + t->n0;
        const float as = o->a_scale[t->m0 + i];
        const float *ws = o->w_scale + t->n0;
        if (o->bias) {
            const float *b = o->bias + t->n0;
            for (int j = 0; j < nr; j++) yr[j] = (float)v[j] * as * ws[j] + b[j];
        } else {
            for (int j = 0; j < nr; j++) yr[j] = (float)v[j] * as * ws[j];
        }
    }
}
