import Foundation
import ReflexCore

/// Builds the token ids an OpenVLA-family policy is prompted with, from the checkpoint's own
/// description (`prompt_format` in config.json) or, when that is absent, OpenVLA's Llama-2 rule:
/// `In: What action should the robot take to {instruction}?\nOut:` with the instruction lowercased,
/// the tokenizer's BOS first, and the lone SentencePiece "▁" token (id 29871 in Llama-2's
/// vocabulary) appended when the encoded prompt does not already end with it.
///
/// With `prompt_format` (e.g. Qwen2-based MiniVLA checkpoints: a chat template, no BOS), the
/// template's `{instruction}` is replaced (lowercased when `lowercase_instruction`), the text is
/// encoded with the tokenizer's special-token rules when `add_special_tokens`, and
/// `append_token_id` is appended when given and not already last.
///
/// A prompt that would not fit the model's positions (prompt + image tokens + action tokens) is
/// rejected here, before the model allocates anything for it.
public struct PromptBuilder: Sendable {
    public let tokenizer: Tokenizer
    public let template: String
    public let lowercase: Bool
    public let addSpecialTokens: Bool
    public let appendTokenId: Int?
    /// Positions the model has (``OpenVLAConfig/positionLimit``).
    public let positionLimit: Int
    /// Image tokens inserted into every prompt.
    public let imageTokens: Int
    /// Where the image goes (`prompt_format.image_insert_index`); the prompt must reach it.
    public let imageInsertIndex: Int
    let configPath: String

    public static let openVLATemplate = "In: What action should the robot take to {instruction}?\nOut:"

    /// Checks the tokenizer against the model: every id it can produce must be inside the
    /// model's vocabulary (`text_config.vocab_size`).
    public init(tokenizer: Tokenizer, config: OpenVLAConfig) throws {
        self.tokenizer = tokenizer
        configPath = (tokenizer.path as NSString).deletingLastPathComponent + "/config.json"
        if let f = config.promptFormat {
            template = f.template
            lowercase = f.lowercaseInstruction ?? true
            addSpecialTokens = f.addSpecialTokens ?? true
            appendTokenId = f.appendTokenId
        } else {
            template = Self.openVLATemplate
            lowercase = true
            addSpecialTokens = true
            appendTokenId = tokenizer.id(of: "▁")
        }
        imageInsertIndex = config.promptFormat?.imageInsertIndex ?? 1
        positionLimit = config.positionLimit
        imageTokens = config.imageTokens
        let vocab = config.textConfig.vocabSize
        if let (id, key) = tokenizer.largestId, id >= vocab {
            throw ModelError(file: tokenizer.path, key: key, "id \(id) is outside the model's vocabulary of \(vocab) (config.json text_config.vocab_size)")
        }
        if let a = appendTokenId, a < 0 || a >= vocab {
            throw ModelError(file: configPath, key: "prompt_format.append_token_id", "\(a) is outside the vocabulary of \(vocab)")
        }
    }

    /// Text tokens a prompt may have: the positions left after the image and the action tokens.
    public var maxPromptTokens: Int { positionLimit - imageTokens - OpenVLAConfig.actionDims }

    /// The prompt text for an instruction.
    public func text(_ instruction: String) -> String {
        template.replacingOccurrences(of: "{instruction}", with: lowercase ? instruction.lowercased() : instruction)
    }

    /// Token ids for an instruction; throws when the prompt does not fit the model's positions
    /// (checked before encoding too, from a lower bound on the token count, so a huge instruction
    /// is never encoded) or does not reach the image insert index.
    public func ids(_ instruction: String) throws -> [Int] {
        func tooLong(_ tokens: String) -> TensorError {
            .invalidArgument("instruction of \(instruction.unicodeScalars.count) characters makes a prompt of \(tokens) tokens; with \(imageTokens) image tokens and \(OpenVLAConfig.actionDims) action tokens it exceeds the model's limit of \(positionLimit) positions (at most \(maxPromptTokens) prompt tokens)")
        }
        // Every token spells at most `maxTokenScalars` scalars (×4 for byte-level and normalizers).
        let prompt = text(instruction)
        let lowerBound = prompt.unicodeScalars.count / (4 * Swift.max(1, tokenizer.maxTokenScalars))
        if lowerBound > maxPromptTokens { throw tooLong("at least \(lowerBound)") }
        var ids = tokenizer.encode(prompt, addSpecialTokens: addSpecialTokens)
        if let appendTokenId, ids.last != appendTokenId { ids.append(appendTokenId) }
        if ids.count > maxPromptTokens { throw tooLong("\(ids.count)") }
        if ids.count < imageInsertIndex {
            throw ModelError(file: configPath, key: "prompt_format.image_insert_index", "\(imageInsertIndex) is beyond the end of the \(ids.count)-token prompt")
        }
        return ids
    }
}
