import Foundation
import ReflexCore

/// config.json of an OpenVLA-family checkpoint (model_type `openvla`), with Hugging Face keys.
public struct OpenVLAConfig: Decodable, Sendable {
    public var modelType: String
    public var visionBackboneId: String
    public var llmBackboneId: String?
    public var archSpecifier: String
    public var timmModelIds: [String]?
    public var imageSizes: [Int]?
    public var imageResizeStrategy: String?
    public var textConfig: TextConfig
    public var nActionBins: Int?
    public var padToMultipleOf: Int?
    public var normStats: [String: DatasetStatistics]?
    /// Explicit encoder sizes (featurizer, then fused_featurizer); wins over the timm-id table.
    public var visionConfigs: [VisionConfig]?
    /// How the prompt is built (`prompt_format`); when absent, OpenVLA's Llama-2 prompt.
    public var promptFormat: PromptFormat?
    /// Where the action tokens live (`action_tokenizer`); when absent, the top `n_action_bins` ids
    /// below the unpadded vocabulary size.
    public var actionTokenizer: ActionTokenizerSpec?

    /// `prompt_format` in config.json: the template, casing, an optional token appended when the
    /// encoded prompt does not already end with it (OpenVLA's 29871 rule), and where the image
    /// embeddings are inserted.
    public struct PromptFormat: Decodable, Sendable {
        public var template: String
        public var lowercaseInstruction: Bool?
        public var addSpecialTokens: Bool?
        public var appendTokenId: Int?
        public var imageInsertIndex: Int?

        enum CodingKeys: String, CodingKey {
            case template
            case lowercaseInstruction = "lowercase_instruction", addSpecialTokens = "add_special_tokens"
            case appendTokenId = "append_token_id", imageInsertIndex = "image_insert_index"
        }
    }

    /// `action_tokenizer` in config.json: bins and the id range [token_begin, token_end].
    public struct ActionTokenizerSpec: Decodable, Sendable {
        public var nBins: Int?
        public var vocabSize: Int?
        public var tokenBegin: Int?
        public var tokenEnd: Int?
        /// `type` (only "bins"), and the action range (only [-1, 1] is implemented).
        public var type: String?
        public var minAction: Double?
        public var maxAction: Double?

        enum CodingKeys: String, CodingKey {
            case nBins = "n_bins", vocabSize = "vocab_size", tokenBegin = "token_begin", tokenEnd = "token_end"
            case type, minAction = "min_action", maxAction = "max_action"
        }
    }

    public struct DatasetStatistics: Decodable, Sendable {
        public var action: ActionStatistics
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", visionBackboneId = "vision_backbone_id", llmBackboneId = "llm_backbone_id"
        case archSpecifier = "arch_specifier", timmModelIds = "timm_model_ids", imageSizes = "image_sizes"
        case imageResizeStrategy = "image_resize_strategy", textConfig = "text_config", nActionBins = "n_action_bins"
        case padToMultipleOf = "pad_to_multiple_of", normStats = "norm_stats", visionConfigs = "vision_configs"
        case promptFormat = "prompt_format", actionTokenizer = "action_tokenizer"
    }

    /// Reads and validates `DIR/config.json`: it must be a regular file holding a JSON object, and
    /// every number the runtime uses is checked (see `validate`); errors name the file and the key.
    public static func load(directory: String) throws -> OpenVLAConfig {
        let path = directory + "/config.json"
        guard let data = try ModelFile.contents(path) else { throw ModelError(file: path, "cannot read: \(String(cString: strerror(ENOENT)))") }
        // "not valid JSON: …" / "not a JSON object", and numbers that do not fit their type, before
        // decoding (the decoder reports those without the key).
        try preflight(try ModelFile.jsonObject(data, file: path), path: path)
        let config: OpenVLAConfig
        do {
            config = try JSONDecoder().decode(OpenVLAConfig.self, from: data)
        } catch let error as DecodingError {
            throw modelError(error, file: path)
        } catch {
            throw ModelError(file: path, "cannot decode: \(error)")
        }
        try config.validate(path: path)
        return config
    }

    /// A decoding error as a ``ModelError`` naming the key (`text_config.rope_parameters.rope_type`,
    /// `vision_configs[1].width`); never an empty key.
    static func modelError(_ error: DecodingError, file: String) -> ModelError {
        func key(_ path: [CodingKey], _ last: CodingKey? = nil) -> String? {
            var s = ""
            for k in path + (last.map { [$0] } ?? []) {
                if let i = k.intValue, k.stringValue.hasPrefix("Index ") || k.stringValue == "\(i)" { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
            }
            return s.isEmpty ? nil : s
        }
        switch error {
        case let .keyNotFound(k, ctx):
            return ModelError(file: file, key: key(ctx.codingPath, k), "missing")
        case let .typeMismatch(type, ctx):
            return ModelError(file: file, key: key(ctx.codingPath), "wrong type (expected \(type)): \(ctx.debugDescription)")
        case let .valueNotFound(type, ctx):
            return ModelError(file: file, key: key(ctx.codingPath), "null where \(type) is required")
        case let .dataCorrupted(ctx):
            if let k = key(ctx.codingPath) { return ModelError(file: file, key: k, "invalid: \(ctx.debugDescription)") }
            return ModelError(file: file, "cannot decode (a value that does not fit its key's type?): \(ModelFile.reason(error))")
        @unknown default:
            return ModelError(file: file, "cannot decode: \(error)")
        }
    }

    /// Encoder sizes: `vision_configs` when present, else the table of known backbones.
    public func visionEncoders(path: String = "config.json") throws -> [VisionConfig] {
        if let visionConfigs, !visionConfigs.isEmpty { return visionConfigs }
        guard let table = Self.backbones[visionBackboneId] else {
            throw ModelError(file: path, key: "vision_backbone_id", "unknown backbone \"\(visionBackboneId)\" and no vision_configs (known: \(Self.backbones.keys.sorted().joined(separator: ", ")))")
        }
        return table
    }

    /// Vocabulary size without padding: action tokens count down from here.
    public var unpaddedVocabSize: Int { textConfig.vocabSize - (padToMultipleOf ?? 0) }

    /// The key `actionBins` comes from (for error messages).
    var actionBinsKey: String { actionTokenizer?.nBins != nil ? "action_tokenizer.n_bins" : "n_action_bins" }

    /// The key `actionVocabTop` comes from (for error messages).
    var actionVocabTopKey: String {
        if let spec = actionTokenizer {
            if spec.tokenEnd != nil { return "action_tokenizer.token_end" }
            if spec.tokenBegin != nil { return "action_tokenizer.token_begin" }
            if spec.vocabSize != nil { return "action_tokenizer.vocab_size" }
        }
        return padToMultipleOf != nil ? "pad_to_multiple_of" : "text_config.vocab_size"
    }

    /// Number of action bins.
    public var actionBins: Int { actionTokenizer?.nBins ?? nActionBins ?? 256 }

    /// The id that action decoding counts down from: token = top − bin index − 1.
    public var actionVocabTop: Int {
        if let spec = actionTokenizer {
            if let end = spec.tokenEnd { return end + 1 }
            if let begin = spec.tokenBegin { return begin + actionBins }
            if let v = spec.vocabSize { return v }
        }
        return unpaddedVocabSize
    }

    /// Statistics for `key`; mandatory when the checkpoint has several datasets.
    public func statistics(unnormKey: String?, path: String) throws -> ActionStatistics? {
        guard let normStats, !normStats.isEmpty else { return nil }
        if let unnormKey {
            guard let s = normStats[unnormKey] else {
                throw ModelError(file: path, key: "norm_stats", "no dataset \"\(unnormKey)\" (available: \(normStats.keys.sorted().joined(separator: ", ")))")
            }
            return s.action
        }
        guard normStats.count == 1 else {
            throw ModelError(file: path, key: "norm_stats", "checkpoint has \(normStats.count) datasets; choose one with --unnorm-key (\(normStats.keys.sorted().joined(separator: ", ")))")
        }
        return normStats.first!.value.action
    }

    // MARK: - Known backbones (timm ids → sizes)

    static let dinov2L = VisionConfig.dinov2Large
    static let siglipSo400m = VisionConfig.siglipSo400m
    /// timm model id → encoder size.
    public static let timmModels: [String: VisionConfig] = [
        "vit_large_patch14_reg4_dinov2.lvd142m": dinov2L,
        "vit_so400m_patch14_siglip_224": siglipSo400m,
    ]
    /// Prismatic vision backbone id → encoders (featurizer, then fused_featurizer).
    public static let backbones: [String: [VisionConfig]] = [
        "dinosiglip-vit-so-224px": [dinov2L, siglipSo400m],
        "siglip-vit-so400m": [siglipSo400m],
        "dinov2-vit-l": [dinov2L],
    ]
}
