import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS picks its kernels from cpuid when the library loads. Under hypervisors that report a
/// generic CPU model it can fall back to a baseline core ("Prescott": SSE3 kernels, about 5× slower
/// sgemm here) even though the CPU has AVX2 or AVX-512. The choice can only be overridden through
/// `OPENBLAS_CORETYPE` before the library loads, so the CLI asks this type whether to re-execute
/// itself with the right value.
public enum BLASCoreType {
    /// The core OpenBLAS is using ("SkylakeX", "Haswell", "Prescott", "NeoverseN1", ...).
    public static var current: String { String(cString: openblas_get_corename()) }

    /// The core type matching what our own feature detection sees, when OpenBLAS chose a weaker
    /// x86 core; nil when nothing needs fixing (or on ARM, where detection reads the real MIDR).
    public static var suggestedOverride: String? {
        #if arch(x86_64)
        let weak: Set<String> = ["prescott", "core2", "nehalem", "katmai", "coppermine", "northwood", "banias", "atom", "penryn", "dunnington", "unknown"]
        guard weak.contains(current.lowercased()) else { return nil }
        if KernelISA.avx512vnni.isSupported { return "SkylakeX" }
        if KernelISA.avx2.isSupported { return "Haswell" }
        #endif
        return nil
    }
}
