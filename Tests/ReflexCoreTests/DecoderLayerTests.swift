import Testing
import ReflexTestSupport
@testable import ReflexCore

@Suite("Llama/Qwen2 decoder layer")
struct DecoderLayerTests {
    static let tiny = DecoderLayerConfig(hidden: 32, heads: 4, kvHeads: 2, intermediate: 48, rmsEps: 1e-6, qkvBias: true)

    /// The whole block in double from the layer's own fp32 weights.
    func reference(_ layer: DecoderLayer, _ x: Tensor, theta: Double) -> [Double] {
        let c = layer.config, t = x.shape[0], d = c.hidden, hd = c.headDim
        func lin(_ l: any LinearLayer, _ input: [Double], rows: Int) -> [Double] {
            let lin = l as! Linear
            var y = matmulABt(input, toDouble(lin.weight), m: rows, n: l.outFeatures, k: l.inFeatures)
            if let b = lin.bias { for i in y.indices { y[i] += Double(b[flat: i % l.outFeatures]) } }
            return y
        }
        func norm(_ input: [Double], _ w: Tensor) -> [Double] {
            (0..<t).flatMap { rmsNormRef(Array(input[($0 * d)..<(($0 + 1) * d)]), toDouble(w), eps: Double(c.rmsEps)) }
        }
        func rope(_ v: [Double], heads: Int) -> [Double] {
            var out = v
            for r in 0..<t {
                for h in 0..<heads {
                    let off = (r * heads + h) * hd
                    out.replaceSubrange(off..<(off + hd), with: ropeRef(Array(v[off..<(off + hd)]), pos: r, theta: theta))
                }
            }
            return out
        }
        let xd = toDouble(x)
        let h = norm(xd, layer.inputNorm)
        let q = rope(lin(layer.q, h, rows: t), heads: c.heads), k = rope(lin(layer.k, h, rows: t), heads: c.kvHeads)
        let v = lin(layer.v, h, rows: t)
        let attn = attentionRef(q: q, k: k, v: v, t: t, s: t, heads: c.heads, kvHeads: c.kvHeads, d: hd, causal: true, start: 0)
        let o = lin(layer.o, attn, rows: t)
        let x1 = xd.indices.map { xd[$0] + o[$0] }
        let h2 = norm(x1, layer.postAttentionNorm)
        let g = lin(layer.gate, h2, rows: t), u = lin(layer.up, h2, rows: t)
        let act = g.indices.map { siluRef(g[$0]) * u[$0] }
        let down = lin(layer.down, act, rows: t)
        return x1.indices.map { x1[$0] + down[$0] }
    }

    @Test func prefillMatchesDoubleReference() throws {
        let layer = try DecoderLayer.random(Self.tiny, seed: UInt64.random(in: 1...1000))
        var rng = freshRNG()
        let x = Tensor.gaussian([6, 32], rng: &rng)
        let rope = try RotaryEmbedding(headDim: 8, theta: 10_000, maxPositions: 16)
        var cache = KVCache(kvHeads: 2, headDim: 8, capacity: 16)
        let y = try layer(x, cache: &cache, rope: rope)
        #expect(cache.count == 6)
        #expect(maxAbsError(toDouble(y), reference(layer, x, theta: 10_000)) < 1e-5)
    }

    @Test func tokenByTokenDecodingMatchesPrefill() throws {
        let layer = try DecoderLayer.random(Self.tiny, seed: 3)
        var rng = freshRNG()
        let x = Tensor.gaussian([5, 32], rng: &rng)
        let rope = try RotaryEmbedding(headDim: 8, theta: 1_000_000, maxPositions: 8)
        var full = KVCache(kvHeads: 2, headDim: 8, capacity: 8)
        let prefill = try layer(x, cache: &full, rope: rope)
        var cache = KVCache(kvHeads: 2, headDim: 8, capacity: 8)
        var rows: [Tensor] = [try layer(x.slice(axis: 0, 0..<2), cache: &cache, rope: rope)]
        for p in 2..<5 { rows.append(try layer(x.slice(axis: 0, p..<(p + 1)), cache: &cache, rope: rope)) }
        #expect(maxAbsError(toDouble(try Tensor.concat(rows, axis: 0)), toDouble(prefill)) < 1e-5)
    }

    @Test func int8LayerTracksFloatLayer() throws {
        let fp = try DecoderLayer.random(Self.tiny, seed: 9)
        let q8 = try DecoderLayer.random(Self.tiny, quantized: true, seed: 9)
        var rng = freshRNG()
        let x = Tensor.gaussian([4, 32], rng: &rng)
        let rope = try RotaryEmbedding(headDim: 8, theta: 10_000, maxPositions: 8)
        var c1 = KVCache(kvHeads: 2, headDim: 8, capacity: 8), c2 = c1
        let a = try fp(x, cache: &c1, rope: rope), b = try q8(x, cache: &c2, rope: rope)
        // The residual stream dominates; the int8 projections perturb it slightly.
        #expect(relativeError(toDouble(b), toDouble(a)) < 0.01)
    }

    @Test func mismatchedProjectionIsNamed() throws {
        let ok = try DecoderLayer.random(Self.tiny)
        #expect(throws: TensorError.shapeMismatch(op: "DecoderLayer", "k_proj is [32, 32], expected [16, 32]")) {
            try DecoderLayer(config: Self.tiny, inputNorm: ok.inputNorm, postAttentionNorm: ok.postAttentionNorm,
                             q: ok.q, k: ok.q, v: ok.v, o: ok.o, gate: ok.gate, up: ok.up, down: ok.down)
        }
    }
}
