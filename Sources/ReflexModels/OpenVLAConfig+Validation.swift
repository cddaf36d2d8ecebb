import Foundation
import ReflexCore

/// Every number of config.json the runtime uses is checked here, at load, before anything is sized
/// from it: positive where it must be, below a sane upper bound (so no size can overflow an index
/// computation or ask for terabytes), and consistent with the others. Errors name the key.
extension OpenVLAConfig {
    /// Upper bounds: far above any real checkpoint (OpenVLA-7B, MiniVLA, Llama/Qwen up to 70B
    /// sizes), far below anything that could overflow `Int` arithmetic or exhaust memory by itself.
    public enum Limits {
        public static let vocabSize = 1 << 22
        public static let hiddenSize = 1 << 16
        public static let intermediateSize = 1 << 18
        public static let layers = 1024
        public static let heads = 1024
        public static let maxPositionEmbeddings = 1 << 24
        public static let imageSize = 4096
        public static let visionWidth = 1 << 14
        public static let visionMLP = 1 << 18
        public static let registers = 1024
        public static let patches = 1 << 14
        public static let actionBins = 1 << 16
        public static let imageInsertIndex = 1 << 12
    }

    /// Action dimensions an OpenVLA-family policy emits per step.
    public static let actionDims = 7

    /// Keys decoded as `Int` and as `Float`: checked in the raw JSON first, because Foundation's
    /// decoder reports a number that does not fit (2.5 or 1e30 for an Int) without its key.
    static let integerKeys = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                              "num_key_value_heads", "max_position_embeddings", "head_dim", "sliding_window"].map { "text_config." + $0 }
        + ["n_action_bins", "pad_to_multiple_of", "image_sizes[]", "prompt_format.append_token_id", "prompt_format.image_insert_index"]
        + ["n_bins", "vocab_size", "token_begin", "token_end"].map { "action_tokenizer." + $0 }
        + ["image_size", "patch_size", "width", "depth", "heads", "mlp_dim", "registers"].map { "vision_configs[]." + $0 }
    static let floatKeys = ["text_config.rms_norm_eps", "vision_configs[].norm_eps", "norm_stats.*.action.q01[]", "norm_stats.*.action.q99[]"]

    /// Checks the numbers at `integerKeys` and `floatKeys` in the parsed JSON (`[]`: every element
    /// of a list, `*`: every key of an object).
    static func preflight(_ root: [String: Any], path: String) throws {
        func visit(_ node: Any, _ parts: ArraySlice<String>, _ key: String, _ check: (Any, String) throws -> Void) throws {
            guard let part = parts.first else { return try check(node, key) }
            let rest = parts.dropFirst()
            if part == "*" {
                for (k, v) in (node as? [String: Any]) ?? [:] { try visit(v, rest, key + "." + k, check) }
                return
            }
            let list = part.hasSuffix("[]")
            let name = list ? String(part.dropLast(2)) : part
            guard let dict = node as? [String: Any], let v = dict[name], !(v is NSNull) else { return }
            let k = key.isEmpty ? name : key + "." + name
            if list, let items = v as? [Any] {
                for (i, item) in items.enumerated() { try visit(item, rest, k + "[\(i)]", check) }
            } else {
                try visit(v, rest, k, check)
            }
        }
        func split(_ pattern: String) -> ArraySlice<String> { ArraySlice(pattern.split(separator: ".").map(String.init)) }
        for pattern in integerKeys {
            try visit(root, split(pattern), "") { v, key in
                guard v is NSNumber else { return }  // strings, lists: the decoder names the key
                guard JSONNumber.integer(v) != nil else {
                    throw ModelError(file: path, key: key, "\(v) is not an integer in range")
                }
            }
        }
        for pattern in floatKeys {
            try visit(root, split(pattern), "") { v, key in
                guard v is NSNumber else { return }
                guard let d = JSONNumber.double(v), d.isFinite, abs(d) <= Double(Float.greatestFiniteMagnitude) else {
                    throw ModelError(file: path, key: key, "\(v) is not a finite 32-bit float")
                }
            }
        }
    }

    func validate(path: String) throws {
        func fail(_ key: String, _ message: String) -> ModelError { ModelError(file: path, key: key, message) }
        func check(_ value: Int, _ key: String, _ range: ClosedRange<Int>) throws {
            guard range.contains(value) else {
                throw fail(key, "\(value) is out of range (must be \(range.lowerBound)…\(range.upperBound))")
            }
        }
        func checkEps(_ value: Float, _ key: String) throws {
            guard value.isFinite, value > 0, value <= 1 else { throw fail(key, "\(value) is not a valid epsilon (must be finite, > 0 and ≤ 1)") }
        }

        guard modelType == "openvla" else {
            throw fail("model_type", "unknown model_type \"\(modelType)\" (supported: openvla)")
        }
        guard Projector.Kind(archSpecifier: archSpecifier) != nil else {
            throw fail("arch_specifier", "unknown projector in \"\(archSpecifier)\" (supported: \(Projector.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if let s = imageResizeStrategy, s != "resize-naive" {
            throw fail("image_resize_strategy", "unsupported \"\(s)\" (supported: resize-naive)")
        }

        // text_config
        let t = textConfig
        guard TextConfig.supportedTypes.contains(t.modelType) else {
            throw fail("text_config.model_type", "unknown model_type \"\(t.modelType)\" (supported: \(TextConfig.supportedTypes.joined(separator: ", ")))")
        }
        try check(t.vocabSize, "text_config.vocab_size", 1...Limits.vocabSize)
        try check(t.hiddenSize, "text_config.hidden_size", 1...Limits.hiddenSize)
        try check(t.intermediateSize, "text_config.intermediate_size", 1...Limits.intermediateSize)
        try check(t.numHiddenLayers, "text_config.num_hidden_layers", 1...Limits.layers)
        try check(t.numAttentionHeads, "text_config.num_attention_heads", 1...Limits.heads)
        guard t.hiddenSize % t.numAttentionHeads == 0 else {
            throw fail("text_config.num_attention_heads", "\(t.numAttentionHeads) heads do not divide hidden_size \(t.hiddenSize)")
        }
        if let kv = t.numKeyValueHeads { try check(kv, "text_config.num_key_value_heads", 1...t.numAttentionHeads) }
        guard t.numAttentionHeads % t.kvHeads == 0 else {
            throw fail("text_config.num_key_value_heads", "\(t.kvHeads) kv heads do not divide num_attention_heads \(t.numAttentionHeads)")
        }
        let headSize = t.hiddenSize / t.numAttentionHeads
        if let hd = t.headDim, hd != headSize {
            throw fail("text_config.head_dim", "\(hd) disagrees with hidden_size / num_attention_heads = \(headSize) (only head_dim = hidden_size / heads is supported)")
        }
        guard headSize % 2 == 0 else {
            throw fail("text_config.num_attention_heads", "head size hidden_size / num_attention_heads = \(headSize) must be even for RoPE")
        }
        try checkEps(t.rmsNormEps, "text_config.rms_norm_eps")
        if let theta = t.ropeTheta, !(theta.isFinite && theta > 0) {
            throw fail("text_config.rope_theta", "must be a finite positive number, got \(theta)")
        }
        if let act = t.hiddenAct, act != "silu" {
            throw fail("text_config.hidden_act", "unsupported activation \"\(act)\" (supported: silu)")
        }
        if t.mlpBias == true { throw fail("text_config.mlp_bias", "MLP biases are not supported") }

        // Vision encoders
        let encoders = try visionEncoders(path: path)
        if let v = visionConfigs, !v.isEmpty, v.count > 2 {
            throw fail("vision_configs", "\(v.count) encoders (supported: 1 or 2)")
        }
        for (i, e) in encoders.enumerated() {
            let k = "vision_configs[\(i)]."
            try check(e.imageSize, k + "image_size", 1...Limits.imageSize)
            try check(e.patchSize, k + "patch_size", 1...e.imageSize)
            guard e.imageSize % e.patchSize == 0 else {
                throw fail(k + "patch_size", "\(e.patchSize) does not divide image_size \(e.imageSize)")
            }
            try check(e.numPatches, k + "image_size", 1...Limits.patches)
            try check(e.width, k + "width", 1...Limits.visionWidth)
            try check(e.depth, k + "depth", 2...Limits.layers)  // features come from the second-to-last block
            try check(e.heads, k + "heads", 1...e.width)
            guard e.width % e.heads == 0 else { throw fail(k + "heads", "\(e.heads) heads do not divide width \(e.width)") }
            try check(e.mlpDim, k + "mlp_dim", 1...Limits.visionMLP)
            try check(e.registers, k + "registers", 0...Limits.registers)
            try checkEps(e.normEps, k + "norm_eps")
            do { try e.validate() } catch { throw fail(String(k.dropLast()), "\(error)") }
        }
        if encoders.count == 2, encoders[0].numPatches != encoders[1].numPatches {
            throw fail("vision_configs[1].image_size", "\(encoders[1].numPatches) patches disagree with the first encoder's \(encoders[0].numPatches)")
        }
        if let sizes = imageSizes {
            guard sizes.count == encoders.count, zip(sizes, encoders).allSatisfy({ $0 == $1.imageSize }) else {
                throw fail("image_sizes", "\(sizes) disagree with the encoders' image sizes \(encoders.map(\.imageSize))")
            }
        }
        if let ids = timmModelIds, ids.count != encoders.count {
            throw fail("timm_model_ids", "\(ids.count) ids for \(encoders.count) encoders")
        }
        let numPatches = encoders[0].numPatches

        // Positions: the image, at least a BOS and the action tokens must fit.
        if let mpe = t.maxPositionEmbeddings {
            try check(mpe, "text_config.max_position_embeddings", (numPatches + 1 + Self.actionDims)...Limits.maxPositionEmbeddings)
        }

        // Sliding-window attention is not implemented: only accepted when the window covers every
        // position the runtime uses.
        if t.useSlidingWindow == true, (t.slidingWindow ?? 0) < positionLimit {
            throw fail("text_config.use_sliding_window", "sliding-window attention (window \(t.slidingWindow.map(String.init) ?? "unset")) is not supported; the runtime attends to all \(positionLimit) positions")
        }

        // Vocabulary padding and action tokens.
        if let pad = padToMultipleOf { try check(pad, "pad_to_multiple_of", 0...(t.vocabSize - 1)) }
        if let n = nActionBins { try check(n, "n_action_bins", 2...Limits.actionBins) }
        if let spec = actionTokenizer {
            if let n = spec.nBins {
                try check(n, "action_tokenizer.n_bins", 2...Limits.actionBins)
                if let m = nActionBins, m != n { throw fail("action_tokenizer.n_bins", "\(n) disagrees with n_action_bins \(m)") }
            }
            if let type = spec.type, type != "bins" { throw fail("action_tokenizer.type", "unsupported \"\(type)\" (supported: bins)") }
            if let lo = spec.minAction, lo != -1 { throw fail("action_tokenizer.min_action", "\(lo) is not supported (bins span [-1, 1])") }
            if let hi = spec.maxAction, hi != 1 { throw fail("action_tokenizer.max_action", "\(hi) is not supported (bins span [-1, 1])") }
            if let b = spec.tokenBegin { try check(b, "action_tokenizer.token_begin", 0...(t.vocabSize - 1)) }
            if let e = spec.tokenEnd { try check(e, "action_tokenizer.token_end", 0...(t.vocabSize - 1)) }
            if let v = spec.vocabSize { try check(v, "action_tokenizer.vocab_size", 1...t.vocabSize) }
            if let b = spec.tokenBegin, let e = spec.tokenEnd, e - b + 1 != actionBins {
                throw fail("action_tokenizer", "token range [\(b), \(e)] does not hold \(actionBins) bins")
            }
            if let v = spec.vocabSize, (spec.tokenEnd != nil || spec.tokenBegin != nil), v != actionVocabTop {
                throw fail("action_tokenizer.vocab_size", "\(v) disagrees with the token range, whose top is \(actionVocabTop - 1)")
            }
        }
        let top = actionVocabTop
        guard top - actionBins >= 0, top <= t.vocabSize else {
            throw fail(actionVocabTopKey, "action tokens \(top - actionBins)..<\(top) (\(actionBins) bins) fall outside the vocabulary of \(t.vocabSize)")
        }

        // Dataset statistics: 7 finite q01 ≤ q99 pairs (and mask entries) per dataset.
        for (name, stats) in normStats ?? [:] {
            let a = stats.action, k = "norm_stats.\(name).action."
            guard a.q01.count == Self.actionDims else { throw fail(k + "q01", "\(a.q01.count) entries (must be \(Self.actionDims))") }
            guard a.q99.count == Self.actionDims else { throw fail(k + "q99", "\(a.q99.count) entries (must be \(Self.actionDims))") }
            if let m = a.mask, m.count != Self.actionDims { throw fail(k + "mask", "\(m.count) entries (must be \(Self.actionDims))") }
            for i in 0..<Self.actionDims {
                guard a.q01[i].isFinite else { throw fail(k + "q01[\(i)]", "not finite") }
                guard a.q99[i].isFinite else { throw fail(k + "q99[\(i)]", "not finite") }
                guard a.q01[i] <= a.q99[i] else { throw fail(k + "q99[\(i)]", "\(a.q99[i]) is below q01 \(a.q01[i])") }
            }
        }

        // Prompt format.
        if let f = promptFormat {
            guard f.template.contains("{instruction}") else { throw fail("prompt_format.template", "has no {instruction} placeholder") }
            if let i = f.imageInsertIndex { try check(i, "prompt_format.image_insert_index", 0...Limits.imageInsertIndex) }
            if let id = f.appendTokenId { try check(id, "prompt_format.append_token_id", 0...(t.vocabSize - 1)) }
        }
    }

    /// Positions the loaded model has rotary tables for: the image tokens plus a generous text
    /// budget (not the model's full context, which would cost time and memory at every load),
    /// capped by `max_position_embeddings`.
    public var positionLimit: Int {
        let patches = (try? visionEncoders())?.first?.numPatches ?? 0
        return Swift.min(textConfig.maxPositionEmbeddings ?? Int.max, patches + Self.textPositionBudget)
    }

    /// Text positions allowed on top of the image tokens.
    public static let textPositionBudget = 1024

    /// Image tokens each prompt carries.
    public var imageTokens: Int { (try? visionEncoders())?.first?.numPatches ?? 0 }
}
