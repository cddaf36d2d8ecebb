import CKernels

extension Attention {
    /// SP-VLA's semantic score: softmax(QKᵀ/√d) of a bidirectional attention, averaged over heads and over query
    /// rows, one value per key (the values sum to 1). q and k are [T, heads × d].
    public static func meanKeyProbabilities(q: Tensor, k: Tensor, heads: Int) throws -> [Float] {
        guard q.rank == 2, q.shape[0] > 0 else {
            throw TensorError.shapeMismatch(op: "meanKeyProbabilities", "q \(q.shape), k \(k.shape) with \(heads) heads")
        }
        return try meanProbabilities(q: q, k: k, heads: heads, kvHeads: heads, queryRows: 0..<q.shape[0], causal: false)
    }

    /// The attention probabilities softmax(QKᵀ/√d) of the query rows `queryRows`, averaged over those rows and over
    /// heads, one value per key row of k. q [T, heads × d] and k [T, kvHeads × d] (grouped-query heads share keys);
    /// with `causal`, query row r sees keys 0...r (what FastV and SQAP-VLA read at an LLM layer).
    ///
    /// This is `scaledDotProduct` without its value product; it costs one |rows|×T×d product and |rows| row
    /// softmaxes per head.
    public static func meanProbabilities(q: Tensor, k: Tensor, heads: Int, kvHeads: Int, queryRows: Range<Int>,
                                         causal: Bool) throws -> [Float] {
        guard heads > 0, kvHeads > 0, heads % kvHeads == 0, q.rank == 2, k.rank == 2, q.lastDim % heads == 0,
              q.shape[0] == k.shape[0], k.lastDim == kvHeads * (q.lastDim / heads),
              !queryRows.isEmpty, queryRows.lowerBound >= 0, queryRows.upperBound <= q.shape[0] else {
            throw TensorError.shapeMismatch(op: "meanProbabilities", "q \(q.shape), k \(k.shape), \(heads)/\(kvHeads) heads, query rows \(queryRows)")
        }
        let t = k.shape[0], m = queryRows.count, width = q.lastDim, d = width / heads, kvWidth = k.lastDim
        let group = heads / kvHeads, scale = Float(1 / Double(d).squareRoot())
        let probabilities = Tensor(uninitialized: [m, t])
        var sums = [Double](repeating: 0, count: t)
        let qp = q.storage.pointer + queryRows.lowerBound * width, kp = k.storage.pointer, sp = probabilities.storage.pointer
        for h in 0..<heads {
            sgemm(transB: true, m: m, n: t, k: d, alpha: scale, a: qp + h * d, lda: width,
                  b: kp + (h / group) * d, ldb: kvWidth, c: sp, ldc: t)
            for r in 0..<m {
                let row = sp + r * t
                let valid = causal ? queryRows.lowerBound + r + 1 : t
                rk_softmax(row, valid)
                for j in 0..<valid { sums[j] += Double(row[j]) }
            }
        }
        let norm = 1 / Double(m * heads)
        return sums.map { Float($0 * norm) }
    }
}
