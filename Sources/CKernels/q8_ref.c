// Portable scalar int8 GEMM: the reference every path is tested against (rk_q8_gemm_ref, plain
// loops over unpacked W) and the RK_ISA_SCALAR micro-kernel for the packed API (4 x 8 tile, one K
// value per step, written so compilers can vectorize the outer product).
#include "q8_internal.h"

/// Reference: C[m][n] = sum_k A[m][k] * W[n][k] in int32, plain loops over unpacked W.
void rk_q8_gemm_ref(const int8_t *a, int m, int lda, const int8_t *w, int n, int ldw, int k,
                    int32_t *c, int ldc) {
    for (int i = 0; i < m; i++) {
        const int8_t *ar = a + (ptrdiff_t)i * lda;
        int32_t *cr = c + (ptrdiff_t)i * ldc;
        for (int j = 0; j < n; j++) {
            const int8_t *wr = w + (ptrdiff_t)j * ldw;
            int32_t s = 0;
            for (int t = 0; t < k; t++) s += (int32_t)ar[t] * (int32_t)wr[t];
            cr[j] = s;
        }
    }
}

enum { MR = 4, NR = 8 };

static void scalar_tile(const rk_q8_tile *t) {
    int32_t acc[MR][NR] = {{0}};
    const int8_t *a = (const int8_t *)t->a; // a_xor == 0: the packed bytes are the int8 values
    const int8_t *w = t->w;
    for (int q = 0; q < t->kc; q++, a += MR, w += NR) {
        for (int i = 0; i < MR; i++) {
            const int32_t ai = a[i];
            for (int j = 0; j < NR; j++) acc[i][j] += ai * (int32_t)w[j];
        }
    }
    rk_q8_tile_epilogue(t, &acc[0][0], NR);
}

const rk_q8_impl rk_q8_impl_scalar = {
    .isa = RK_ISA_SCALAR, .mr = MR, .nr = NR, .kg = 1, .kc_min = 256, .cache_bytes = 512 << 10,
    .a_xor = 0, .tile = scalar_tile,
};
