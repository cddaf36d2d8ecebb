/// The Prismatic projector from vision features to the language model's embedding width,
/// selected by the `arch_specifier` suffix.
public struct Projector: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// fc1 only.
        case linear
        /// fc1 → GELU → fc2 (single vision backbone).
        case geluMLP = "gelu-mlp"
        /// fc1 → GELU → fc2 → GELU → fc3 (fused DINOv2 + SigLIP backbone).
        case fusedGeluMLP = "fused-gelu-mlp"

        /// Layers the kind uses, named as in the checkpoint (`projector.fcN`).
        public var layerCount: Int {
            switch self {
            case .linear: return 1
            case .geluMLP: return 2
            case .fusedGeluMLP: return 3
            }
        }

        /// Parses an `arch_specifier` such as `no-align+fused-gelu-mlp` or `gelu-mlp`.
        public init?(archSpecifier: String) {
            let last = archSpecifier.split(separator: "+").last.map(String.init) ?? archSpecifier
            self.init(rawValue: last)
        }
    }

    public let kind: Kind
    public let layers: [any LinearLayer]

    public init(kind: Kind, layers: [any LinearLayer]) throws {
        guard layers.count == kind.layerCount else {
            throw TensorError.invalidArgument("projector \(kind.rawValue) needs \(kind.layerCount) layers, got \(layers.count)")
        }
        for (a, b) in zip(layers, layers.dropFirst()) where a.outFeatures != b.inFeatures {
            throw TensorError.shapeMismatch(op: "projector", "layer output \(a.outFeatures) feeds input \(b.inFeatures)")
        }
        self.kind = kind
        self.layers = layers
    }

    public var inFeatures: Int { layers[0].inFeatures }
    public var outFeatures: Int { layers[layers.count - 1].outFeatures }

    /// Projects features [T, inFeatures] → [T, outFeatures]; exact-erf GELU between layers.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = x
        for (i, layer) in layers.enumerated() {
            h = try layer(h)
            if i < layers.count - 1 { h = h.gelu(.erf) }
        }
        return h
    }
}
