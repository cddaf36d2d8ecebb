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

        enum CodingKeys: String, CodingKey {
            case nBins = "n_bins", vocabSize = "vocab_size", tokenBegin = "token_begin", tokenEnd = "token_end"
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

    /// Reads and validates `DIR/config.json`.
    public static func load(directory: String) throws -> OpenVLAConfig {
        let path = directory + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError(file: path, "cannot read") }
        let config: OpenVLAConfig
        do {
            config = try JSONDecoder().decode(OpenVLAConfig.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ModelError(file: path, key: (ctx.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."), "missing")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ModelError(file: path, key: ctx.codingPath.map(\.stringValue).joined(separator: "."), "wrong type: \(ctx.debugDescription)")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw ModelError(file: path, key: ctx.codingPath.map(\.stringValue).joined(separator: "."), "invalid: \(ctx.debugDescription)")
        } catch {
            throw ModelError(file: path, "cannot decode: \(error)")
        }
        try config.validate(path: path)
        return config
    }

    func validate(path: String) throws {
        guard modelType == "openvla" else {
            throw ModelError(file: path, key: "model_type", "unknown model_type \"\(modelType)\" (supported: openvla)")
        }
        guard TextConfig.supportedTypes.contains(textConfig.modelType) else {
            throw ModelError(file: path, key: "text_config.model_type", "unknown model_type \"\(textConfig.modelType)\" (supported: \(TextConfig.supportedTypes.joined(separator: ", ")))")
        }
        guard Projector.Kind(archSpecifier: archSpecifier) != nil else {
            throw ModelError(file: path, key: "arch_specifier", "unknown projector in \"\(archSpecifier)\" (supported: \(Projector.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let encoders = try visionEncoders(path: path)
        for (i, e) in encoders.enumerated() {
            do { try e.validate() } catch { throw ModelError(file: path, key: "vision_configs[\(i)]", "\(error)") }
        }
        if let spec = actionTokenizer, let b = spec.tokenBegin, let e = spec.tokenEnd, e - b + 1 != actionBins {
            throw ModelError(file: path, key: "action_tokenizer", "token range [\(b), \(e)] does not hold \(actionBins) bins")
        }
        if let s = imageResizeStrategy, s != "resize-naive" {
            throw ModelError(file: path, key: "image_resize_strategy", "unsupported \"\(s)\" (supported: resize-naive)")
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
