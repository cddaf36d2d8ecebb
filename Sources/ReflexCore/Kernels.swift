import CKernels
import COpenBLAS

/// A CPU kernel path for the int8 matrix products. `.auto` resolves to the best path the running
/// CPU supports; the others force one path (tests and benchmarks exercise each).
public enum KernelISA: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case auto = 0, scalar, avx2, avx512vnni, neon, dotprod, i8mm

    var raw: rk_isa { rk_isa(rawValue: UInt32(rawValue)) }

    /// Stable lowercase name ("scalar", "avx2", "avx512vnni", "neon", "dotprod", "i8mm", "auto").
    public var description: String { String(cString: rk_isa_name(raw)) }
    /// Whether this CPU (and this build) can execute the path.
    public var isSupported: Bool { rk_isa_supported(raw) != 0 }
    /// Every concrete path this machine can run, portable reference first.
    public static var supported: [KernelISA] { allCases.filter { $0 != .auto && $0.isSupported } }
    /// What `.auto` picks here.
    public static var best: KernelISA { KernelISA(rawValue: Int32(rk_isa_best().rawValue)) ?? .scalar }
    /// Parses a name as printed by `description`.
    public init?(name: String) {
        guard let v = KernelISA.allCases.first(where: { $0.description == name }) else { return nil }
        self = v
    }
}

/// Process-wide kernel settings: thread count shared by our pool and OpenBLAS.
public enum Kernels {
    /// Worker threads for parallel kernels: `REFLEX_THREADS` or the CPUs available.
    public static var threads: Int { Int(rk_num_threads()) }

    /// Runs `body` with OpenBLAS limited to one thread (for BLAS calls made from several of our
    /// pool's threads at once), then restores the shared thread count.
    public static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(threads)) }
        return try body()
    }

    /// Sets the thread count for our pool and OpenBLAS (n ≥ 1).
    public static func setThreads(_ n: Int) {
        let n = Swift.max(1, n)
        rk_set_num_threads(Int32(n))
        openblas_set_num_threads(Int32(n))
    }
}
