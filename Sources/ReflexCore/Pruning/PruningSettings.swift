/// Visual-token pruning parameters (`acceleration.pruning` in a profile, `--prune …` flags; see boards/README.md).
public struct PruningSettings: Sendable, Equatable {
    public var method: PruneMethod
    /// The semantic set's cumulative-attention threshold θ in (0, 1] (`attention`, `spvla`); 1 keeps every patch.
    public var theta: Double
    /// SP-VLA's speed-adaptive θ from the previous VLA action (replaces `theta` when set).
    public var adaptive: AdaptiveTheta?
    /// Whose self-attention scores the patches: the encoder's last block (as released) or the feature block.
    public var attentionBlock: AttentionBlock
    /// The kept tokens' rotary positions in the language model: packed (as released) or original. `sqap` always
    /// keeps the original ones.
    public var positions: TokenPositions
    /// `sqap`: the share of visual tokens its attention criterion keeps (top-k), in (0, 1].
    public var keep: Double
    /// `sqap`: the language-model layer K where it prunes (layers before K read every visual token), ≥ 1.
    public var layer: Int
    /// `sqap`: the radius, in patch widths, around the end effector's pixel whose patches are always kept, ≥ 0.
    public var eeRadius: Double
    /// `sqap`: farthest-point sampling adds patches until this share of them is kept, in (0, 1].
    public var coverage: Double
    /// An experiment, `edges` only: the encoders' last this-many feature blocks run on the kept patches only (the
    /// edge set is chosen from the image before the encoders); 0 (default) prunes after the encoders.
    public var vitBlocks: Int

    public init(method: PruneMethod = .none, theta: Double = 0.9, adaptive: AdaptiveTheta? = nil,
                attentionBlock: AttentionBlock = .last, positions: TokenPositions = .packed,
                keep: Double = 0.4, layer: Int = 2, eeRadius: Double = 1.5, coverage: Double = 0.6, vitBlocks: Int = 0) {
        self.method = method
        self.theta = theta
        self.adaptive = adaptive
        self.attentionBlock = attentionBlock
        self.positions = positions
        self.keep = keep
        self.layer = layer
        self.eeRadius = eeRadius
        self.coverage = coverage
        self.vitBlocks = vitBlocks
    }

    /// The first invalid parameter, by its profile key under `acceleration.pruning`, and why; nil when usable.
    public var problem: (key: String, message: String)? {
        if !(theta.isFinite && theta > 0 && theta <= 1) { return ("theta", "\(theta) must be in (0, 1] (the share of attention the semantic set keeps)") }
        if !(keep.isFinite && keep > 0 && keep <= 1) { return ("keep", "\(keep) must be in (0, 1] (the share of visual tokens the attention criterion keeps)") }
        if layer < 1 { return ("layer", "\(layer) must be at least 1 (the layers before it read every visual token)") }
        if !(eeRadius.isFinite && eeRadius >= 0) { return ("ee_radius", "\(eeRadius) must be ≥ 0 (patch widths around the end effector)") }
        if !(coverage.isFinite && coverage > 0 && coverage <= 1) { return ("coverage", "\(coverage) must be in (0, 1] (the share of visual tokens coverage sampling fills up to)") }
        if vitBlocks < 0 { return ("vit_blocks", "\(vitBlocks) must be ≥ 0 (feature blocks run on the kept patches)") }
        if vitBlocks > 0 && method != .edges { return ("vit_blocks", "\(vitBlocks) needs method edges (a set chosen from the image alone, before the encoder), not \(method.rawValue)") }
        if let a = adaptive {
            if !(a.zThreshold.isFinite && a.zThreshold >= 0 && a.zThreshold < 1) { return ("adaptive.z_thre", "\(a.zThreshold) must be in [0, 1) (normalized |z| below which nothing is pruned)") }
            if !(a.zMin.isFinite && a.zMin > 0 && a.zMin < 1) { return ("adaptive.z_min", "\(a.zMin) must be in (0, 1) (θ falls to 1 − z_min at full speed)") }
        }
        return nil
    }

    /// A fresh selector for one policy (selectors keep per-image-size scratch), or nil for `none`.
    public func makeSelector() -> (any VisualTokenSelector)? {
        switch method {
        case .none: nil
        case .edges: EdgeSelector()
        case .attention: AttentionSelector(theta: theta, adaptive: adaptive, block: attentionBlock)
        case .spvla: SPVLASelector(theta: theta, adaptive: adaptive, block: attentionBlock)
        case .sqap: SQAPSelector(keep: keep, layer: layer, eeRadius: eeRadius, coverage: coverage)
        }
    }

    /// One line for logs: the method and what it was given.
    public var summary: String {
        switch method {
        case .none: "none"
        case .edges: "edges (\(positions.rawValue) positions" + (vitBlocks > 0 ? ", the last \(vitBlocks) ViT blocks on kept patches)" : ")")
        case .attention, .spvla:
            "\(method.rawValue) (θ " + (adaptive.map { "adaptive, z_thre \($0.zThreshold), z_min \($0.zMin)" } ?? "\(theta)")
                + ", \(attentionBlock.rawValue) block, \(positions.rawValue) positions)"
        case .sqap: "sqap (layer \(layer), keep \(keep), ee_radius \(eeRadius), coverage \(coverage))"
        }
    }
}

/// SP-VLA's speed-adaptive threshold (released code): with z the |z| translation of the previous VLA action in
/// normalized units, θ = 1 (keep everything) while z < `zThreshold`, else θ = 1 − (min(z, 1) − z_thre) · z_min /
/// (1 − z_thre): slow, precise motion keeps every patch, fast motion prunes hard.
public struct AdaptiveTheta: Sendable, Equatable {
    public var zThreshold: Double
    public var zMin: Double
    /// The component of the normalized action that is z (OpenVLA's [x, y, z, roll, pitch, yaw, gripper]).
    public static let zComponent = 2

    /// The released code's default row (LIBERO spatial/object and the LeRobot port): 0.5, 0.9.
    public init(zThreshold: Double = 0.5, zMin: Double = 0.9) {
        self.zThreshold = zThreshold
        self.zMin = zMin
    }

    /// θ for a step whose previous VLA action was `previous` (nil at an episode's start: keep everything).
    public func theta(previous: [Float]?) -> Double {
        guard let previous, previous.count > Self.zComponent else { return 1 }
        let z = Double(abs(previous[Self.zComponent]))
        guard z.isFinite, z >= zThreshold else { return 1 }
        return 1 - (min(z, 1) - zThreshold) * zMin / (1 - zThreshold)
    }
}
