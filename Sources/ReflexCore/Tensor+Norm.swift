import CKernels

/// Normalisations over the last dimension (one row at a time, rows in parallel).
extension Tensor {
    /// LayerNorm (biased variance), as in ViT blocks: (x − mean) / √(var + eps) · weight + bias.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor {
        let n = lastDim
        for (name, p) in [("weight", weight), ("bias", bias)] {
            if let p, p.count != n {
                throw TensorError.shapeMismatch(op: "layerNorm", "\(name) \(p.shape) for rows of \(n)")
            }
        }
        let y = Tensor(uninitialized: shape)
        let x = storage.pointer, out = y.storage.pointer
        let w = weight?.storage.pointer, b = bias?.storage.pointer
        parallelRows(rows, minRows: 16) { range in
            for r in range { rk_layernorm(x + r * n, w, b, out + r * n, n, eps) }
        }
        return y
    }

    /// RMSNorm, as in Llama/Qwen2: x / √(mean(x²) + eps) · weight.
    public func rmsNorm(weight: Tensor?, eps: Float) throws -> Tensor {
        let n = lastDim
        if let weight, weight.count != n {
            throw TensorError.shapeMismatch(op: "rmsNorm", "weight \(weight.shape) for rows of \(n)")
        }
        let y = Tensor(uninitialized: shape)
        let x = storage.pointer, out = y.storage.pointer, w = weight?.storage.pointer
        parallelRows(rows, minRows: 16) { range in
            for r in range { rk_rmsnorm(x + r * n, w, out + r * n, n, eps) }
        }
        return y
    }
}
