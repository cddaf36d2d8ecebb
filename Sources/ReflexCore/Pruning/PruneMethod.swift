/// How a policy chooses the visual tokens its language model reads (`--prune`, `acceleration.pruning.method`).
public enum PruneMethod: String, Sendable, CaseIterable, Codable {
    /// Every patch.
    case none
    /// SP-VLA's spatial set alone: the patches holding a Canny edge (`EdgeSelector`).
    case edges
    /// SP-VLA's semantic set alone: the patches the encoder's self-attention favours, up to θ of it
    /// (`AttentionSelector`).
    case attention
    /// SP-VLA as released: the union of the spatial and semantic sets (`SPVLASelector`).
    case spvla
    /// SQAP-VLA's criteria at LLM layer K: the text's top-attended patches, the end effector's, and coverage
    /// (`SQAPSelector`).
    case sqap
}

/// The rotary positions the language model gives the kept visual tokens (`acceleration.pruning.positions`).
public enum TokenPositions: String, Sendable, CaseIterable, Codable {
    /// Renumbered contiguously, as SP-VLA's released code packs them: the text after the image moves up.
    case packed
    /// The positions they had in the full sequence (SQAP-VLA's, FastV's): gaps where patches were dropped, the
    /// text and the action tokens where the policy was trained to see them.
    case original
}
