import Foundation

/// A Hugging Face `tokenizer.json` BPE tokenizer: SentencePiece-style BPE with byte fallback
/// (Llama-2) and byte-level BPE (GPT-2/Qwen2), driven entirely by the file's data — normalizer,
/// pre-tokenizer, model, post-processor and decoder — so that encode/decode match the `tokenizers`
/// library.
///
/// One file per pipeline stage: `Tokenizer+Loading` (parsing and validating tokenizer.json),
/// `Tokenizer+Encoding` (added tokens, normalizers), `Tokenizer+PreTokenization`, `Tokenizer+BPE`
/// (the model, byte fallback), `Tokenizer+Decoding`; `ByteLevelAlphabet` is GPT-2's byte map.
public final class Tokenizer: @unchecked Sendable {
    public let path: String
    /// Token string → id (model vocabulary plus added tokens).
    public let vocab: [String: Int]
    /// Id → token string.
    public let idToToken: [Int: String]
    /// Special/added tokens matched verbatim in the input before normalization.
    let addedTokens: [(content: String, id: Int, special: Bool)]
    /// The same as Unicode scalar arrays, longest first (so overlapping tokens match greedily).
    let addedTokenScalars: [(scalars: [Unicode.Scalar], id: Int)]
    let merges: [Pair: Int]
    let byteFallback: Bool
    let ignoreMerges: Bool
    let unkToken: String?
    let normalizers: [Normalizer]
    let preTokenizers: [PreTokenizer]
    let decoders: [Decoder]
    /// Ids the post-processor adds around a single sequence (e.g. BOS).
    let prefixIds: [Int]
    let suffixIds: [Int]
    /// Whether the model works on GPT-2's byte-to-unicode alphabet.
    let byteLevel: Bool

    struct Pair: Hashable { let a: String, b: String }

    enum Normalizer {
        case prepend(String)
        case replace(String, String)
        case nfc, nfkc, nfd, nfkd, lowercase
    }

    enum PreTokenizer {
        case metaspace(replacement: String, prependScheme: String, split: Bool)
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
        case split(Regex<AnyRegexOutput>, behavior: String, invert: Bool)
        case whitespaceSplit
    }

    enum Decoder {
        case replace(String, String)
        case byteFallback
        case fuse
        case strip(String, start: Int, stop: Int)
        case byteLevel
        case metaspace(replacement: String, prependScheme: String)
    }

    /// GPT-2's pre-tokenization pattern, used by ByteLevel when `use_regex` is true.
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// The longest token (vocabulary or added), in Unicode scalars: every id of an encoding
    /// spells at most this many, which bounds the token count of a text from below.
    public let maxTokenScalars: Int
    /// The largest id the tokenizer can produce and the key that defines it (`model.vocab.<token>`,
    /// `added_tokens[i].id`, `post_processor.special_tokens.<name>.ids`).
    public let largestId: (id: Int, key: String)?

    /// Everything `tokenizer.json` defines, parsed and validated (see `Tokenizer+Loading.swift`).
    struct Parts {
        var vocab: [String: Int]
        var addedTokens: [(content: String, id: Int, special: Bool)]
        var merges: [Pair: Int]
        var byteFallback: Bool
        var ignoreMerges: Bool
        var unkToken: String?
        var normalizers: [Normalizer]
        var preTokenizers: [PreTokenizer]
        var decoders: [Decoder]
        var prefixIds: [Int]
        var suffixIds: [Int]
        var largestId: (id: Int, key: String)?
    }

    init(path: String, parts p: Parts) {
        self.path = path
        vocab = p.vocab
        var inverse: [Int: String] = [:]
        for (t, id) in p.vocab { inverse[id] = t }
        idToToken = inverse
        addedTokens = p.addedTokens
        addedTokenScalars = p.addedTokens.map { (scalars: Array($0.content.unicodeScalars), id: $0.id) }.sorted { $0.scalars.count > $1.scalars.count }
        merges = p.merges
        byteFallback = p.byteFallback
        ignoreMerges = p.ignoreMerges
        unkToken = p.unkToken
        normalizers = p.normalizers
        preTokenizers = p.preTokenizers
        decoders = p.decoders
        prefixIds = p.prefixIds
        suffixIds = p.suffixIds
        byteLevel = p.preTokenizers.contains { if case .byteLevel = $0 { return true } else { return false } }
            || p.decoders.contains { if case .byteLevel = $0 { return true } else { return false } }
        maxTokenScalars = p.vocab.keys.reduce(1) { Swift.max($0, $1.unicodeScalars.count) }
        largestId = p.largestId
    }

    /// Id of a token string, if the vocabulary has it.
    public func id(of token: String) -> Int? { vocab[token] }
    /// Number of ids the model vocabulary plus added tokens cover (max id + 1).
    public var size: Int { (idToToken.keys.max() ?? -1) + 1 }
}
