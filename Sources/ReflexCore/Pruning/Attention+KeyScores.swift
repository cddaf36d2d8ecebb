import CKernels

extension Attention {
    /// SP-VLA's semantic score: softmax(QKᵀ/√d) of a bidirectional attention, averaged over heads and over
    /// query rows, one value per key (the values sum to 1). q and k are [T, heads × d].
    ///
    /// This is the attention-probability matrix of `scaledDotProduct` without its value product; it costs one
    /// T×T×d product and T row softmaxes per head.
    public static func meanKeyProbabilities(q: Tensor, k: Tensor, heads: Int) throws -> [Float] {
        guard heads > 0, q.rank == 2, q.shape == k.shape, q.lastDim % heads == 0, q.shape[0] > 0 else {
            throw TensorError.shapeMismatch(op: "meanKeyProbabilities", "q \(q.shape), k \(k.shape) with \(heads) heads")
        }
        let t = q.shape[0], width = q.lastDim, d = width / heads
        let scale = Float(1 / Double(d).squareRoot())
        let probabilities = Tensor(uninitialized: [t, t])
        var sums = [Double](repeating: 0, count: t)
        let qp = q.storage.pointer, kp = k.storage.pointer, sp = probabilities.storage.pointer
        for h in 0..<heads {
            sgemm(transB: true, m: t, n: t, k: d, alpha: scale, a: qp + h * d, lda: width,
                  b: kp + h * d, ldb: width, c: sp, ldc: t)
            for r in 0..<t {
                let row = sp + r * t
                rk_softmax(row, t)
                for j in 0..<t { sums[j] += Double(row[j]) }
            }
        }
        let norm = 1 / Double(t * heads)
        return sums.map { Float($0 * norm) }
    }
}
