/// SP-VLA's semantic set alone: the patches the scoring encoder's self-attention favours. Scores (mean
/// attention per patch over heads and queries) sorted descending; the first `count(cumsum < θ) + 1` are kept,
/// returned in original order. θ is fixed or speed-adaptive (`AdaptiveTheta`); θ = 1 keeps every patch.
public final class AttentionSelector: VisualTokenSelector {
    public let name = "attention"
    public let theta: Double
    public let adaptive: AdaptiveTheta?
    public let attentionBlock: AttentionBlock?
    private var order: [Int] = []

    public init(theta: Double = 0.9, adaptive: AdaptiveTheta? = nil, block: AttentionBlock = .last) {
        self.theta = theta
        self.adaptive = adaptive
        attentionBlock = block
    }

    /// θ for this step: fixed, or from the previous action.
    public func threshold(_ context: SelectionContext) -> Double {
        adaptive?.theta(previous: context.previousAction) ?? theta
    }

    public func select(_ input: SelectionInput) throws -> [Int] {
        guard let scores = input.attention, scores.count == input.patchCount else {
            throw TensorError.invalidArgument("visual-token selector \(name): needs one attention score per patch (\(input.patchCount)), got \(input.attention?.count ?? 0)")
        }
        return semanticSet(scores, theta: threshold(input.context))
    }

    /// The semantic set of `scores` at `theta`, ascending. Ties sort by index (a stable descending sort).
    public func semanticSet(_ scores: [Float], theta: Double) -> [Int] {
        let n = scores.count
        if theta >= 1 { return Array(0..<n) }
        if order.count != n { order = Array(0..<n) }
        for i in 0..<n { order[i] = i }
        order.sort { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        // count(cumsum < θ) + 1: the cumulative sum is increasing, so that is the first index where it reaches θ, plus one.
        var sum: Float = 0, below = 0
        let t = Float(theta)
        for i in order {
            sum += scores[i]
            if sum < t { below += 1 } else { break }
        }
        return order.prefix(min(n, below + 1)).sorted()
    }
}
