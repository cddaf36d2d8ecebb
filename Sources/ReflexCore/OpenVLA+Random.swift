/// Random-weight models of real sizes, for benchmarks that need no checkpoint.
extension OpenVLA {
    /// Weight generator: a fast uniform fill with the standard deviation of N(0, 0.02²).
    struct RandomWeights {
        var rng: SplitMix64

        mutating func tensor(_ shape: [Int], std: Float = 0.02) -> Tensor {
            // Uniform on [-a, a] has std a/√3.
            let a = std * Float(3).squareRoot()
            return Tensor.uniform(shape, in: -a, a, rng: &rng)
        }

        mutating func linear(_ out: Int, _ inp: Int, bias: Bool, int8: Bool) throws -> any LinearLayer {
            let w = tensor([out, inp])
            let b = bias ? tensor([out]) : nil
            return int8 ? try QuantizedLinear(weight: w, bias: b) : try Linear(weight: w, bias: b)
        }
    }

    /// An OpenVLA with random weights: the given encoders (fused projector when two), a decoder of
    /// `text` with `layers` layers (default: all of them), fp32 or int8 linear layers.
    public static func random(vision: [VisionConfig], text: TextConfig, layers: Int? = nil, int8: Bool,
                              seed: UInt64 = 1, actionVocab: Int? = nil) throws -> OpenVLA {
        var r = RandomWeights(rng: SplitMix64(seed: seed))
        let ones = { (n: Int) in Tensor(shape: [n]) { _ in 1 } }
        var probeWeights = RandomWeights(rng: SplitMix64(seed: seed &+ 0x5EED_0F_A77E))
        var encoders: [VisionEncoder] = []
        for c in vision {
            let d = c.width
            var blocks: [ViTBlock] = []
            for _ in 0..<(c.depth - 1) {
                blocks.append(ViTBlock(
                    norm1: (ones(d), r.tensor([d])), qkv: try r.linear(3 * d, d, bias: true, int8: int8),
                    proj: try r.linear(d, d, bias: true, int8: int8), ls1: c.layerscale ? r.tensor([d], std: 0.1) : nil,
                    norm2: (ones(d), r.tensor([d])), fc1: try r.linear(c.mlpDim, d, bias: true, int8: int8),
                    fc2: try r.linear(d, c.mlpDim, bias: true, int8: int8), ls2: c.layerscale ? r.tensor([d], std: 0.1) : nil))
            }
            let vit = try VisionTransformer(
                config: c, patchWeight: r.tensor([d, 3, c.patchSize, c.patchSize]), patchBias: r.tensor([d]),
                classToken: c.family == .dinov2 ? r.tensor([d]) : nil,
                registerTokens: c.registers > 0 ? r.tensor([c.registers, d]) : nil,
                positionEmbedding: r.tensor([c.numPatches, d]), blocks: blocks,
                // The last block's attention probe, from its own stream so the other weights stay what they were.
                probe: ViTAttentionProbe(norm: (ones(d), probeWeights.tensor([d])),
                                         queryKey: try probeWeights.linear(2 * d, d, bias: true, int8: int8)))
            encoders.append(VisionEncoder(vit))
        }
        let width = vision.reduce(0) { $0 + $1.width }, hidden = text.hiddenSize
        let projector: Projector
        if vision.count == 2 {
            projector = try Projector(kind: .fusedGeluMLP, layers: [
                try r.linear(4 * width, width, bias: true, int8: int8), try r.linear(hidden, 4 * width, bias: true, int8: int8),
                try r.linear(hidden, hidden, bias: true, int8: int8)])
        } else {
            projector = try Projector(kind: .geluMLP, layers: [
                try r.linear(hidden, width, bias: true, int8: int8), try r.linear(hidden, hidden, bias: true, int8: int8)])
        }
        var t = text
        t.numHiddenLayers = layers ?? text.numHiddenLayers
        let lc = t.layerConfig
        let decoderLayers = try (0..<t.numHiddenLayers).map { i in
            try DecoderLayer.random(lc, quantized: int8, seed: seed &+ UInt64(i) &+ 100)
        }
        let embed = r.tensor([t.vocabSize, hidden])
        let head: any LinearLayer = int8 ? try QuantizedLinear(weight: embed) : try Linear(weight: embed)
        let llm = try CausalLM(config: t, embedTokens: embed, layers: decoderLayers, norm: ones(hidden), lmHead: head,
                               maxPositions: vision[0].numPatches + 256)
        let actions = try ActionTokenizer(vocabSize: actionVocab ?? t.vocabSize)
        let rows = try embed.slice(axis: 0, actions.tokenRange)
        let actionHead: any LinearLayer = int8 ? try QuantizedLinear(weight: rows) : try Linear(weight: rows)
        return try OpenVLA(encoders: encoders, projector: projector, llm: llm, actionTokenizer: actions, actionHead: actionHead)
    }
}

extension TextConfig {
    /// Qwen2.5-0.5B, MiniVLA's language model.
    public static let qwen25_05B = TextConfig(
        modelType: "qwen2", vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numHiddenLayers: 24,
        numAttentionHeads: 14, numKeyValueHeads: 2, rmsNormEps: 1e-6, ropeTheta: 1_000_000, tieWordEmbeddings: true,
        maxPositionEmbeddings: 32768, attentionBias: nil)
    /// Llama-2-7B, OpenVLA-7B's language model (vocabulary padded to 32064).
    public static let llama2_7B = TextConfig(
        modelType: "llama", vocabSize: 32064, hiddenSize: 4096, intermediateSize: 11008, numHiddenLayers: 32,
        numAttentionHeads: 32, numKeyValueHeads: 32, rmsNormEps: 1e-5, ropeTheta: 10_000, tieWordEmbeddings: false,
        maxPositionEmbeddings: 4096, attentionBias: nil)
}

extension VisionConfig {
    /// DINOv2-L/14 with 4 registers (`vit_large_patch14_reg4_dinov2.lvd142m`) at 224 px.
    public static let dinov2Large = VisionConfig(family: .dinov2, imageSize: 224, patchSize: 14, width: 1024, depth: 24,
                                                 heads: 16, mlpDim: 4096, registers: 4, layerscale: true, gelu: .erf, normEps: 1e-6)
    /// SigLIP So400m/14 (`vit_so400m_patch14_siglip_224`).
    public static let siglipSo400m = VisionConfig(family: .siglip, imageSize: 224, patchSize: 14, width: 1152, depth: 27,
                                                  heads: 16, mlpDim: 4304, registers: 0, layerscale: false, gelu: .erf, normEps: 1e-6)
}
