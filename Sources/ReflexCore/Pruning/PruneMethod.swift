/// How a policy chooses the visual tokens its language model reads (`--prune`, `acceleration.pruning.method`).
public enum PruneMethod: String, Sendable, CaseIterable, Codable {
    /// Every patch.
    case none
    /// SP-VLA's spatial set alone: the patches holding a Canny edge (`EdgeSelector`).
    case edges

    /// A fresh selector for one policy (selectors keep per-image-size scratch; one per policy).
    public func makeSelector() -> (any VisualTokenSelector)? {
        switch self {
        case .none: nil
        case .edges: EdgeSelector()
        }
    }
}
