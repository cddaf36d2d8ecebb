import CKernels
import Foundation
import ReflexCore

/// Numeric format of the linear layers after loading.
public enum Precision: String, Sendable, CaseIterable {
    /// fp32 weights, OpenBLAS sgemm.
    case fp32
    /// int8 per-channel weights (quantized at load, or read from a quantized checkpoint).
    case int8
}

/// Builds an ``OpenVLA`` from a checkpoint directory: config.json, safetensors (single or sharded),
/// tensor names from ``PrismaticNames``, shapes checked against the config.
public struct OpenVLALoader {
    public let directory: String
    public let config: OpenVLAConfig
    public let weights: CheckpointWeights
    public let precision: Precision

    public init(directory: String, precision: Precision = .fp32) throws {
        self.directory = directory
        config = try OpenVLAConfig.load(directory: directory)
        weights = try CheckpointWeights(directory: directory)
        // A quantized checkpoint runs int8 throughout (its tied head included).
        self.precision = weights.shards.values.contains { $0.metadata["reflex.quantization"] != nil } ? .int8 : precision
    }

    /// Whether the checkpoint stores int8 weights (written by `reflex quantize`).
    public var isQuantizedCheckpoint: Bool {
        weights.shards.values.contains { $0.metadata["reflex.quantization"] != nil }
    }

    /// int8 layers made from float weights here: conversion temporaries come and go, and the heap is
    /// trimmed every few layers so they do not accumulate (2.1 GB instead of 8.5 GB peak for a
    /// MiniVLA-sized bf16 checkpoint).
    var quantizingAtLoad: Bool { precision == .int8 && !isQuantizedCheckpoint }

    func tensor(_ name: String, _ shape: [Int]) throws -> Tensor { try weights.tensor(name, shape: shape) }

    /// A linear layer `name`.weight [out, in] (+ `name`.bias), fp32 or int8 per `precision`;
    /// with `rows`, only those output channels.
    func linear(_ name: String, out: Int, in inp: Int, bias: Bool, rows: Range<Int>? = nil) throws -> any LinearLayer {
        let (shard, info) = try weights.entry(name + ".weight")
        let keep = rows ?? 0..<out
        let b = bias ? try tensor(name + ".bias", [out]).slice(axis: 0, keep) : nil
        guard info.shape == [out, inp] else {
            throw ModelError(file: shard.path, key: name + ".weight", "shape \(info.shape) disagrees with config.json (expected \([out, inp]))")
        }
        if info.dtype == .I8 {
            let scales = try tensor(name + ".weight" + PrismaticNames.scaleSuffix, [out])
            // Packed straight from the mapping: no intermediate copy of the int8 values.
            let base = shard.bytes(info).baseAddress!.advanced(by: keep.lowerBound * inp).assumingMemoryBound(to: Int8.self)
            do {
                let layer = try QuantizedLinear(values: base, rows: keep.count, cols: inp, scales: Array(scales.scalars[keep]), bias: b)
                shard.release(info)
                return layer
            } catch {
                throw ModelError(file: shard.path, key: name + ".weight", "\(error)")
            }
        }
        var w = try shard.floatTensor(name + ".weight")
        if rows != nil { w = try w.slice(axis: 0, keep) }
        if precision == .int8 || info.dtype != .F32 { shard.release(info) }  // the data now lives elsewhere
        return precision == .int8 ? try QuantizedLinear(weight: w, bias: b) : try Linear(weight: w, bias: b)
    }

    func firstTensor(_ names: [String], _ shape: [Int]) throws -> Tensor {
        for n in names where weights.contains(n) { return try tensor(n, shape) }
        throw ModelError(file: directory, key: names[0], "tensor not found in the checkpoint")
    }

    /// Per-encoder pixel statistics from preprocessor_config.json (`means`, `stds`), when present.
    /// Checkpoints carry their own (OpenVLA-7B's DINOv2 statistics are bf16-rounded ImageNet values).
    /// Every number is checked: one list of 3 finite means and 3 finite stds (> 0) per encoder, and
    /// `input_sizes` / `image_resize_strategy`, when given, must agree with config.json.
    func pixelStatistics(encoders: [VisionConfig]) throws -> [(mean: [Float], std: [Float])]? {
        let path = directory + "/preprocessor_config.json"
        guard let obj = try ModelFile.jsonObject(path) else { return nil }
        func fail(_ key: String, _ message: String) -> ModelError { ModelError(file: path, key: key, message) }
        if let sizes = obj["input_sizes"] {
            guard let lists = sizes as? [[Any]], lists.count == encoders.count else {
                throw fail("input_sizes", "must be \(encoders.count) lists [3, height, width]")
            }
            for (i, (l, e)) in zip(lists, encoders).enumerated() {
                let n = l.compactMap { JSONNumber.integer($0) }
                guard n == [3, e.imageSize, e.imageSize] else {
                    throw fail("input_sizes[\(i)]", "\(l) disagrees with config.json's image size \(e.imageSize) (expected [3, \(e.imageSize), \(e.imageSize)])")
                }
            }
        }
        if let s = obj["image_resize_strategy"], (s as? String) != "resize-naive" {
            throw fail("image_resize_strategy", "unsupported \(s) (supported: resize-naive)")
        }
        let meansAny = obj["means"], stdsAny = obj["stds"]
        if meansAny == nil && stdsAny == nil { return nil }
        func lists(_ v: Any?, _ key: String) throws -> [[Double]] {
            guard let outer = v as? [Any], outer.count == encoders.count else {
                throw fail(key, "must be \(encoders.count) list\(encoders.count == 1 ? "" : "s") of 3 numbers (one per encoder)")
            }
            return try outer.enumerated().map { i, inner in
                guard let l = inner as? [Any], l.count == 3 else { throw fail("\(key)[\(i)]", "must be a list of 3 numbers") }
                return try l.enumerated().map { j, x in
                    guard let d = JSONNumber.double(x), d.isFinite, abs(d) <= 1e4 else {
                        throw fail("\(key)[\(i)][\(j)]", "\(x) is not a finite number of at most 1e4 in magnitude")
                    }
                    return d
                }
            }
        }
        let means = try lists(meansAny, "means"), stds = try lists(stdsAny, "stds")
        for (i, s) in stds.enumerated() {
            for (j, x) in s.enumerated() where !(x >= 1e-4) {
                throw fail("stds[\(i)][\(j)]", "\(x) must be at least 1e-4 (it divides every pixel)")
            }
        }
        return zip(means, stds).map { (mean: $0.map(Float.init), std: $1.map(Float.init)) }
    }

    func loadEncoder(_ index: Int, _ c: VisionConfig, statistics: (mean: [Float], std: [Float])?) throws -> VisionEncoder {
        let e = PrismaticNames.encoder(index), d = c.width
        let classToken = c.family == .dinov2 ? try tensor(PrismaticNames.classToken(e), [1, 1, d]) : nil
        let registers = c.registers > 0 ? try tensor(PrismaticNames.registerTokens(e), [1, c.registers, d]) : nil
        let posName = PrismaticNames.positionEmbedding(e)
        let (posShard, posInfo) = try weights.entry(posName)
        guard posInfo.shape == [1, c.numPatches, d] || posInfo.shape == [1, c.numPatches + c.prefixTokens, d] else {
            throw ModelError(file: posShard.path, key: posName, "shape \(posInfo.shape) disagrees with config.json (expected [1, \(c.numPatches), \(d)])")
        }
        var blocks: [ViTBlock] = []
        for i in 0..<(c.depth - 1) {  // the last block's output is never used
            let b = PrismaticNames.block(e, i)
            blocks.append(ViTBlock(
                norm1: (try tensor(b + "norm1.weight", [d]), try tensor(b + "norm1.bias", [d])),
                qkv: try linear(b + "attn.qkv", out: 3 * d, in: d, bias: true),
                proj: try linear(b + "attn.proj", out: d, in: d, bias: true),
                ls1: c.layerscale ? try firstTensor(PrismaticNames.layerScale(b, 1), [d]) : nil,
                norm2: (try tensor(b + "norm2.weight", [d]), try tensor(b + "norm2.bias", [d])),
                fc1: try linear(b + "mlp.fc1", out: c.mlpDim, in: d, bias: true),
                fc2: try linear(b + "mlp.fc2", out: d, in: c.mlpDim, bias: true),
                ls2: c.layerscale ? try firstTensor(PrismaticNames.layerScale(b, 2), [d]) : nil))
            if quantizingAtLoad && i % 8 == 7 { rk_release_free_memory() }
        }
        // The last block's output is never used, but its attention scores patches for pruning: its LayerNorm and
        // the q/k rows of its qkv, when the checkpoint has them (OpenVLA's do).
        let last = PrismaticNames.block(e, c.depth - 1)
        var probe: ViTAttentionProbe?
        if weights.contains(last + "norm1.weight") && weights.contains(last + "attn.qkv.weight") {
            probe = ViTAttentionProbe(norm: (try tensor(last + "norm1.weight", [d]), try tensor(last + "norm1.bias", [d])),
                                      queryKey: try linear(last + "attn.qkv", out: 3 * d, in: d, bias: true, rows: 0..<(2 * d)))
        }
        let vit = try VisionTransformer(
            config: c, patchWeight: try tensor(PrismaticNames.patchEmbed(e) + ".weight", [d, 3, c.patchSize, c.patchSize]),
            patchBias: try tensor(PrismaticNames.patchEmbed(e) + ".bias", [d]), classToken: classToken,
            registerTokens: registers, positionEmbedding: try posShard.floatTensor(posName), blocks: blocks, probe: probe)
        return VisionEncoder(vit, mean: statistics?.mean, std: statistics?.std)
    }

    func loadLLM(maxPositions: Int) throws -> CausalLM {
        let t = config.textConfig, c = t.layerConfig, d = t.hiddenSize, kv = c.kvHeads * c.headDim
        var layers: [DecoderLayer] = []
        for i in 0..<t.numHiddenLayers {
            let p = PrismaticNames.layer(i)
            layers.append(try DecoderLayer(
                config: c, inputNorm: try tensor(p + "input_layernorm.weight", [d]),
                postAttentionNorm: try tensor(p + "post_attention_layernorm.weight", [d]),
                q: try linear(p + "self_attn.q_proj", out: d, in: d, bias: c.qkvBias),
                k: try linear(p + "self_attn.k_proj", out: kv, in: d, bias: c.qkvBias),
                v: try linear(p + "self_attn.v_proj", out: kv, in: d, bias: c.qkvBias),
                o: try linear(p + "self_attn.o_proj", out: d, in: d, bias: false),
                gate: try linear(p + "mlp.gate_proj", out: t.intermediateSize, in: d, bias: false),
                up: try linear(p + "mlp.up_proj", out: t.intermediateSize, in: d, bias: false),
                down: try linear(p + "mlp.down_proj", out: d, in: t.intermediateSize, bias: false)))
            if quantizingAtLoad && i % 8 == 7 { rk_release_free_memory() }
        }
        let embed = try tensor(PrismaticNames.embedTokens, [t.vocabSize, d])
        return try CausalLM(config: t, embedTokens: embed, layers: layers, norm: try tensor(PrismaticNames.finalNorm, [d]),
                            lmHead: try head(embed: embed, rows: nil), maxPositions: maxPositions)
    }

    /// The LM head (its own weight, or the tied embedding table), optionally only some rows.
    func head(embed: Tensor, rows: Range<Int>?) throws -> any LinearLayer {
        let t = config.textConfig, d = t.hiddenSize
        if weights.contains(PrismaticNames.lmHead + ".weight") {
            return try linear(PrismaticNames.lmHead, out: t.vocabSize, in: d, bias: false, rows: rows)
        }
        guard t.tiedEmbeddings else {
            throw ModelError(file: directory, key: PrismaticNames.lmHead + ".weight", "tensor not found and tie_word_embeddings is false")
        }
        let w = try rows.map { try embed.slice(axis: 0, $0) } ?? embed
        return precision == .int8 ? try QuantizedLinear(weight: w) : try Linear(weight: w)
    }

    /// Loads the whole policy.
    public func load() throws -> OpenVLA {
        let configPath = directory + "/config.json"
        let visionConfigs = try config.visionEncoders(path: configPath)
        let stats = try pixelStatistics(encoders: visionConfigs)
        let encoders = try visionConfigs.enumerated().map { try loadEncoder($0.offset, $0.element, statistics: stats?[$0.offset]) }
        let kind = Projector.Kind(archSpecifier: config.archSpecifier)!
        let width = encoders.reduce(0) { $0 + $1.transformer.config.width }
        let hidden = config.textConfig.hiddenSize
        let dims: [(Int, Int)]
        switch kind {
        case .linear: dims = [(width, hidden)]
        case .geluMLP: dims = [(width, hidden), (hidden, hidden)]
        case .fusedGeluMLP: dims = [(width, 4 * width), (4 * width, hidden), (hidden, hidden)]
        }
        let layers = try dims.enumerated().map { try linear(PrismaticNames.projector($0.offset + 1), out: $0.element.1, in: $0.element.0, bias: true) }
        let projector = try Projector(kind: kind, layers: layers)
        // Rotary tables for the positions a prompt can use (``OpenVLAConfig/positionLimit``).
        let llm = try loadLLM(maxPositions: config.positionLimit)
        let actions: ActionTokenizer
        do {
            actions = try ActionTokenizer(vocabSize: config.actionVocabTop, bins: config.actionBins)
        } catch {
            throw ModelError(file: configPath, key: config.actionBinsKey, "\(error)")
        }
        guard actions.tokenRange.lowerBound >= 0, actions.tokenRange.upperBound <= config.textConfig.vocabSize else {
            throw ModelError(file: configPath, key: config.actionVocabTopKey, "action tokens \(actions.tokenRange) fall outside the vocabulary of \(config.textConfig.vocabSize)")
        }
        return try OpenVLA(encoders: encoders, projector: projector, llm: llm, actionTokenizer: actions,
                           actionHead: try head(embed: llm.embedTokens, rows: actions.tokenRange),
                           imageInsertIndex: config.promptFormat?.imageInsertIndex ?? 1)
    }
}
