/// SQAP-VLA's criteria, applied at LLM layer `layer` (FastV-style; the kept tokens keep their original
/// positions), the union in original order of:
/// (a) the top ⌈keep · N⌉ patches by the attention the text after the image pays them at that layer (mean over
///     heads and those queries; the top of that ranking is what survives quantization noise);
/// (b) robot-aware protection: every patch whose centre lies within `eeRadius` patch widths of the end effector's
///     pixel, when the context knows it;
/// (c) spatial coverage: farthest-point sampling over patch-grid positions, from (a) ∪ (b), until the kept set
///     holds ⌈coverage · N⌉ patches (nothing added when it already does).
public final class SQAPSelector: VisualTokenSelector {
    public let name = "sqap"
    public let keep: Double
    public let layer: Int
    public let eeRadius: Double
    public let coverage: Double
    public var llmLayer: Int? { layer }

    public init(keep: Double = 0.4, layer: Int = 2, eeRadius: Double = 1.5, coverage: Double = 0.6) {
        self.keep = keep
        self.layer = layer
        self.eeRadius = eeRadius
        self.coverage = coverage
    }

    public func select(_ input: SelectionInput) throws -> [Int] {
        let n = input.patchCount
        guard let scores = input.attention, scores.count == n else {
            throw TensorError.invalidArgument("visual-token selector \(name): needs one attention score per patch (\(n)), got \(input.attention?.count ?? 0)")
        }
        var kept = [Bool](repeating: false, count: n)
        for i in Self.topK(scores, Self.share(keep, of: n)) { kept[i] = true }
        if let ee = input.context.endEffectorPixel {
            for i in Self.protected(around: ee, radius: eeRadius, gridWidth: input.gridWidth, gridHeight: input.gridHeight,
                                    patchSize: input.patchSize) { kept[i] = true }
        }
        Self.cover(&kept, target: Self.share(coverage, of: n), gridWidth: input.gridWidth)
        return kept.indices.filter { kept[$0] }
    }

    /// ⌈share · n⌉, at least 1 and at most n.
    static func share(_ share: Double, of n: Int) -> Int { min(n, max(1, Int((share * Double(n)).rounded(.up)))) }

    /// The k highest scores' indices (ties: the lower index first).
    static func topK(_ scores: [Float], _ k: Int) -> [Int] {
        Array(scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(k))
    }

    /// Patches whose centre is within `radius` patch widths of `pixel` (encoder-input pixels).
    static func protected(around pixel: (x: Double, y: Double), radius: Double, gridWidth: Int, gridHeight: Int, patchSize: Int) -> [Int] {
        var out: [Int] = []
        let p = Double(patchSize), r2 = radius * radius * p * p
        for py in 0..<gridHeight {
            for px in 0..<gridWidth {
                let dx = (Double(px) + 0.5) * p - pixel.x, dy = (Double(py) + 0.5) * p - pixel.y
                if dx * dx + dy * dy <= r2 { out.append(py * gridWidth + px) }
            }
        }
        return out
    }

    /// Farthest-point sampling on the grid: adds the patch farthest (Euclidean, grid units) from every kept one,
    /// ties to the lower index, until `target` are kept.
    static func cover(_ kept: inout [Bool], target: Int, gridWidth: Int) {
        var count = kept.filter { $0 }.count
        guard count < target else { return }
        let n = kept.count
        var nearest = [Int](repeating: Int.max, count: n)  // squared distance to the nearest kept patch
        func update(_ j: Int) {
            let jx = j % gridWidth, jy = j / gridWidth
            for i in 0..<n {
                let dx = i % gridWidth - jx, dy = i / gridWidth - jy
                nearest[i] = min(nearest[i], dx * dx + dy * dy)
            }
        }
        for j in 0..<n where kept[j] { update(j) }
        while count < target {
            var best = -1
            for i in 0..<n where !kept[i] && (best < 0 || nearest[i] > nearest[best]) { best = i }
            kept[best] = true
            update(best)
            count += 1
        }
    }
}
