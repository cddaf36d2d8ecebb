/// Matrix products on tensors, all through OpenBLAS `sgemm`.
extension Tensor {
    /// `op(a) · op(b)` for 2-D tensors, where `op` transposes when asked: [M, K] · [K, N] → [M, N].
    public static func matmul(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
    ) throws -> Tensor {
        guard a.rank == 2, b.rank == 2 else {
            throw TensorError.shapeMismatch(op: "matmul", "needs 2-D operands, got \(a.shape) and \(b.shape)")
        }
        let (m, ka) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (kb, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard ka == kb else {
            throw TensorError.shapeMismatch(
                op: "matmul",
                "\(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : ""): inner sizes \(ka) ≠ \(kb)")
        }
        var c = Tensor(uninitialized: [m, n])
        sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: ka,
              a: a.storage.pointer, lda: a.shape[1], b: b.storage.pointer, ldb: b.shape[1],
              c: c.storage.pointer, ldc: n)
        c.shape = [m, n]
        return c
    }

    /// Batched product: a [B, M, K] · b [B, K, N] → [B, M, N] (with `transposeB`, b is [B, N, K]).
    /// A 2-D `b` is shared by every batch entry.
    public static func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) throws -> Tensor {
        guard a.rank == 3, b.rank == 3 || b.rank == 2 else {
            throw TensorError.shapeMismatch(op: "batchedMatmul", "needs [B,M,K] and [B,K,N] or [K,N], got \(a.shape) and \(b.shape)")
        }
        let batch = a.shape[0], m = a.shape[1], k = a.shape[2]
        let bb = b.rank == 3 ? b.shape[0] : batch
        let (kb, n) = transposeB ? (b.shape[b.rank - 1], b.shape[b.rank - 2]) : (b.shape[b.rank - 2], b.shape[b.rank - 1])
        guard bb == batch, kb == k else {
            throw TensorError.shapeMismatch(op: "batchedMatmul", "\(a.shape) · \(b.shape)\(transposeB ? "ᵀ" : "")")
        }
        let out = Tensor(uninitialized: [batch, m, n])
        let bStride = b.rank == 3 ? b.shape[1] * b.shape[2] : 0
        for i in 0..<batch {
            sgemm(transB: transposeB, m: m, n: n, k: k,
                  a: a.storage.pointer + i * m * k, lda: k,
                  b: b.storage.pointer + i * bStride, ldb: b.shape[b.rank - 1],
                  c: out.storage.pointer + i * m * n, ldc: n)
        }
        return out
    }

    /// Fully connected layer in the Hugging Face convention: x [..., in] · weightᵀ (weight [out, in])
    /// + bias [out] → [..., out].
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
        guard weight.rank == 2, x.rank >= 1 else {
            throw TensorError.shapeMismatch(op: "linear", "input \(x.shape) with weight \(weight.shape) (expects [out, \(x.lastDim)])")
        }
        var y = Tensor(uninitialized: Array(x.shape.dropLast()) + [weight.shape[0]])
        try linear(x, weight: weight, bias: bias, into: &y)
        return y
    }

    /// `linear` writing into y, which must have shape [..., out].
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, into y: inout Tensor) throws {
        guard weight.rank == 2, x.rank >= 1, x.lastDim == weight.shape[1] else {
            throw TensorError.shapeMismatch(op: "linear", "input \(x.shape) with weight \(weight.shape) (expects [out, \(x.lastDim)])")
        }
        let out = weight.shape[0]
        guard y.shape == Array(x.shape.dropLast()) + [out] else {
            throw TensorError.shapeMismatch(op: "linear", "output \(y.shape) for input \(x.shape) and weight \(weight.shape)")
        }
        if let bias, bias.count != out {
            throw TensorError.shapeMismatch(op: "linear", "bias \(bias.shape) for \(out) outputs")
        }
        let rows = x.rows
        y.makeUnique()
        let yp = y.storage.pointer
        if let bias {
            // Seed every row with the bias, then accumulate the product (beta = 1).
            for r in 0..<rows { (yp + r * out).update(from: bias.storage.pointer, count: out) }
        }
        sgemm(transB: true, m: rows, n: out, k: x.lastDim,
              a: x.storage.pointer, lda: x.lastDim, b: weight.storage.pointer, ldb: x.lastDim,
              beta: bias == nil ? 0 : 1, c: yp, ldc: out)
    }
}
