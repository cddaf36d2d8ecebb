/// SP-VLA's dual-aware pruning as released: the union of the spatial set (patches holding a Canny edge,
/// `EdgeSelector`) and the semantic set (`AttentionSelector`), in original order.
public final class SPVLASelector: VisualTokenSelector {
    public let name = "spvla"
    public let edges: EdgeSelector
    public let semantic: AttentionSelector
    public var attentionBlock: AttentionBlock? { semantic.attentionBlock }

    public init(theta: Double = 0.9, adaptive: AdaptiveTheta? = nil, block: AttentionBlock = .last) {
        edges = EdgeSelector()
        semantic = AttentionSelector(theta: theta, adaptive: adaptive, block: block)
    }

    public func select(_ input: SelectionInput) throws -> [Int] {
        let kept = try semantic.select(input)
        if kept.count == input.patchCount { return kept }  // θ = 1: nothing to add, and no Canny to pay for
        return Self.union(try edges.select(input), kept)
    }

    /// The union of two ascending index lists, ascending.
    static func union(_ a: [Int], _ b: [Int]) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i] < b[j]) { out.append(a[i]); i += 1 }
            else if i == a.count || b[j] < a[i] { out.append(b[j]); j += 1 }
            else { out.append(a[i]); i += 1; j += 1 }
        }
        return out
    }
}
