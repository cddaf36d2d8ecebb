#ifndef RK_MALLOC_COUNTER_H
#define RK_MALLOC_COUNTER_H
/// Heap allocations made by this process so far (malloc, calloc, realloc, memalign family), counted by
/// interposing glibc's allocator in the `reflex` executable. For `reflex bench loop`'s "no allocation per
/// tick" measurement; the count costs one relaxed atomic add per allocation.
unsigned long rk_malloc_count(void);
#endif
