/// OpenVLA's action discretisation: each of the action dimensions in [-1, 1] is one of 256 uniform
/// bins whose token id counts down from the top of the (unpadded) vocabulary.
///
/// Decoding: d = vocabSize − token, index = clamp(d − 1, 0, 254), value = center[index], where the
/// centers are the midpoints of `linspace(-1, 1, bins)`.
public struct ActionTokenizer: Sendable, Equatable {
    public let vocabSize: Int
    public let bins: Int
    public let centers: [Float]

    public init(vocabSize: Int, bins: Int = 256) throws {
        guard bins >= 2, vocabSize > bins else {
            throw TensorError.invalidArgument("ActionTokenizer: \(bins) bins need a vocabulary larger than \(bins), got \(vocabSize)")
        }
        self.vocabSize = vocabSize
        self.bins = bins
        // numpy linspace(-1, 1, bins) in float64, centers as their midpoints, then fp32.
        let edges = (0..<bins).map { -1.0 + 2.0 * Double($0) / Double(bins - 1) }
        centers = (0..<(bins - 1)).map { Float((edges[$0] + edges[$0 + 1]) / 2) }
    }

    /// Token ids that encode actions: the top `bins` ids of the vocabulary.
    public var tokenRange: Range<Int> { (vocabSize - bins)..<vocabSize }

    /// Normalized action values for tokens.
    public func decode(_ tokens: [Int]) -> [Float] {
        tokens.map { t in
            let idx = Swift.min(Swift.max(vocabSize - t - 1, 0), centers.count - 1)
            return centers[idx]
        }
    }

    /// The token for a normalized value (clipped to [-1, 1]); inverse of `decode` up to binning.
    public func encode(_ values: [Float]) -> [Int] {
        values.map { v in
            let x = Double(Swift.min(Swift.max(v, -1), 1))
            // numpy digitize with increasing edges: index i such that edges[i-1] <= x < edges[i].
            var d = 0
            for i in 0..<bins { if -1.0 + 2.0 * Double(i) / Double(bins - 1) <= x { d = i + 1 } }
            return vocabSize - d
        }
    }
}

/// Per-dataset action statistics (`norm_stats[key].action`): q01/q99 bounds and the mask of
/// dimensions to un-normalize (masked-out dimensions, e.g. the gripper, pass through).
public struct ActionStatistics: Codable, Sendable, Equatable {
    public var q01: [Float]
    public var q99: [Float]
    public var mask: [Bool]?

    public init(q01: [Float], q99: [Float], mask: [Bool]?) {
        self.q01 = q01
        self.q99 = q99
        self.mask = mask
    }

    /// action = 0.5 (n + 1)(q99 − q01) + q01 where mask, else n.
    public func unnormalize(_ normalized: [Float]) throws -> [Float] {
        guard q01.count == normalized.count, q99.count == normalized.count, (mask?.count ?? normalized.count) == normalized.count else {
            throw TensorError.invalidArgument("action statistics have \(q01.count)/\(q99.count) entries for a \(normalized.count)-dim action")
        }
        var out = [Float](repeating: 0, count: normalized.count)
        unnormalize(normalized, into: &out)
        return out
    }

    /// The same into `out` (as many entries as the statistics): no allocation, for the tick path. The
    /// caller guarantees the counts match (`unnormalize(_:)` checks them once at load).
    public func unnormalize(_ normalized: [Float], into out: inout [Float]) {
        precondition(normalized.count == q01.count && out.count == q01.count, "ActionStatistics: \(q01.count) components, got \(normalized.count) → \(out.count)")
        // In float64, as numpy computes it from the JSON statistics.
        for i in 0..<q01.count {
            let n = Double(normalized[i]), lo = Double(q01[i]), hi = Double(q99[i])
            out[i] = (mask?[i] ?? true) ? Float(0.5 * (n + 1) * (hi - lo) + lo) : normalized[i]
        }
    }
}
