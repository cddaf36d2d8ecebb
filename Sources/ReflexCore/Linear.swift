/// A layer mapping [..., inFeatures] → [..., outFeatures]. The fp32 ``Linear`` and the int8
/// ``QuantizedLinear`` are interchangeable behind it, so a model is quantized by swapping layers.
public protocol LinearLayer: Sendable {
    var inFeatures: Int { get }
    var outFeatures: Int { get }
    /// Writes the layer's output for x [..., in] into y, which must already have shape [..., out]
    /// (so a caller can reuse one output buffer across calls).
    func apply(_ x: Tensor, into y: inout Tensor) throws
}

extension LinearLayer {
    /// The layer's output for x [..., in] as a new tensor [..., out].
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard x.rank >= 1 else {
            throw TensorError.shapeMismatch(op: "\(Self.self)", "input \(x.shape) for [\(outFeatures), \(inFeatures)]")
        }
        var y = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])
        try apply(x, into: &y)
        return y
    }

    /// Throws unless x is [..., in] and y is [..., out] with the same leading dimensions.
    func checkShapes(_ x: Tensor, _ y: Tensor) throws {
        guard x.rank >= 1, x.lastDim == inFeatures, y.shape == Array(x.shape.dropLast()) + [outFeatures] else {
            throw TensorError.shapeMismatch(
                op: "\(Self.self)", "input \(x.shape), output \(y.shape) for weight [\(outFeatures), \(inFeatures)]")
        }
    }
}

/// Fully connected fp32 layer, weight [out, in] as in Hugging Face checkpoints; OpenBLAS sgemm.
public struct Linear: LinearLayer {
    public let weight: Tensor
    public let bias: Tensor?

    public init(weight: Tensor, bias: Tensor? = nil) throws {
        guard weight.rank == 2 else {
            throw TensorError.shapeMismatch(op: "Linear", "weight must be [out, in], got \(weight.shape)")
        }
        if let bias, bias.count != weight.shape[0] {
            throw TensorError.shapeMismatch(op: "Linear", "bias \(bias.shape) for weight \(weight.shape)")
        }
        self.weight = weight
        self.bias = bias
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public func apply(_ x: Tensor, into y: inout Tensor) throws {
        try checkShapes(x, y)
        try Tensor.linear(x, weight: weight, bias: bias, into: &y)
    }
}
