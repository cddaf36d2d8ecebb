import Foundation
import ReflexCore

/// Builds the token ids an OpenVLA-family policy is prompted with.
///
/// - Llama-2 checkpoints (OpenVLA): `In: What action should the robot take to {instruction}?\nOut:`
///   with the instruction lowercased, BOS first, and the lone SentencePiece "▁" token (id 29871 in
///   Llama-2's vocabulary) appended when the encoded prompt does not already end with it.
/// - Checkpoints whose config.json has `prompt_template` (e.g. Qwen2-based MiniVLA variants): the
///   template with `{instruction}` replaced by the lowercased instruction, encoded with the
///   tokenizer's own special-token rules; BOS is prepended when the tokenizer adds none, because the
///   image is inserted after the first token.
public struct PromptBuilder: Sendable {
    public let tokenizer: Tokenizer
    public let template: String?
    public let bosId: Int?

    public static let openVLATemplate = "In: What action should the robot take to {instruction}?\nOut:"

    public init(tokenizer: Tokenizer, config: OpenVLAConfig) {
        self.tokenizer = tokenizer
        template = config.promptTemplate
        bosId = tokenizer.prefixIds.first ?? tokenizer.id(of: "<s>")
    }

    /// The prompt text for an instruction.
    public func text(_ instruction: String) -> String {
        (template ?? Self.openVLATemplate).replacingOccurrences(of: "{instruction}", with: instruction.lowercased())
    }

    /// Token ids for an instruction.
    public func ids(_ instruction: String) -> [Int] {
        var ids = tokenizer.encode(text(instruction), addSpecialTokens: true)
        if template == nil {
            if let space = tokenizer.id(of: "▁"), ids.last != space { ids.append(space) }
        } else if tokenizer.prefixIds.isEmpty, let bosId, ids.first != bosId {
            ids.insert(bosId, at: 0)
        }
        return ids
    }
}
