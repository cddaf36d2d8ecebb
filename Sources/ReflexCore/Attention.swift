#if canImport(Glibc)
import Glibc
#endif
import CKernels

/// Keys and values of past positions for one decoder layer, preallocated to `capacity` positions.
/// `append` adds rows in place (no reallocation); the prompt is appended once (prefill), then one
/// row per generated token.
public struct KVCache: Sendable {
    public let kvHeads: Int
    public let headDim: Int
    public let capacity: Int
    /// Positions filled so far.
    public private(set) var count = 0
    /// [capacity, kvHeads × headDim]; rows `0..<count` are valid.
    public private(set) var keys: Tensor
    public private(set) var values: Tensor

    public init(kvHeads: Int, headDim: Int, capacity: Int) {
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.capacity = capacity
        keys = Tensor(zeros: [capacity, kvHeads * headDim])
        values = Tensor(zeros: [capacity, kvHeads * headDim])
    }

    /// Appends k and v, each [T, kvHeads × headDim].
    public mutating func append(keys k: Tensor, values v: Tensor) throws {
        let width = kvHeads * headDim
        guard k.rank == 2, k.shape == v.shape, k.lastDim == width else {
            throw TensorError.shapeMismatch(op: "KVCache.append", "keys \(k.shape), values \(v.shape), expected [T, \(width)]")
        }
        let t = k.shape[0]
        guard count + t <= capacity else {
            throw TensorError.invalidArgument("KVCache.append: \(count) + \(t) positions exceed capacity \(capacity)")
        }
        keys.withUnsafeMutableBufferPointer { (dst: UnsafeMutableBufferPointer<Float>) in
            (dst.baseAddress! + count * width).update(from: k.storage.pointer, count: t * width)
        }
        values.withUnsafeMutableBufferPointer { (dst: UnsafeMutableBufferPointer<Float>) in
            (dst.baseAddress! + count * width).update(from: v.storage.pointer, count: t * width)
        }
        count += t
    }

    /// Forgets every position (the buffers are kept).
    public mutating func reset() { count = 0 }
}

/// Scaled dot-product attention with grouped-query heads, computed head by head with two GEMMs
/// (scores = Q·Kᵀ, out = P·V) straight from the strided [T, heads × headDim] layouts.
public enum Attention {
    /// q [T, heads × d] against the first `keyCount` rows of k and v [≥keyCount, kvHeads × d].
    /// Query row t sits at absolute position `queryStart + t`; with `causal` it sees keys
    /// `0...queryStart + t`, otherwise all `keyCount` keys. `heads` must be a multiple of `kvHeads`.
    /// Returns [T, heads × d].
    public static func scaledDotProduct(
        q: Tensor, k: Tensor, v: Tensor, keyCount: Int, heads: Int, kvHeads: Int,
        causal: Bool, queryStart: Int = 0
    ) throws -> Tensor {
        guard heads > 0, kvHeads > 0, heads % kvHeads == 0, q.rank == 2, q.lastDim % heads == 0 else {
            throw TensorError.shapeMismatch(op: "attention", "q \(q.shape) with \(heads) heads / \(kvHeads) kv heads")
        }
        let t = q.shape[0], d = q.lastDim / heads, kvWidth = kvHeads * d
        guard k.rank == 2, v.shape == k.shape, k.lastDim == kvWidth, keyCount >= 0, keyCount <= k.shape[0] else {
            throw TensorError.shapeMismatch(op: "attention", "q \(q.shape), k \(k.shape), v \(v.shape), keyCount \(keyCount), expected k/v [≥\(keyCount), \(kvWidth)]")
        }
        if causal && queryStart + t > keyCount {
            throw TensorError.invalidArgument("attention: causal queries up to position \(queryStart + t - 1) need \(queryStart + t) keys, have \(keyCount)")
        }
        let out = Tensor(zeros: q.shape)
        if t == 0 || keyCount == 0 { return out }
        let s = keyCount, group = heads / kvHeads, scale = Float(1 / Double(d).squareRoot())
        let qp = q.storage.pointer, kp = k.storage.pointer, vp = v.storage.pointer, op = out.storage.pointer

        /// One head: scores = q_h·k_hᵀ·scale, masked row softmax, out_h = P·v_h. Returns the
        /// nanoseconds spent in the two products when `timeGemm` (for the profiler, which worker
        /// threads must not touch).
        func head(_ h: Int, _ sp: UnsafeMutablePointer<Float>, profile: Bool, parallelSoftmax: Bool, timeGemm: Bool) -> UInt64 {
            let kvh = h / group
            let t0 = timeGemm ? monotonicNanos() : 0
            sgemm(transB: true, m: t, n: s, k: d, alpha: scale, a: qp + h * d, lda: heads * d,
                  b: kp + kvh * d, ldb: kvWidth, c: sp, ldc: s, profile: profile)
            let t1 = timeGemm ? monotonicNanos() : 0
            let softmaxRows = { (range: Range<Int>) in
                for r in range {
                    let row = sp + r * s
                    let valid = causal ? Swift.min(s, queryStart + r + 1) : s
                    rk_softmax(row, valid)
                    if valid < s { (row + valid).update(repeating: 0, count: s - valid) }
                }
            }
            if parallelSoftmax { parallelRows(t, minRows: 8, softmaxRows) } else { softmaxRows(0..<t) }
            let t2 = timeGemm ? monotonicNanos() : 0
            sgemm(m: t, n: d, k: s, a: sp, lda: s, b: vp + kvh * d, ldb: kvWidth,
                  c: op + h * d, ldc: heads * d, profile: profile)
            return timeGemm ? (t1 &- t0) &+ (monotonicNanos() &- t2) : 0
        }

        let threads = Kernels.threads
        if threads > 1 && heads >= threads && t >= 16 {
            // Many small products (e.g. 261×261×64 per ViT head): one head per task with
            // single-threaded OpenBLAS beats splitting each small product across threads.
            let scores = Tensor(uninitialized: [threads, t * s])
            var gemmNanos = [UInt64](repeating: 0, count: heads)
            let profiling = GemmProfiler.enabled
            Kernels.withSingleThreadedBLAS {
                gemmNanos.withUnsafeMutableBufferPointer { times in
                    parallelFor(threads) { worker in
                        // Heads are dealt round-robin; each worker owns one scores buffer.
                        for h in stride(from: worker, to: heads, by: threads) {
                            times[h] = head(h, scores.storage.pointer + worker * t * s, profile: false,
                                            parallelSoftmax: false, timeGemm: profiling)
                        }
                    }
                }
            }
            if profiling {
                // Summed over workers that ran concurrently: scaled by 1/threads to stay wall time.
                GemmProfiler.nanoseconds &+= gemmNanos.reduce(0, &+) / UInt64(threads)
                GemmProfiler.calls += 2 * heads
                GemmProfiler.flops += 4 * Double(heads) * Double(t) * Double(s) * Double(d)
            }
        } else {
            let scores = Tensor(uninitialized: [t, s])
            for h in 0..<heads { _ = head(h, scores.storage.pointer, profile: true, parallelSoftmax: true, timeGemm: false) }
        }
        return out
    }

    /// Attention of q [T, heads × d] over a cache that already holds this step's keys and values:
    /// the queries are the last T positions of the cache.
    public static func cached(q: Tensor, cache: KVCache, heads: Int, causal: Bool = true) throws -> Tensor {
        try scaledDotProduct(q: q, k: cache.keys, v: cache.values, keyCount: cache.count,
                             heads: heads, kvHeads: cache.kvHeads, causal: causal,
                             queryStart: cache.count - q.shape[0])
    }
}
