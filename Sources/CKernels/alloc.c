// Aligned allocation for packed weights, scratch buffers and benchmarks (64-byte = cache line /
// zmm aligned).
#include <stdlib.h>

#include "include/ckernels.h"

/// 64-byte aligned allocation; NULL on failure or when bytes == 0 would be ambiguous.
void *rk_alloc(size_t bytes) {
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    bytes = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return p;
}

/// Frees memory from rk_alloc (NULL is fine).
void rk_free(void *p) { free(p); }
