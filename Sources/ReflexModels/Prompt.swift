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
public struct PromptBuilder: Sendable {
    public let tokenizer: Tokenizer
    public let template: String
    public let lowercase: Bool
    public let addSpecialTokens: Bool
    public let appendTokenId: Int?

    public static let openVLATemplate = "In: What action should the robot take to {instruction}?\nOut:"

    public init(tokenizer: Tokenizer, config: OpenVLAConfig) {
        self.tokenizer = tokenizer
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
    }

    /// The prompt text for an instruction.
    public func text(_ instruction: String) -> String {
        template.replacingOccurrences(of: "{instruction}", with: lowercase ? instruction.lowercased() : instruction)
    }

    /// Token ids for an instruction.
    public func ids(_ instruction: String) -> [Int] {
        var ids = tokenizer.encode(text(instruction), addSpecialTokens: addSpecialTokens)
        if let appendTokenId, ids.last != appendTokenId { ids.append(appendTokenId) }
        return ids
    }
}
