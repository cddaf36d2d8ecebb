import COpenBLAS

/// Cumulative time spent inside fp32 GEMM calls, for the "share of time outside GEMM" measurement.
/// Off by default; benchmarks switch it on. Not synchronised: enable only from one thread.
public enum GemmProfiler {
    nonisolated(unsafe) public static var enabled = false
    nonisolated(unsafe) public static var nanoseconds: UInt64 = 0
    nonisolated(unsafe) public static var calls = 0
    nonisolated(unsafe) public static var flops: Double = 0

    /// Zeroes the counters.
    public static func reset() { nanoseconds = 0; calls = 0; flops = 0 }
}

/// Row-major fp32 GEMM through OpenBLAS (sgemv when op(A) is a single row): C = alpha · op(A) · op(B) + beta · C, where op(A) is M×K
/// and op(B) is K×N. Leading dimensions are row strides in elements. No shape checks: callers
/// (the Tensor operations) validate shapes before calling.
@inlinable
public func sgemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, profile: Bool = true
) {
    if m == 0 || n == 0 { return }
    let profiling = profile && GemmProfiler.enabled
    let t0 = profiling ? monotonicNanos() : 0
    if m == 1 && !transA {
        // One row (decoding): a matrix-vector product. sgemm would repack the whole weight matrix
        // on every call; sgemv streams it once. y = op(B)ᵀ-shaped: c[j] = Σ_p a[p] · op(B)[p][j].
        if transB {
            // B is [n, k] (weights in the Hugging Face layout): c = B · a.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb), a, 1, beta, c, 1)
        } else {
            // B is [k, n]: c = Bᵀ · a.
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb), a, 1, beta, c, 1)
        }
    } else {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    if profiling {
        GemmProfiler.nanoseconds &+= monotonicNanos() &- t0
        GemmProfiler.calls += 1
        GemmProfiler.flops += 2 * Double(m) * Double(n) * Double(k)
    }
}
