import CKernels

/// How a linear layer's weights are stored. Only per-channel int8 exists today; group-wise int4
/// (`w4a8`) will be another case with its own packing in CKernels, behind the same
/// ``LinearLayer`` interface.
public enum WeightQuantization: String, Sendable, CaseIterable {
    /// Symmetric int8 per output channel: w ≈ scale[n] · q[n][k], q ∈ [-127, 127].
    case int8PerChannel = "int8"
}

/// Symmetric per-row int8 quantization (scale = max|row| / 127, round half to even), shared by
/// weights (rows = output channels) and activations (rows = tokens).
public struct QuantizedRows: Sendable {
    public let rows: Int
    public let cols: Int
    /// [rows × cols] row-major.
    public var values: [Int8]
    /// One scale per row.
    public var scales: [Float]

    /// Wraps values quantized elsewhere (e.g. read from a checkpoint).
    public init(rows: Int, cols: Int, values: [Int8], scales: [Float]) {
        self.rows = rows
        self.cols = cols
        self.values = values
        self.scales = scales
    }

    /// Quantizes the matrix view [rows, lastDim] of `x`.
    public init(_ x: Tensor) {
        let rows = x.rows, cols = x.lastDim
        self.rows = rows
        self.cols = cols
        var q = [Int8](repeating: 0, count: rows * cols)
        var s = [Float](repeating: 0, count: rows)
        q.withUnsafeMutableBufferPointer { qp in
            s.withUnsafeMutableBufferPointer { sp in
                rk_quantize_rows_q8(x.storage.pointer, Int32(rows), Int32(cols), Int32(cols),
                                    qp.baseAddress, Int32(cols), sp.baseAddress)
            }
        }
        values = q
        scales = s
    }

    /// The fp32 matrix these values stand for.
    public func dequantized() -> Tensor {
        Tensor(shape: [rows, cols]) { i in Float(values[i]) * scales[i / cols] }
    }
}

/// A linear layer with int8 per-channel weights and dynamic per-token int8 activations:
/// y = (q_x · q_wᵀ) · s_x[t] · s_w[n] + bias, the integer product exact in int32 (CKernels).
///
/// Weights are packed once for the chosen kernel path at construction.
public final class QuantizedLinear: LinearLayer, @unchecked Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    public let weightScales: [Float]
    public let bias: Tensor?
    /// The kernel path the weights are packed for.
    public let isa: KernelISA
    private let packed: UnsafeMutablePointer<rk_q8_weights>

    /// Quantizes fp32 weights [out, in].
    public convenience init(weight: Tensor, bias: Tensor? = nil, isa: KernelISA = .auto) throws {
        guard weight.rank == 2 else {
            throw TensorError.shapeMismatch(op: "QuantizedLinear", "weight must be [out, in], got \(weight.shape)")
        }
        try self.init(quantized: QuantizedRows(weight), bias: bias, isa: isa)
    }

    /// Wraps already-quantized weights.
    public convenience init(quantized w: QuantizedRows, bias: Tensor? = nil, isa: KernelISA = .auto) throws {
        guard w.values.count == w.rows * w.cols else {
            throw TensorError.shapeMismatch(op: "QuantizedLinear", "\(w.values.count) values for [\(w.rows), \(w.cols)]")
        }
        try self.init(source: .array(w.values), rows: w.rows, cols: w.cols, scales: w.scales, bias: bias, isa: isa)
    }

    /// Packs int8 weights read straight from memory (e.g. a memory-mapped quantized checkpoint):
    /// `rows × cols` values at `values`, one scale per row.
    public convenience init(values: UnsafePointer<Int8>, rows: Int, cols: Int, scales: [Float], bias: Tensor? = nil,
                            isa: KernelISA = .auto) throws {
        try self.init(source: .pointer(values), rows: rows, cols: cols, scales: scales, bias: bias, isa: isa)
    }

    private enum Source {
        case array([Int8])
        case pointer(UnsafePointer<Int8>)

        func withPointer<R>(_ body: (UnsafePointer<Int8>) throws -> R) rethrows -> R {
            switch self {
            case let .array(a): return try a.withUnsafeBufferPointer { try body($0.baseAddress!) }
            case let .pointer(p): return try body(p)
            }
        }
    }

    private init(source: Source, rows: Int, cols: Int, scales: [Float], bias: Tensor?, isa: KernelISA) throws {
        guard rows > 0, cols > 0, scales.count == rows else {
            throw TensorError.shapeMismatch(op: "QuantizedLinear", "\(scales.count) scales for [\(rows), \(cols)]")
        }
        if let bias, bias.count != rows {
            throw TensorError.shapeMismatch(op: "QuantizedLinear", "bias \(bias.shape) for \(rows) outputs")
        }
        guard isa.isSupported else {
            throw TensorError.invalidArgument("QuantizedLinear: kernel path \(isa) is not supported on this CPU")
        }
        let packedOrNil = try source.withPointer { values -> UnsafeMutablePointer<rk_q8_weights>? in
            let bad = rk_find_i8(values, rows * cols, -128)
            if bad >= 0 {
                throw TensorError.invalidArgument("QuantizedLinear: value -128 at index \(bad); symmetric int8 uses [-127, 127]")
            }
            return rk_q8_pack(values, Int32(rows), Int32(cols), Int32(cols), isa.raw)
        }
        guard let p = packedOrNil else {
            throw TensorError.invalidArgument("QuantizedLinear: packing [\(rows), \(cols)] for \(isa) failed")
        }
        packed = p
        inFeatures = cols
        outFeatures = rows
        weightScales = scales
        self.bias = bias
        self.isa = KernelISA(rawValue: Int32(p.pointee.isa.rawValue)) ?? isa
    }

    deinit { rk_q8_free(packed) }

    /// Bytes of packed weights (what one GEMV streams from memory).
    public var packedBytes: Int { Int(packed.pointee.bytes) }

    public func apply(_ x: Tensor, into y: inout Tensor) throws {
        try checkShapes(x, y)
        let rows = x.rows
        if rows == 0 { return }
        y.makeUnique()
        // Activation scratch: one allocation per call, outside every loop.
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: rows * inFeatures)
        let s = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        defer { q.deallocate(); s.deallocate() }
        let k = Int32(inFeatures)
        rk_quantize_rows_q8(x.storage.pointer, Int32(rows), k, k, q, k, s)
        weightScales.withUnsafeBufferPointer { ws in
            rk_q8_gemm_f32(packed, q, Int32(rows), k, s, ws.baseAddress,
                           bias?.storage.pointer, y.storage.pointer, Int32(outFeatures))
        }
    }
}
