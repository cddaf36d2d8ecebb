import Foundation
import ReflexCore

/// Writes an int8 copy of a checkpoint (`reflex quantize --scheme int8`).
///
/// Format (still plain safetensors, one `model.safetensors`):
/// - every linear-layer weight — a rank-2 tensor named `*.weight`, except the token-embedding table —
///   becomes `I8` with the same name and shape, symmetric per output channel
///   (q = round-half-even(w / s), s = max|row| / 127, q ∈ [-127, 127]);
/// - its scales are an `F32` tensor `<name>_scale` of shape [out] (so w ≈ s[n] · q[n][k]);
/// - the token-embedding table is stored as `F32` (so the runtime maps it without a copy and only
///   the looked-up rows ever load), and a tied LM head gets its own int8 `language_model.lm_head.weight`;
/// - every other tensor is copied unchanged (dtype included);
/// - header metadata `reflex.quantization` = `int8`, `reflex.scheme` describes the layout;
/// - config.json, tokenizer and statistics files are copied next to it.
/// `reflex predict --model OUT` loads it directly; layers run on the int8 kernels.
public enum CheckpointQuantizer {
    public enum Scheme: String, CaseIterable, Sendable { case int8 }

    /// Files copied verbatim from the source directory when present.
    static let sidecarFiles = ["config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                               "special_tokens_map.json", "dataset_statistics.json", "generation_config.json",
                               "added_tokens.json", "vocab.json", "merges.txt", "preprocessor_config.json"]

    /// Whether `name` (with `shape`) is quantized.
    public static func isLinearWeight(_ name: String, shape: [Int]) -> Bool {
        shape.count == 2 && name.hasSuffix(".weight") && name != PrismaticNames.embedTokens
    }

    /// Quantizes `source` into `destination` (created if needed); `progress` gets (done, total) tensors.
    /// Returns the bytes written.
    @discardableResult
    public static func quantize(source: String, destination: String, scheme: Scheme = .int8,
                                progress: (Int, Int) -> Void = { _, _ in }) throws -> Int {
        _ = try OpenVLAConfig.load(directory: source)  // refuse what we could not run
        let weights = try CheckpointWeights(directory: source)
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: destination, withIntermediateDirectories: true) } catch {
            throw ModelError(file: destination, "cannot create directory: \(error.localizedDescription)")
        }
        typealias Layout = (name: String, dtype: SafeTensorsDType, shape: [Int], bytes: Int)
        var layout: [Layout] = []
        var producers: [() throws -> [UInt8]] = []
        /// Adds `target` (I8) and its scales, quantized from the float tensor `source`.
        func addQuantized(_ target: String, from source: String, shard: SafeTensorsFile, shape: [Int]) {
            let (out, inp) = (shape[0], shape[1])
            // One quantization per weight, shared by the two entries it produces.
            var cached: QuantizedRows?
            func rows() throws -> QuantizedRows {
                if let cached { return cached }
                let q = QuantizedRows(try shard.floatTensor(source))
                cached = q
                return q
            }
            layout.append((target, .I8, shape, out * inp))
            producers.append { try rows().values.map { UInt8(bitPattern: $0) } }
            layout.append((target + PrismaticNames.scaleSuffix, .F32, [out], out * 4))
            producers.append {
                let s = try rows().scales
                cached = nil
                return s.withUnsafeBytes { Array($0) }
            }
        }
        let headName = PrismaticNames.lmHead + ".weight"
        for name in weights.names {
            let (shard, info) = try weights.entry(name)
            if info.dtype != .I8, isLinearWeight(name, shape: info.shape) {
                addQuantized(name, from: name, shard: shard, shape: info.shape)
            } else if name == PrismaticNames.embedTokens {
                if !weights.contains(headName) {
                    addQuantized(headName, from: name, shard: shard, shape: info.shape)  // tied head
                }
                layout.append((name, .F32, info.shape, info.elementCount * 4))
                producers.append { try shard.floatTensor(name).withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) } }
            } else {
                layout.append((name, info.dtype, info.shape, info.byteRange.count))
                producers.append { Array(shard.bytes(info)) }
            }
        }
        let metadata = ["format": "pt", "reflex.quantization": scheme.rawValue,
                        "reflex.scheme": "symmetric per-output-channel int8; scales in <weight name>_scale (F32 [out])"]
        let path = destination + "/model.safetensors"
        var done = 0
        try SafeTensorsWriter.stream(to: path, layout, metadata: metadata) { i in
            defer { done += 1; progress(done, layout.count) }
            return try producers[i]()
        }
        // Regular files only (a FIFO or device among them would hang or never end the copy).
        for file in sidecarFiles where try ModelFile.exists(source + "/" + file) {
            let dst = destination + "/" + file
            try? fm.removeItem(atPath: dst)
            do { try fm.copyItem(atPath: source + "/" + file, toPath: dst) } catch {
                throw ModelError(file: dst, "cannot copy: \(error.localizedDescription)")
            }
        }
        // A stale index from an earlier fp32 copy would shadow the new single file.
        try? fm.removeItem(atPath: destination + "/model.safetensors.index.json")
        return layout.reduce(0) { $0 + $1.bytes }
    }
}
