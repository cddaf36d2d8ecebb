import CKernels

/// The two GELU forms found in checkpoints: exact (erf; DINOv2, PyTorch's default) and the tanh
/// approximation (SigLIP's `gelu_pytorch_tanh`).
public enum GeluForm: String, Sendable, Codable, CaseIterable {
    case erf
    case tanh
}

/// Activations and softmax. Large tensors are processed in parallel chunks.
extension Tensor {
    /// GELU in the given form.
    public func gelu(_ form: GeluForm = .erf) -> Tensor {
        unary(form == .erf ? rk_gelu_erf : rk_gelu_tanh)
    }

    /// SiLU (x · sigmoid(x)).
    public func silu() -> Tensor { unary(rk_silu) }

    /// Elementwise exp.
    public func exp() -> Tensor { unary(rk_vexp) }

    /// SwiGLU: silu(gate) · up, elementwise (the Llama/Qwen2 MLP).
    public static func siluMul(gate: Tensor, up: Tensor) throws -> Tensor {
        guard gate.shape == up.shape else {
            throw TensorError.shapeMismatch(op: "siluMul", "gate \(gate.shape) and up \(up.shape)")
        }
        let y = Tensor(uninitialized: gate.shape)
        let g = gate.storage.pointer, u = up.storage.pointer, out = y.storage.pointer
        parallelChunks(gate.count) { lo, n in rk_silu_mul(g + lo, u + lo, out + lo, n) }
        return y
    }

    /// Softmax over the last dimension.
    public func softmax() -> Tensor {
        var y = self
        y.makeUnique()
        let p = y.storage.pointer, n = lastDim
        parallelRows(rows, minRows: 8) { range in
            for r in range { rk_softmax(p + r * n, n) }
        }
        return y
    }

    private func unary(_ kernel: (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void) -> Tensor {
        let y = Tensor(uninitialized: shape)
        let x = storage.pointer, out = y.storage.pointer
        parallelChunks(count) { lo, n in kernel(x + lo, out + lo, n) }
        return y
    }
}
