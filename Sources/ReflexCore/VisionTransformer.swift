/// Size and flavour of one ViT encoder, in the `vision_configs` schema that OpenVLA-family
/// config.json files may carry (keys mapped by `CodingKeys`).
public struct VisionConfig: Codable, Sendable, Equatable {
    public enum Family: String, Codable, Sendable {
        /// DINOv2: class token, optional register tokens, LayerScale.
        case dinov2
        /// SigLIP: patch tokens only, no LayerScale.
        case siglip
    }

    public var family: Family
    public var imageSize: Int
    public var patchSize: Int
    public var width: Int
    public var depth: Int
    public var heads: Int
    public var mlpDim: Int
    public var registers: Int
    public var layerscale: Bool
    public var gelu: GeluForm
    public var normEps: Float

    enum CodingKeys: String, CodingKey {
        case family, width, depth, heads, registers, layerscale, gelu
        case imageSize = "image_size", patchSize = "patch_size", mlpDim = "mlp_dim", normEps = "norm_eps"
    }

    public init(family: Family, imageSize: Int, patchSize: Int, width: Int, depth: Int, heads: Int, mlpDim: Int,
                registers: Int, layerscale: Bool, gelu: GeluForm, normEps: Float) {
        self.family = family
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.width = width
        self.depth = depth
        self.heads = heads
        self.mlpDim = mlpDim
        self.registers = registers
        self.layerscale = layerscale
        self.gelu = gelu
        self.normEps = normEps
    }

    /// Patches per side and in total.
    public var grid: Int { imageSize / patchSize }
    public var numPatches: Int { grid * grid }
    /// Tokens in front of the patches: the class token (DINOv2) and the registers.
    public var prefixTokens: Int { (family == .dinov2 ? 1 : 0) + registers }

    /// Throws unless the sizes are consistent.
    public func validate() throws {
        guard imageSize > 0, patchSize > 0, imageSize % patchSize == 0, width > 0, depth >= 2, heads > 0,
              width % heads == 0, mlpDim > 0, registers >= 0, normEps > 0 else {
            throw TensorError.invalidArgument("vision config: inconsistent sizes \(self)")
        }
    }
}

/// One pre-norm ViT block (timm layout): x += ls1 · attn(norm1(x)); x += ls2 · mlp(norm2(x)),
/// attention from a fused qkv projection, MLP fc1 → GELU → fc2.
public struct ViTBlock: Sendable {
    public let norm1: (weight: Tensor, bias: Tensor)
    public let qkv: any LinearLayer
    public let proj: any LinearLayer
    public let ls1: Tensor?
    public let norm2: (weight: Tensor, bias: Tensor)
    public let fc1: any LinearLayer
    public let fc2: any LinearLayer
    public let ls2: Tensor?

    public init(norm1: (Tensor, Tensor), qkv: any LinearLayer, proj: any LinearLayer, ls1: Tensor?,
                norm2: (Tensor, Tensor), fc1: any LinearLayer, fc2: any LinearLayer, ls2: Tensor?) {
        self.norm1 = (norm1.0, norm1.1)
        self.qkv = qkv
        self.proj = proj
        self.ls1 = ls1
        self.norm2 = (norm2.0, norm2.1)
        self.fc1 = fc1
        self.fc2 = fc2
        self.ls2 = ls2
    }

    /// The block's output for x [tokens, width]; `queriesAndKeys`, when given, sees the attention's q and k.
    func callAsFunction(_ x: Tensor, config c: VisionConfig,
                        queriesAndKeys: ((Tensor, Tensor) throws -> Void)? = nil) throws -> Tensor {
        let d = c.width
        let h = try x.layerNorm(weight: norm1.weight, bias: norm1.bias, eps: c.normEps)
        let qkvOut = try qkv(h)
        let q = try qkvOut.slice(axis: 1, 0..<d), k = try qkvOut.slice(axis: 1, d..<(2 * d))
        try queriesAndKeys?(q, k)
        let v = try qkvOut.slice(axis: 1, (2 * d)..<(3 * d))
        let attn = try Attention.scaledDotProduct(q: q, k: k, v: v, keyCount: x.shape[0], heads: c.heads,
                                                  kvHeads: c.heads, causal: false)
        var out = x
        var a = try proj(attn)
        if let ls1 { a = try a.multiplying(ls1) }
        try out.add(a)
        let h2 = try out.layerNorm(weight: norm2.weight, bias: norm2.bias, eps: c.normEps)
        var m = try fc2(try fc1(h2).gelu(c.gelu))
        if let ls2 { m = try m.multiplying(ls2) }
        try out.add(m)
        return out
    }
}

/// A timm VisionTransformer as OpenVLA uses it: patch embedding, class/register tokens and
/// position embeddings, and the blocks up to the second-to-last, whose output patch tokens (no
/// final norm, prefix tokens dropped) are the features.
public struct VisionTransformer: Sendable {
    public let config: VisionConfig
    public let patchWeight: Tensor   // [width, 3, patch, patch]
    public let patchBias: Tensor     // [width]
    public let classToken: Tensor?   // [width]
    public let registerTokens: Tensor?  // [registers, width]
    public let positionEmbedding: Tensor  // [numPatches or prefix + numPatches, width]
    public let blocks: [ViTBlock]
    /// The last block's LayerNorm and q/k rows, for SP-VLA's semantic score (nil when not loaded).
    public let probe: ViTAttentionProbe?

    public init(config: VisionConfig, patchWeight: Tensor, patchBias: Tensor, classToken: Tensor?,
                registerTokens: Tensor?, positionEmbedding: Tensor, blocks: [ViTBlock],
                probe: ViTAttentionProbe? = nil) throws {
        try config.validate()
        let d = config.width
        guard patchWeight.shape == [d, 3, config.patchSize, config.patchSize], patchBias.count == d else {
            throw TensorError.shapeMismatch(op: "VisionTransformer", "patch embedding \(patchWeight.shape) for width \(d), patch \(config.patchSize)")
        }
        guard (classToken == nil) == (config.family != .dinov2), (classToken?.count ?? d) == d else {
            throw TensorError.shapeMismatch(op: "VisionTransformer", "class token \(classToken?.shape ?? []) for \(config.family)")
        }
        guard (registerTokens?.count ?? 0) == config.registers * d else {
            throw TensorError.shapeMismatch(op: "VisionTransformer", "register tokens \(registerTokens?.shape ?? []) for \(config.registers) registers of \(d)")
        }
        let rows = positionEmbedding.count / d
        guard positionEmbedding.count % d == 0, rows == config.numPatches || rows == config.numPatches + config.prefixTokens else {
            throw TensorError.shapeMismatch(op: "VisionTransformer", "position embedding \(positionEmbedding.shape) for \(config.numPatches) patches of \(d)")
        }
        guard blocks.count >= config.depth - 1 else {
            throw TensorError.invalidArgument("VisionTransformer: \(blocks.count) blocks, features need \(config.depth - 1)")
        }
        if let probe, probe.queryKey.outFeatures != 2 * d || probe.queryKey.inFeatures != d
            || probe.norm.weight.count != d || probe.norm.bias.count != d {
            throw TensorError.shapeMismatch(op: "VisionTransformer", "attention probe q/k [\(probe.queryKey.outFeatures), \(probe.queryKey.inFeatures)] for width \(d) (expected [\(2 * d), \(d)])")
        }
        self.config = config
        self.patchWeight = patchWeight
        self.patchBias = patchBias
        self.classToken = try classToken?.reshaped([1, d])
        self.registerTokens = try registerTokens?.reshaped([config.registers, d])
        self.positionEmbedding = try positionEmbedding.reshaped([rows, d])
        self.blocks = blocks
        self.probe = probe
    }

    /// Patch features [numPatches, width] of a normalized image [3, imageSize, imageSize], taken from
    /// the output of the second-to-last block.
    public func features(_ image: Tensor) throws -> Tensor { try encode(image, attention: nil).features }

    /// The token sequence the first block reads: patch embeddings, prefix tokens, position embeddings.
    func embed(_ image: Tensor) throws -> Tensor {
        let c = config
        guard image.shape == [3, c.imageSize, c.imageSize] else {
            throw TensorError.shapeMismatch(op: "VisionTransformer", "image \(image.shape), expected [3, \(c.imageSize), \(c.imageSize)]")
        }
        var x = try Tensor.patchEmbed(image: image, weight: patchWeight, bias: patchBias, patch: c.patchSize)
        var prefix: [Tensor] = []
        if let classToken { prefix.append(classToken) }
        if let registerTokens { prefix.append(registerTokens) }
        if positionEmbedding.shape[0] == c.numPatches {
            // Position embeddings on the patches only (timm's no_embed_class), then the prefix.
            try x.add(positionEmbedding)
            if !prefix.isEmpty { x = try Tensor.concat(prefix + [x], axis: 0) }
        } else {
            if !prefix.isEmpty { x = try Tensor.concat(prefix + [x], axis: 0) }
            try x.add(positionEmbedding)
        }
        return x
    }
}
