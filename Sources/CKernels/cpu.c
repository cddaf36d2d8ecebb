// CPU feature detection and kernel dispatch: the one place that decides which ISA paths this CPU can
// run (x86: cpuid + xgetbv; aarch64 Linux: getauxval hwcaps; Apple: sysctl), which one AUTO means
// (REFLEX_ISA may force a supported one), which implementation backs each path, and how big the L2
// cache is (for GEMM blocking).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "q8_internal.h"

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif

static const char *const isa_names[RK_ISA_COUNT] = {
    "auto", "scalar", "avx2", "avx512vnni", "neon", "dotprod", "i8mm",
};

/// Stable lowercase name of a path ("unknown" for out-of-range values).
const char *rk_isa_name(rk_isa isa) {
    if ((int)isa < 0 || isa >= RK_ISA_COUNT) return "unknown";
    return isa_names[isa];
}

// MARK: - Feature probes (each returns a bit set indexed by rk_isa)

#if defined(__x86_64__)
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static unsigned probe(void) {
    unsigned set = 0;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return set;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return set;
    const uint64_t xcr0 = read_xcr0();
    const int ymm_os = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
    const int zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0; // opmask + ZMM_Hi256 + Hi16_ZMM
    if (__get_cpuid_max(0, NULL) < 7) return set;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1;
    const int vnni = (c >> 11) & 1;
    if (ymm_os && avx2) set |= 1u << RK_ISA_AVX2;
    if (zmm_os && avx512f && avx512bw && vnni) set |= 1u << RK_ISA_AVX512VNNI;
    return set;
}
#elif defined(__aarch64__) && defined(__linux__)
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif
static unsigned probe(void) {
    unsigned set = 0;
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    if (hw & HWCAP_ASIMD) set |= 1u << RK_ISA_NEON;
    if ((hw & HWCAP_ASIMD) && (hw & HWCAP_ASIMDDP)) set |= 1u << RK_ISA_NEON_DOTPROD;
    if ((hw & HWCAP_ASIMD) && (hw2 & HWCAP2_I8MM)) set |= 1u << RK_ISA_NEON_I8MM;
    return set;
}
#elif defined(__aarch64__) && defined(__APPLE__)
static int sysctl_flag(const char *name) {
    int v = 0;
    size_t len = sizeof v;
    return sysctlbyname(name, &v, &len, NULL, 0) == 0 && v != 0;
}
static unsigned probe(void) {
    unsigned set = 1u << RK_ISA_NEON;
    if (sysctl_flag("hw.optional.arm.FEAT_DotProd")) set |= 1u << RK_ISA_NEON_DOTPROD;
    if (sysctl_flag("hw.optional.arm.FEAT_I8MM")) set |= 1u << RK_ISA_NEON_I8MM;
    return set;
}
#elif defined(__aarch64__)
static unsigned probe(void) { return 1u << RK_ISA_NEON; } // Advanced SIMD is mandatory in AArch64
#else
static unsigned probe(void) { return 0; }
#endif

// Features never change while the process runs; a racy first initialization computes the same
// value in every thread, so relaxed atomics are enough.
static unsigned features(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        v = (int)(probe() | (1u << RK_ISA_AUTO) | (1u << RK_ISA_SCALAR));
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return (unsigned)v;
}

/// 1 when this CPU (and this build) can execute the path, else 0. RK_ISA_AUTO is always 1.
int rk_isa_supported(rk_isa isa) {
    if ((int)isa < 0 || isa >= RK_ISA_COUNT) return 0;
    return (features() >> isa) & 1;
}

static rk_isa pick_best(void) {
    const char *env = getenv("REFLEX_ISA");
    if (env && *env) {
        for (int i = RK_ISA_SCALAR; i < RK_ISA_COUNT; i++)
            if (strcmp(env, isa_names[i]) == 0 && rk_isa_supported((rk_isa)i)) return (rk_isa)i;
    }
    static const rk_isa preference[] = {
        RK_ISA_AVX512VNNI, RK_ISA_AVX2, RK_ISA_NEON_I8MM, RK_ISA_NEON_DOTPROD, RK_ISA_NEON,
    };
    for (size_t i = 0; i < sizeof preference / sizeof preference[0]; i++)
        if (rk_isa_supported(preference[i])) return preference[i];
    return RK_ISA_SCALAR;
}

/// The best supported path (what RK_ISA_AUTO resolves to); REFLEX_ISA=<name> forces a supported
/// path. Decided once per process.
rk_isa rk_isa_best(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        v = (int)pick_best();
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return (rk_isa)v;
}

// MARK: - Dispatch table

/// The implementation behind each concrete path in this build (NULL: not compiled for this arch).
static const rk_q8_impl *const impl_table[RK_ISA_COUNT] = {
    [RK_ISA_SCALAR] = &rk_q8_impl_scalar,
#if defined(__x86_64__)
    [RK_ISA_AVX2] = &rk_q8_impl_avx2,
    [RK_ISA_AVX512VNNI] = &rk_q8_impl_avx512vnni,
#endif
#if defined(__aarch64__)
    [RK_ISA_NEON] = &rk_q8_impl_neon,
    [RK_ISA_NEON_DOTPROD] = &rk_q8_impl_neon_dotprod,
    [RK_ISA_NEON_I8MM] = &rk_q8_impl_neon_i8mm,
#endif
};

const rk_q8_impl *rk_q8_impl_for(rk_isa isa) {
    if (isa == RK_ISA_AUTO) isa = rk_isa_best();
    if (!rk_isa_supported(isa)) return NULL;
    return impl_table[isa];
}

// MARK: - Cache size

#if defined(__linux__)
/// L2 size from sysfs (cpu0's level-2 data or unified cache), 0 when not exposed.
static long l2_from_sysfs(void) {
    for (int i = 0; i < 8; i++) {
        char path[96], buf[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) break;
        const int level = fgets(buf, sizeof buf, f) ? atoi(buf) : 0;
        fclose(f);
        if (level != 2) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        f = fopen(path, "r");
        if (!f) continue;
        const int usable = fgets(buf, sizeof buf, f) && strncmp(buf, "Instruction", 11) != 0;
        fclose(f);
        if (!usable) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        f = fopen(path, "r");
        if (!f) continue;
        long size = 0;
        if (fgets(buf, sizeof buf, f)) {
            char *end;
            size = strtol(buf, &end, 10);
            if (*end == 'K') size <<= 10;
            else if (*end == 'M') size <<= 20;
        }
        fclose(f);
        if (size > 0) return size;
    }
    return 0;
}
#endif

static long probe_l2(void) {
    long size = 0;
#if defined(__linux__)
    size = l2_from_sysfs();
#endif
#if defined(_SC_LEVEL2_CACHE_SIZE)
    if (size <= 0) size = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
#if defined(__APPLE__)
    if (size <= 0) {
        int64_t v = 0;
        size_t len = sizeof v;
        if (sysctlbyname("hw.perflevel0.l2cachesize", &v, &len, NULL, 0) == 0 ||
            sysctlbyname("hw.l2cachesize", &v, &len, NULL, 0) == 0)
            size = (long)v;
    }
#endif
    return size > 0 ? size : 0;
}

int rk_l2_cache_bytes(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        long size = probe_l2();
        v = size > (1L << 30) ? 1 << 30 : (int)size;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}
