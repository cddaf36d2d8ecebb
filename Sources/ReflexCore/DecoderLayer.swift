/// Sizes of one Llama-2 / Qwen2 decoder layer.
public struct DecoderLayerConfig: Sendable, Equatable {
    public var hidden: Int
    public var heads: Int
    public var kvHeads: Int
    public var intermediate: Int
    public var rmsEps: Float
    /// Qwen2 has biases on q/k/v projections; Llama-2 has none.
    public var qkvBias: Bool

    public init(hidden: Int, heads: Int, kvHeads: Int, intermediate: Int, rmsEps: Float = 1e-6, qkvBias: Bool = false) {
        self.hidden = hidden
        self.heads = heads
        self.kvHeads = kvHeads
        self.intermediate = intermediate
        self.rmsEps = rmsEps
        self.qkvBias = qkvBias
    }

    public var headDim: Int { hidden / heads }

    /// One layer of Qwen2.5-0.5B (MiniVLA's language model).
    public static let qwen25_05B = DecoderLayerConfig(hidden: 896, heads: 14, kvHeads: 2, intermediate: 4864, qkvBias: true)
    /// One layer of Llama-2-7B (OpenVLA-7B's language model).
    public static let llama2_7B = DecoderLayerConfig(hidden: 4096, heads: 32, kvHeads: 32, intermediate: 11008, rmsEps: 1e-5)
}

/// One pre-norm decoder block shared by Llama-2 and Qwen2:
/// x += o(attn(rope(q(n1(x))), rope(k(n1(x))), v(n1(x)))); x += down(silu(gate(n2(x))) · up(n2(x))).
/// Projections are ``LinearLayer``s, so the same block runs fp32 or int8.
public struct DecoderLayer: Sendable {
    public let config: DecoderLayerConfig
    public let inputNorm: Tensor
    public let postAttentionNorm: Tensor
    public let q: any LinearLayer, k: any LinearLayer, v: any LinearLayer, o: any LinearLayer
    public let gate: any LinearLayer, up: any LinearLayer, down: any LinearLayer

    public init(
        config: DecoderLayerConfig, inputNorm: Tensor, postAttentionNorm: Tensor,
        q: any LinearLayer, k: any LinearLayer, v: any LinearLayer, o: any LinearLayer,
        gate: any LinearLayer, up: any LinearLayer, down: any LinearLayer
    ) throws {
        let c = config, d = c.hidden, kv = c.kvHeads * c.headDim
        guard c.heads > 0, c.kvHeads > 0, d % c.heads == 0, c.heads % c.kvHeads == 0 else {
            throw TensorError.invalidArgument("DecoderLayer: hidden \(d) with \(c.heads) heads and \(c.kvHeads) kv heads")
        }
        let expected: [(String, any LinearLayer, Int, Int)] = [
            ("q_proj", q, d, d), ("k_proj", k, d, kv), ("v_proj", v, d, kv), ("o_proj", o, d, d),
            ("gate_proj", gate, d, c.intermediate), ("up_proj", up, d, c.intermediate), ("down_proj", down, c.intermediate, d),
        ]
        for (name, layer, i, o) in expected where layer.inFeatures != i || layer.outFeatures != o {
            throw TensorError.shapeMismatch(op: "DecoderLayer", "\(name) is [\(layer.outFeatures), \(layer.inFeatures)], expected [\(o), \(i)]")
        }
        guard inputNorm.count == d, postAttentionNorm.count == d else {
            throw TensorError.shapeMismatch(op: "DecoderLayer", "norm weights \(inputNorm.shape), \(postAttentionNorm.shape) for hidden \(d)")
        }
        self.config = config
        self.inputNorm = inputNorm
        self.postAttentionNorm = postAttentionNorm
        self.q = q; self.k = k; self.v = v; self.o = o
        self.gate = gate; self.up = up; self.down = down
    }

    /// Runs the block on x [T, hidden] whose rows follow the cache's (causally); their rotary positions are
    /// `cache.count + positionShift + t`, or `positions` when given. Appends this step's keys and values to `cache`.
    public func callAsFunction(_ x: Tensor, cache: inout KVCache, rope: RotaryEmbedding,
                               positions: [Int]? = nil, positionShift: Int = 0) throws -> Tensor {
        let c = config
        let start = cache.count + positionShift
        let h = try x.rmsNorm(weight: inputNorm, eps: c.rmsEps)
        var qs = try q(h), ks = try k(h)
        let vs = try v(h)
        try rope.apply(&qs, heads: c.heads, start: start, positions: positions)
        try rope.apply(&ks, heads: c.kvHeads, start: start, positions: positions)
        try cache.append(keys: ks, values: vs)
        let attn = try Attention.cached(q: qs, cache: cache, heads: c.heads)
        var out = x
        try out.add(try o(attn))
        let h2 = try out.rmsNorm(weight: postAttentionNorm, eps: c.rmsEps)
        let act = try Tensor.siluMul(gate: try gate(h2), up: try up(h2))
        try out.add(try down(act))
        return out
    }

    /// A layer with N(0, 0.02²) weights (unit norm gains), fp32 or int8, for benchmarks and tests.
    public static func random(_ c: DecoderLayerConfig, quantized: Bool = false, seed: UInt64 = 1) throws -> DecoderLayer {
        var rng = SplitMix64(seed: seed)
        func lin(_ out: Int, _ inp: Int, bias: Bool) throws -> any LinearLayer {
            let w = Tensor.gaussian([out, inp], std: 0.02, rng: &rng)
            let b = bias ? Tensor.gaussian([out], std: 0.02, rng: &rng) : nil
            return quantized ? try QuantizedLinear(weight: w, bias: b) : try Linear(weight: w, bias: b)
        }
        let d = c.hidden, kv = c.kvHeads * c.headDim
        let ones = Tensor(shape: [d]) { _ in 1 }
        return try DecoderLayer(
            config: c, inputNorm: ones, postAttentionNorm: ones,
            q: try lin(d, d, bias: c.qkvBias), k: try lin(kv, d, bias: c.qkvBias), v: try lin(kv, d, bias: c.qkvBias),
            o: try lin(d, d, bias: false),
            gate: try lin(c.intermediate, d, bias: false), up: try lin(c.intermediate, d, bias: false),
            down: try lin(d, c.intermediate, bias: false))
    }
}
