// Memory bandwidth probes for benchmarks: a copy and a read pass split across the pool threads, so
// kernel throughput can be compared with what the memory system delivers on the same machine.
#include <string.h>

#include "include/ckernels.h"

enum { MAX_PARTS = 256 };

// 16-byte generic vectors: SSE2 / Advanced SIMD loads on every baseline target.
typedef uint64_t rk_v2u64 __attribute__((vector_size(16)));

typedef struct {
    unsigned char *dst;
    const unsigned char *src;
    size_t bytes, chunk;
    uint64_t sums[MAX_PARTS];
} probe_ctx;

static void part_range(const probe_ctx *p, int part, size_t *begin, size_t *len) {
    size_t b = (size_t)part * p->chunk;
    *begin = b;
    *len = b >= p->bytes ? 0 : (p->bytes - b < p->chunk ? p->bytes - b : p->chunk);
}

static int plan(probe_ctx *p, size_t bytes) {
    int parts = rk_num_threads();
    if (parts > MAX_PARTS) parts = MAX_PARTS;
    p->bytes = bytes;
    p->chunk = ((bytes + (size_t)parts - 1) / (size_t)parts + 4095) & ~(size_t)4095;
    if (p->chunk == 0) p->chunk = 4096;
    return parts;
}

static void copy_task(void *ctx, int part) {
    probe_ctx *p = ctx;
    size_t b, n;
    part_range(p, part, &b, &n);
    if (n) memcpy(p->dst + b, p->src + b, n);
}

/// Copies `bytes` from src to dst with all pool threads (regions must not overlap).
void rk_parallel_memcpy(void *dst, const void *src, size_t bytes) {
    probe_ctx p = {.dst = dst, .src = src};
    rk_parallel_for(plan(&p, bytes), copy_task, &p);
}

/// Touches every 64-byte line of [s, s + n): one 16-byte load per line, four lines per step. The
/// memory system moves whole lines either way; keeping the instruction count per line low lets more
/// lines be in flight, so this measures the line bandwidth a streaming kernel can hope for (loading
/// every byte with 16-byte baseline loads measures ~25% less on some machines).
static uint64_t read_range(const unsigned char *s, size_t n) {
    rk_v2u64 a0 = {0, 0}, a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        rk_v2u64 v0, v1, v2, v3;
        memcpy(&v0, s + i, 16);
        memcpy(&v1, s + i + 64, 16);
        memcpy(&v2, s + i + 128, 16);
        memcpy(&v3, s + i + 192, 16);
        a0 += v0;
        a1 += v1;
        a2 += v2;
        a3 += v3;
    }
    rk_v2u64 t = a0 + a1 + a2 + a3;
    uint64_t sum = t[0] + t[1];
    for (; i < n; i += 64) sum += s[i];
    return sum;
}

static void read_task(void *ctx, int part) {
    probe_ctx *p = ctx;
    size_t b, n;
    part_range(p, part, &b, &n);
    p->sums[part] = n ? read_range(p->src + b, n) : 0;
}

/// Reads `bytes` with all pool threads (every cache line is loaded) and returns a checksum of the
/// loaded words (so the reads cannot be elided).
uint64_t rk_parallel_read(const void *src, size_t bytes) {
    probe_ctx p = {.src = src};
    int parts = plan(&p, bytes);
    rk_parallel_for(parts, read_task, &p);
    uint64_t sum = 0;
    for (int i = 0; i < parts; i++) sum += p.sums[i];
    return sum;
}
