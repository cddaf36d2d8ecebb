import CKernels

/// Elementwise arithmetic. A right operand whose shape is the left operand's last dimension (or
/// [1, lastDim]) is broadcast over the rows, which covers biases and per-channel gains.
extension Tensor {
    /// `self + other`, elementwise or row-broadcast.
    public func adding(_ other: Tensor) throws -> Tensor {
        try binary(other, op: "add", rk_vadd)
    }

    /// `self * other`, elementwise or row-broadcast.
    public func multiplying(_ other: Tensor) throws -> Tensor {
        try binary(other, op: "mul", rk_vmul)
    }

    /// `self * s`.
    public func scaled(by s: Float) -> Tensor {
        let y = Tensor(uninitialized: shape)
        rk_vscale(storage.pointer, s, y.storage.pointer, count)
        return y
    }

    /// In-place `self += other` (residual connections), elementwise or row-broadcast.
    public mutating func add(_ other: Tensor) throws {
        let mode = try broadcastMode(other, op: "add")
        makeUnique()
        let y = storage.pointer, b = other.storage.pointer
        if mode == .same {
            rk_vadd(y, b, y, count)
        } else {
            let n = lastDim
            for r in 0..<rows { rk_vadd(y + r * n, b, y + r * n, n) }
        }
    }

    enum Broadcast { case same, rows }

    func broadcastMode(_ other: Tensor, op: String) throws -> Broadcast {
        if other.shape == shape { return .same }
        if other.count == lastDim && (other.rank == 1 || (other.rank == 2 && other.shape[0] == 1)) { return .rows }
        throw TensorError.shapeMismatch(op: op, "\(shape) and \(other.shape) (need equal shapes or a [\(lastDim)] row)")
    }

    private func binary(
        _ other: Tensor, op: String,
        _ kernel: (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void
    ) throws -> Tensor {
        let mode = try broadcastMode(other, op: op)
        let y = Tensor(uninitialized: shape)
        let a = storage.pointer, b = other.storage.pointer, out = y.storage.pointer
        if mode == .same {
            kernel(a, b, out, count)
        } else {
            let n = lastDim
            for r in 0..<rows { kernel(a + r * n, b, out + r * n, n) }
        }
        return y
    }
}
