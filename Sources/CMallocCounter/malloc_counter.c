// Counts heap allocations by interposing glibc's allocator entry points (symbols defined in the
// executable take precedence over libc's for every caller, the Swift runtime included) and forwarding
// to glibc's own implementations (__libc_*). Linked only into the `reflex` executable.
#define _GNU_SOURCE
#include "rk_malloc_counter.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static _Atomic unsigned long count;

unsigned long rk_malloc_count(void) { return atomic_load_explicit(&count, memory_order_relaxed); }

void *malloc(size_t n) {
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b) {
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n) {
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n) {
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }

int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    void *p = memalign(align, n);
    if (!p && n) return ENOMEM;
    *out = p;
    return 0;
}
