/// The language model's configuration, decoded from config.json's `text_config` (Hugging Face
/// keys for Llama and Qwen2).
public struct TextConfig: Codable, Sendable, Equatable {
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int?
    public var rmsNormEps: Float
    public var ropeTheta: Double?
    public var tieWordEmbeddings: Bool?
    public var maxPositionEmbeddings: Int?
    public var attentionBias: Bool?
    /// `head_dim`, when the file gives it (must be hidden_size / num_attention_heads here).
    public var headDim: Int? = nil
    /// `hidden_act` (the decoder implements SiLU only).
    public var hiddenAct: String? = nil
    /// `mlp_bias` (the decoder's MLP has no biases).
    public var mlpBias: Bool? = nil
    /// Qwen2's `use_sliding_window` / `sliding_window` (the decoder attends to every position).
    public var useSlidingWindow: Bool? = nil
    public var slidingWindow: Int? = nil

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta", tieWordEmbeddings = "tie_word_embeddings"
        case maxPositionEmbeddings = "max_position_embeddings", attentionBias = "attention_bias"
        case headDim = "head_dim", hiddenAct = "hidden_act", mlpBias = "mlp_bias"
        case useSlidingWindow = "use_sliding_window", slidingWindow = "sliding_window"
    }

    /// Supported decoder families.
    public static let supportedTypes = ["llama", "qwen2"]

    /// Decodes with the Hugging Face class defaults (`LlamaConfig`, `Qwen2Config`) for absent keys:
    /// OpenVLA-7B's own `text_config` lists little more than `model_type` and `vocab_size`, and
    /// transformers fills the rest from those defaults (rms_norm_eps 1e-6 included).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decode(String.self, forKey: .modelType)
        let qwen = modelType == "qwen2"
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? (qwen ? 151936 : 32000)
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? 4096
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? (qwen ? 22016 : 11008)
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? 32
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? 32
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads)
        rmsNormEps = try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? 1e-6
        ropeTheta = try Self.decodeRope(decoder, topLevel: try c.decodeIfPresent(Double.self, forKey: .ropeTheta))
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings)
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias)
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim)
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct)
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias)
        useSlidingWindow = try c.decodeIfPresent(Bool.self, forKey: .useSlidingWindow)
        slidingWindow = try c.decodeIfPresent(Int.self, forKey: .slidingWindow)
    }

    public init(modelType: String, vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, numKeyValueHeads: Int?, rmsNormEps: Float, ropeTheta: Double?,
                tieWordEmbeddings: Bool?, maxPositionEmbeddings: Int?, attentionBias: Bool?) {
        self.modelType = modelType
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.attentionBias = attentionBias
    }

    /// RoPE as transformers 4 (`rope_theta`, `rope_scaling`) and 5 (`rope_parameters` with
    /// `rope_type` and `rope_theta`) write it. Only plain RoPE is implemented: any other
    /// `rope_type` (linear, dynamic, yarn, llama3, …) or a partial rotary factor is an error naming
    /// the key, never silently ignored; θ must be finite and positive, and agree where given twice.
    static func decodeRope(_ decoder: Decoder, topLevel: Double?) throws -> Double? {
        let c = try decoder.container(keyedBy: RopeKeys.self)
        var theta = topLevel
        var source = CodingKeys.ropeTheta.stringValue
        if let t = topLevel, !(t.isFinite && t > 0) {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.ropeTheta],
                                                    debugDescription: "must be a finite positive number, got \(t)"))
        }
        for key in [RopeKeys.ropeParameters, .ropeScaling] {
            guard let p = try c.decodeIfPresent(RopeParameters.self, forKey: key), let t = p.ropeTheta else { continue }
            if let theta, theta != t {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [key, RopeParameters.Keys.ropeTheta],
                                                        debugDescription: "\(t) disagrees with \(source) \(theta)"))
            }
            theta = t
            source = key.stringValue + ".rope_theta"
        }
        return theta
    }

    enum RopeKeys: String, CodingKey {
        case ropeParameters = "rope_parameters", ropeScaling = "rope_scaling"
    }

    /// `rope_parameters` / `rope_scaling`: only the default RoPE type is accepted.
    struct RopeParameters: Decodable {
        var ropeTheta: Double?

        enum Keys: String, CodingKey {
            case ropeType = "rope_type", type, ropeTheta = "rope_theta", partialRotaryFactor = "partial_rotary_factor"
        }

        /// Types that mean plain RoPE.
        static let supported: Set<String> = ["default"]

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            for key in [Keys.ropeType, .type] {
                if let t = try c.decodeIfPresent(String.self, forKey: key), !Self.supported.contains(t) {
                    throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription:
                        "unsupported RoPE type \"\(t)\" (this runtime implements only default RoPE)")
                }
            }
            if let f = try c.decodeIfPresent(Double.self, forKey: .partialRotaryFactor), f != 1 {
                throw DecodingError.dataCorruptedError(forKey: .partialRotaryFactor, in: c, debugDescription:
                    "partial rotary factor \(f) is not supported (only full-width RoPE, 1.0)")
            }
            ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
            if let t = ropeTheta, !(t.isFinite && t > 0) {
                throw DecodingError.dataCorruptedError(forKey: .ropeTheta, in: c, debugDescription: "must be a finite positive number, got \(t)")
            }
        }
    }

    /// Qwen2 always has q/k/v biases; Llama only with `attention_bias`.
    public var hasQKVBias: Bool { modelType == "qwen2" || attentionBias == true }
    public var kvHeads: Int { numKeyValueHeads ?? numAttentionHeads }
    public var theta: Double { ropeTheta ?? 10_000 }
    /// Both LlamaConfig and Qwen2Config default tie_word_embeddings to false.
    public var tiedEmbeddings: Bool { tieWordEmbeddings ?? false }

    /// The per-layer sizes.
    public var layerConfig: DecoderLayerConfig {
        DecoderLayerConfig(hidden: hiddenSize, heads: numAttentionHeads, kvHeads: kvHeads,
                           intermediate: intermediateSize, rmsEps: rmsNormEps, qkvBias: hasQKVBias)
    }
}

/// A Llama-2 / Qwen2 decoder-only language model that consumes embeddings (so image tokens can be
/// spliced in) and keeps one KV cache per layer.
public struct CausalLM: Sendable {
    public let config: TextConfig
    public let embedTokens: Tensor  // [vocab rows, hidden]
    public let layers: [DecoderLayer]
    public let norm: Tensor
    public let lmHead: any LinearLayer
    public let rope: RotaryEmbedding

    public init(config: TextConfig, embedTokens: Tensor, layers: [DecoderLayer], norm: Tensor,
                lmHead: any LinearLayer, maxPositions: Int) throws {
        guard embedTokens.rank == 2, embedTokens.shape[1] == config.hiddenSize else {
            throw TensorError.shapeMismatch(op: "CausalLM", "embed_tokens \(embedTokens.shape) for hidden \(config.hiddenSize)")
        }
        guard layers.count == config.numHiddenLayers, norm.count == config.hiddenSize,
              lmHead.inFeatures == config.hiddenSize else {
            throw TensorError.shapeMismatch(op: "CausalLM", "\(layers.count) layers, norm \(norm.shape), lm_head in \(lmHead.inFeatures) for \(config.numHiddenLayers) layers of \(config.hiddenSize)")
        }
        let heads = config.numAttentionHeads, kv = config.kvHeads
        guard heads > 0, kv > 0, config.hiddenSize % heads == 0, heads % kv == 0, config.numHiddenLayers >= 0 else {
            throw TensorError.invalidArgument("CausalLM: hidden \(config.hiddenSize) with \(heads) heads, \(kv) kv heads, \(config.numHiddenLayers) layers")
        }
        self.config = config
        self.embedTokens = embedTokens
        self.layers = layers
        self.norm = norm
        self.lmHead = lmHead
        rope = try RotaryEmbedding(headDim: config.hiddenSize / config.numAttentionHeads, theta: config.theta,
                                   maxPositions: maxPositions)
    }

    /// Empty caches sized for `capacity` positions.
    public func makeCaches(capacity: Int) -> [KVCache] {
        let hd = config.hiddenSize / config.numAttentionHeads
        return (0..<layers.count).map { _ in KVCache(kvHeads: config.kvHeads, headDim: hd, capacity: capacity) }
    }

    /// Embeddings of token ids [ids.count, hidden].
    public func embed(_ ids: [Int]) throws -> Tensor { try embedTokens.embedding(ids) }

    /// Runs the decoder over embeddings [T, hidden] (the next T positions) and returns the final
    /// normalized hidden states [T, hidden]. Rotary positions: `positions` when given, else the cache's count plus
    /// `positionShift` onwards (a prompt whose pruned tokens kept their original positions decodes after the gap).
    public func forward(_ embeddings: Tensor, caches: inout [KVCache], positions: [Int]? = nil, positionShift: Int = 0) throws -> Tensor {
        guard caches.count == layers.count else {
            throw TensorError.invalidArgument("CausalLM: \(caches.count) caches for \(layers.count) layers")
        }
        var h = embeddings
        for i in layers.indices { h = try layers[i](h, cache: &caches[i], rope: rope, positions: positions, positionShift: positionShift) }
        return try h.rmsNorm(weight: norm, eps: config.rmsNormEps)
    }

    /// Logits [T, vocab rows] of normalized hidden states.
    public func logits(_ hidden: Tensor) throws -> Tensor { try lmHead(hidden) }
}
