/// Which ViT block's self-attention scores the patches for pruning (`acceleration.pruning.attention_block`).
public enum AttentionBlock: String, Sendable, CaseIterable, Codable {
    /// The encoder's last block, as SP-VLA's released code hooks it. OpenVLA's features come from the block
    /// before, so this costs an extra LayerNorm, a q/k projection and the attention scores (`ViTAttentionProbe`).
    case last
    /// The block whose output is the features: its q and k are computed anyway; only the scores are extra.
    case feature
}

/// What scoring the last ViT block's attention needs from that block, and nothing more: its first LayerNorm
/// and the query and key rows of its fused qkv projection (no value rows, no MLP).
public struct ViTAttentionProbe: Sendable {
    public let norm: (weight: Tensor, bias: Tensor)
    /// [2 · width, width]: qkv's first two thirds (queries, then keys).
    public let queryKey: any LinearLayer

    public init(norm: (Tensor, Tensor), queryKey: any LinearLayer) {
        self.norm = (norm.0, norm.1)
        self.queryKey = queryKey
    }

    /// Mean attention per token (over heads and queries) of the block whose input is `x` [tokens, width].
    func meanAttention(_ x: Tensor, config c: VisionConfig) throws -> [Float] {
        let h = try x.layerNorm(weight: norm.weight, bias: norm.bias, eps: c.normEps)
        let qk = try queryKey(h)
        return try Attention.meanKeyProbabilities(q: try qk.slice(axis: 1, 0..<c.width),
                                                  k: try qk.slice(axis: 1, c.width..<(2 * c.width)), heads: c.heads)
    }
}

extension VisionTransformer {
    /// An encoding and, when asked for, the attention each patch received.
    public struct Encoding: Sendable {
        /// [numPatches, width], as `features` returns them.
        public var features: Tensor
        /// Mean attention per patch (over heads and every query, prefix tokens included; prefix keys dropped),
        /// in `block`'s self-attention; nil when not asked for.
        public var patchAttention: [Float]?
        /// Nanoseconds spent on the scores alone (the pruning selector's cost, not the encoder's).
        public var attentionNanos: UInt64 = 0
    }

    /// Features of a normalized image and the patches' mean attention in `block` (nil: features only).
    /// Throws when the last block is asked for and the checkpoint did not carry it.
    ///
    /// `lateOnKept` (an experiment): the last `blocks` feature blocks run on the prefix tokens and the `patches`
    /// (ascending) only, and the features returned are those patches' rows; the attention scores are unavailable then.
    public func encode(_ image: Tensor, attention block: AttentionBlock?,
                       lateOnKept: (blocks: Int, patches: [Int])? = nil) throws -> Encoding {
        let c = config
        var x = try embed(image)
        var scores: [Float]?
        var nanos: UInt64 = 0
        let computed = blocks.prefix(c.depth - 1)
        if let late = lateOnKept, block != nil || late.blocks < 1 || late.blocks > computed.count {
            throw TensorError.invalidArgument("VisionTransformer: the late blocks on kept patches need 1…\(computed.count) blocks and no attention scores, got \(late.blocks)")
        }
        var rows = c.numPatches
        for (i, b) in computed.enumerated() {
            if let late = lateOnKept, i == computed.count - late.blocks, late.patches.count < c.numPatches {
                x = try x.gatherRows(Array(0..<c.prefixTokens) + late.patches.map { c.prefixTokens + $0 })
                rows = late.patches.count
            }
            if block == .feature && i == computed.count - 1 {
                x = try b(x, config: c) { q, k in
                    let t0 = monotonicNanos()
                    scores = try Attention.meanKeyProbabilities(q: q, k: k, heads: c.heads)
                    nanos = monotonicNanos() &- t0
                }
            } else {
                x = try b(x, config: c)
            }
        }
        if block == .last {
            guard let probe else {
                throw TensorError.invalidArgument("VisionTransformer: the last block's attention was asked for, but the checkpoint's encoder has no block \(c.depth - 1) (norm1, attn.qkv)")
            }
            let t0 = monotonicNanos()
            scores = try probe.meanAttention(x, config: c)
            nanos = monotonicNanos() &- t0
        }
        let patches = c.prefixTokens..<(c.prefixTokens + rows)
        return Encoding(features: try x.slice(axis: 0, patches), patchAttention: scores.map { Array($0[patches]) },
                        attentionNanos: nanos)
    }
}
