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

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta", tieWordEmbeddings = "tie_word_embeddings"
        case maxPositionEmbeddings = "max_position_embeddings", attentionBias = "attention_bias"
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
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings)
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias)
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
    /// normalized hidden states [T, hidden].
    public func forward(_ embeddings: Tensor, caches: inout [KVCache]) throws -> Tensor {
        guard caches.count == layers.count else {
            throw TensorError.invalidArgument("CausalLM: \(caches.count) caches for \(layers.count) layers")
        }
        var h = embeddings
        for i in layers.indices { h = try layers[i](h, cache: &caches[i], rope: rope) }
        return try h.rmsNorm(weight: norm, eps: config.rmsNormEps)
    }

    /// Logits [T, vocab rows] of normalized hidden states.
    public func logits(_ hidden: Tensor) throws -> Tensor { try lmHead(hidden) }
}
