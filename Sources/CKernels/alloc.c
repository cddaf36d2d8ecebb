// Aligned allocation for tensors, packed weights, scratch buffers and benchmarks (64-byte = cache
// line / zmm aligned), and the process-wide malloc policy that keeps big buffers out of the heap.
#include <pthread.h>
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "include/ckernels.h"

// glibc raises its mmap threshold dynamically (up to 32 MB) after large blocks are freed, after
// which weight-sized buffers come from the heap and freed ones stay resident: loading a model
// converts and drops hundreds of them, and peak RSS grew to twice the weights (8.5 GB for a
// MiniVLA-sized int8 load). A fixed 8 MB threshold keeps weight-sized blocks in their own mappings,
// returned on free, while activation-sized blocks (a few MB) stay in the heap and are reused
// without fresh page faults (a 1 MB threshold cost ~10% of run time in page faults and zeroing).
static void set_malloc_policy(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
#endif
}

static pthread_once_t policy_once = PTHREAD_ONCE_INIT;

/// 64-byte aligned allocation; NULL on failure or when bytes == 0 would be ambiguous.
void *rk_alloc(size_t bytes) {
    pthread_once(&policy_once, set_malloc_policy);
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    bytes = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return p;
}

/// Frees memory from rk_alloc (NULL is fine).
void rk_free(void *p) { free(p); }

/// Returns free heap memory to the system (glibc: malloc_trim, which also releases free pages in
/// the middle of the heap). Loaders call it between layers so conversion temporaries that the
/// heap kept do not add up.
void rk_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
