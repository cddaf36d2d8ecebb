import Testing
import ReflexTestSupport
@testable import ReflexCore

@Suite("Rotary embeddings and attention")
struct RotaryAttentionTests {
    @Test(arguments: [2, 8, 64, 128])
    func ropeMatchesReference(_ d: Int) throws {
        var rng = freshRNG()
        let heads = 3, t = 5, start = 37
        let rope = try RotaryEmbedding(headDim: d, theta: 10_000, maxPositions: 64)
        var x = Tensor.gaussian([t, heads * d], rng: &rng)
        let xd = toDouble(x)
        try rope.apply(&x, heads: heads, start: start)
        for r in 0..<t {
            for h in 0..<heads {
                let off = r * heads * d + h * d
                let ref = ropeRef(Array(xd[off..<(off + d)]), pos: start + r, theta: 10_000)
                #expect(maxAbsError(Array(toDouble(x)[off..<(off + d)]), ref) < 1e-5)
            }
        }
        #expect(throws: TensorError.invalidArgument("rope: positions 62..<67 exceed the table of 64 positions")) {
            try rope.apply(&x, heads: heads, start: 62)
        }
    }

    /// Explicit positions (a pruned prompt that keeps its original positions): row t rotates by positions[t].
    @Test func ropeAtExplicitPositions() throws {
        var rng = freshRNG()
        let heads = 2, d = 8, positions = [0, 3, 4, 9, 63]
        let rope = try RotaryEmbedding(headDim: d, theta: 10_000, maxPositions: 64)
        var x = Tensor.gaussian([positions.count, heads * d], rng: &rng)
        let xd = toDouble(x)
        try rope.apply(&x, heads: heads, start: 0, positions: positions)
        for (r, pos) in positions.enumerated() {
            for h in 0..<heads {
                let off = r * heads * d + h * d
                #expect(maxAbsError(Array(toDouble(x)[off..<(off + d)]), ropeRef(Array(xd[off..<(off + d)]), pos: pos, theta: 10_000)) < 1e-5)
            }
        }
        #expect(throws: TensorError.invalidArgument("rope: 2 positions for 5 rows, or one outside the table of 64 positions")) {
            try rope.apply(&x, heads: heads, start: 0, positions: [0, 1])
        }
        #expect(throws: TensorError.invalidArgument("rope: 5 positions for 5 rows, or one outside the table of 64 positions")) {
            try rope.apply(&x, heads: heads, start: 0, positions: [0, 1, 2, 3, 64])
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let t, s, heads, kvHeads, d: Int
        let causal: Bool
        var testDescription: String { "T\(t) S\(s) H\(heads)/\(kvHeads) d\(d) \(causal ? "causal" : "full")" }
    }

    @Test(arguments: [
        Case(t: 1, s: 1, heads: 1, kvHeads: 1, d: 4, causal: true),
        Case(t: 7, s: 7, heads: 4, kvHeads: 4, d: 16, causal: true),
        Case(t: 7, s: 7, heads: 6, kvHeads: 2, d: 8, causal: false),
        Case(t: 3, s: 11, heads: 14, kvHeads: 2, d: 64, causal: true),
        Case(t: 1, s: 40, heads: 4, kvHeads: 1, d: 24, causal: true),
        Case(t: 17, s: 17, heads: 2, kvHeads: 1, d: 33, causal: false),
    ])
    func attentionMatchesReference(_ c: Case) throws {
        var rng = freshRNG()
        let q = Tensor.gaussian([c.t, c.heads * c.d], rng: &rng)
        let k = Tensor.gaussian([c.s, c.kvHeads * c.d], rng: &rng)
        let v = Tensor.gaussian([c.s, c.kvHeads * c.d], rng: &rng)
        let start = c.causal ? c.s - c.t : 0
        let out = try Attention.scaledDotProduct(q: q, k: k, v: v, keyCount: c.s, heads: c.heads,
                                                 kvHeads: c.kvHeads, causal: c.causal, queryStart: start)
        let ref = attentionRef(q: toDouble(q), k: toDouble(k), v: toDouble(v), t: c.t, s: c.s, heads: c.heads,
                               kvHeads: c.kvHeads, d: c.d, causal: c.causal, start: start)
        #expect(maxAbsError(toDouble(out), ref) < 2e-5)
    }

    @Test func cacheAppendsAndDecodingMatchesPrefill() throws {
        var rng = freshRNG()
        let heads = 4, kvHeads = 2, d = 8, total = 9
        let q = Tensor.gaussian([total, heads * d], rng: &rng)
        let k = Tensor.gaussian([total, kvHeads * d], rng: &rng)
        let v = Tensor.gaussian([total, kvHeads * d], rng: &rng)
        var full = KVCache(kvHeads: kvHeads, headDim: d, capacity: total)
        try full.append(keys: k, values: v)
        let prefill = try Attention.cached(q: q, cache: full, heads: heads)

        var cache = KVCache(kvHeads: kvHeads, headDim: d, capacity: total)
        try cache.append(keys: k.slice(axis: 0, 0..<5), values: v.slice(axis: 0, 0..<5))
        let first = try Attention.cached(q: q.slice(axis: 0, 0..<5), cache: cache, heads: heads)
        var rows = [first]
        for p in 5..<total {
            try cache.append(keys: k.slice(axis: 0, p..<(p + 1)), values: v.slice(axis: 0, p..<(p + 1)))
            rows.append(try Attention.cached(q: q.slice(axis: 0, p..<(p + 1)), cache: cache, heads: heads))
        }
        #expect(cache.count == total)
        #expect(maxAbsError(toDouble(try Tensor.concat(rows, axis: 0)), toDouble(prefill)) < 1e-5)
        #expect(throws: TensorError.invalidArgument("KVCache.append: 9 + 1 positions exceed capacity 9")) {
            try cache.append(keys: k.slice(axis: 0, 0..<1), values: v.slice(axis: 0, 0..<1))
        }
    }
}
