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
        let scores = Tensor(uninitialized: [t, s])
        let sp = scores.storage.pointer
        for h in 0..<heads {
            let kvh = h / group
            sgemm(transB: true, m: t, n: s, k: d, alpha: scale,
                  a: q.storage.pointer + h * d, lda: heads * d,
                  b: k.storage.pointer + kvh * d, ldb: kvWidth, c: sp, ldc: s)
            parallelRows(t, minRows: 8) { range in
                for r in range {
                    let row = sp + r * s
                    let valid = causal ? Swift.min(s, queryStart + r + 1) : s
                    rk_softmax(row, valid)
                    if valid < s { (row + valid).update(repeating: 0, count: s - valid) }
                }
            }
            sgemm(m: t, n: d, k: s, a: sp, lda: s,
                  b: v.storage.pointer + kvh * d, ldb: kvWidth,
                  c: out.storage.pointer + h * d, ldc: heads * d)
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
