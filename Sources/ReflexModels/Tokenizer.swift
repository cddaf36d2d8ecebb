import Foundation

/// A Hugging Face `tokenizer.json` BPE tokenizer: SentencePiece-style BPE with byte fallback
/// (Llama-2) and byte-level BPE (GPT-2/Qwen2), driven entirely by the file's data — normalizer,
/// pre-tokenizer, model, post-processor and decoder — so that encode/decode match the `tokenizers`
/// library.
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

    /// Loads `tokenizer.json`; `tokenizer_config.json` next to it is consulted for `add_bos_token`
    /// when the file has no post-processor.
    public convenience init(directory: String) throws {
        try self.init(path: directory + "/tokenizer.json")
    }

    public init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError(file: path, "cannot read") }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError(file: path, "not a JSON object")
        }
        func fail(_ key: String, _ msg: String) -> ModelError { ModelError(file: path, key: key, msg) }

        guard let model = root["model"] as? [String: Any] else { throw fail("model", "missing") }
        guard (model["type"] as? String ?? "BPE") == "BPE" else {
            throw fail("model.type", "unsupported tokenizer model \(model["type"] ?? "?") (only BPE)")
        }
        guard let v = model["vocab"] as? [String: Int] else { throw fail("model.vocab", "missing or not an object of ids") }
        var vocab = v
        var merges: [Pair: Int] = [:]
        for (rank, m) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let s = m as? String {
                let parts = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw fail("model.merges[\(rank)]", "expected \"a b\", got \"\(s)\"") }
                merges[Pair(a: String(parts[0]), b: String(parts[1]))] = merges[Pair(a: String(parts[0]), b: String(parts[1]))] ?? rank
            } else if let p = m as? [String], p.count == 2 {
                merges[Pair(a: p[0], b: p[1])] = merges[Pair(a: p[0], b: p[1])] ?? rank
            } else {
                throw fail("model.merges[\(rank)]", "expected \"a b\" or [a, b]")
            }
        }
        self.merges = merges
        byteFallback = model["byte_fallback"] as? Bool ?? false
        ignoreMerges = model["ignore_merges"] as? Bool ?? false
        unkToken = model["unk_token"] as? String

        var added: [(String, Int, Bool)] = []
        for (i, t) in ((root["added_tokens"] as? [[String: Any]]) ?? []).enumerated() {
            guard let content = t["content"] as? String, let id = t["id"] as? Int else {
                throw fail("added_tokens[\(i)]", "needs content and id")
            }
            added.append((content, id, t["special"] as? Bool ?? false))
            vocab[content] = id
        }
        addedTokens = added.map { (content: $0.0, id: $0.1, special: $0.2) }
        addedTokenScalars = added.map { (scalars: Array($0.0.unicodeScalars), id: $0.1) }.sorted { $0.scalars.count > $1.scalars.count }
        self.vocab = vocab
        var inverse: [Int: String] = [:]
        for (t, id) in vocab { inverse[id] = t }
        idToToken = inverse

        normalizers = try Self.parseNormalizer(root["normalizer"], fail)
        preTokenizers = try Self.parsePreTokenizer(root["pre_tokenizer"], fail)
        decoders = try Self.parseDecoder(root["decoder"], fail)
        byteLevel = preTokenizers.contains { if case .byteLevel = $0 { return true } else { return false } }
            || decoders.contains { if case .byteLevel = $0 { return true } else { return false } }

        // Post-processor: a TemplateProcessing "single" template gives the ids around a sequence.
        var prefix: [Int] = [], suffix: [Int] = []
        if let post = root["post_processor"] as? [String: Any] {
            let posts = (post["type"] as? String) == "Sequence" ? (post["processors"] as? [[String: Any]] ?? []) : [post]
            for p in posts where (p["type"] as? String) == "TemplateProcessing" {
                var seenSequence = false
                for piece in (p["single"] as? [[String: Any]]) ?? [] {
                    if piece["Sequence"] != nil { seenSequence = true; continue }
                    if let sp = piece["SpecialToken"] as? [String: Any], let name = sp["id"] as? String {
                        let specials = p["special_tokens"] as? [String: Any]
                        let ids = ((specials?[name] as? [String: Any])?["ids"] as? [Int]) ?? vocab[name].map { [$0] }
                        guard let ids else { throw fail("post_processor.special_tokens", "unknown special token \(name)") }
                        if seenSequence { suffix += ids } else { prefix += ids }
                    }
                }
            }
        } else {
            // No post-processor: tokenizer_config.json's add_bos_token / bos_token decide.
            let cfgPath = (path as NSString).deletingLastPathComponent + "/tokenizer_config.json"
            if let d = FileManager.default.contents(atPath: cfgPath),
               let cfg = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
               cfg["add_bos_token"] as? Bool == true {
                let bos = (cfg["bos_token"] as? String) ?? ((cfg["bos_token"] as? [String: Any])?["content"] as? String)
                if let bos, let id = vocab[bos] { prefix = [id] }
            }
        }
        prefixIds = prefix
        suffixIds = suffix
    }

    // MARK: - Parsing the pipeline

    private static func list(_ obj: Any?, key: String) -> [[String: Any]] {
        guard let o = obj as? [String: Any] else { return [] }
        if (o["type"] as? String) == "Sequence" { return (o[key] as? [[String: Any]]) ?? [] }
        return [o]
    }

    private static func pattern(_ o: [String: Any]) -> (string: String?, regex: String?) {
        guard let p = o["pattern"] as? [String: Any] else { return (nil, nil) }
        return (p["String"] as? String, p["Regex"] as? String)
    }

    private static func parseNormalizer(_ obj: Any?, _ fail: (String, String) -> ModelError) throws -> [Normalizer] {
        try list(obj, key: "normalizers").map { n in
            switch n["type"] as? String {
            case "Prepend": return .prepend(n["prepend"] as? String ?? "")
            case "Replace":
                guard let s = pattern(n).string else { throw fail("normalizer", "Replace with a regex pattern is not supported") }
                return .replace(s, n["content"] as? String ?? "")
            case "NFC": return .nfc
            case "NFKC": return .nfkc
            case "NFD": return .nfd
            case "NFKD": return .nfkd
            case "Lowercase": return .lowercase
            case let t: throw fail("normalizer", "unsupported normalizer \(t ?? "?")")
            }
        }
    }

    private static func parsePreTokenizer(_ obj: Any?, _ fail: (String, String) -> ModelError) throws -> [PreTokenizer] {
        try list(obj, key: "pretokenizers").map { p in
            switch p["type"] as? String {
            case "Metaspace":
                let scheme = p["prepend_scheme"] as? String ?? ((p["add_prefix_space"] as? Bool ?? true) ? "always" : "never")
                return .metaspace(replacement: p["replacement"] as? String ?? "▁", prependScheme: scheme, split: p["split"] as? Bool ?? true)
            case "ByteLevel":
                return .byteLevel(addPrefixSpace: p["add_prefix_space"] as? Bool ?? false, useRegex: p["use_regex"] as? Bool ?? true)
            case "Split":
                let (s, r) = pattern(p)
                let source = r ?? s.map(NSRegularExpression.escapedPattern(for:)) ?? ""
                guard let regex = try? Regex(source).matchingSemantics(.unicodeScalar) else { throw fail("pre_tokenizer", "cannot compile split pattern \(source)") }
                return .split(regex, behavior: p["behavior"] as? String ?? "Isolated", invert: p["invert"] as? Bool ?? false)
            case "WhitespaceSplit": return .whitespaceSplit
            case let t: throw fail("pre_tokenizer", "unsupported pre-tokenizer \(t ?? "?")")
            }
        }
    }

    private static func parseDecoder(_ obj: Any?, _ fail: (String, String) -> ModelError) throws -> [Decoder] {
        try list(obj, key: "decoders").map { d in
            switch d["type"] as? String {
            case "Replace":
                guard let s = pattern(d).string else { throw fail("decoder", "Replace with a regex pattern is not supported") }
                return .replace(s, d["content"] as? String ?? "")
            case "ByteFallback": return .byteFallback
            case "Fuse": return .fuse
            case "Strip": return .strip(d["content"] as? String ?? " ", start: d["start"] as? Int ?? 0, stop: d["stop"] as? Int ?? 0)
            case "ByteLevel": return .byteLevel
            case "Metaspace":
                let scheme = d["prepend_scheme"] as? String ?? ((d["add_prefix_space"] as? Bool ?? true) ? "always" : "never")
                return .metaspace(replacement: d["replacement"] as? String ?? "▁", prependScheme: scheme)
            case let t: throw fail("decoder", "unsupported decoder \(t ?? "?")")
            }
        }
    }

    // MARK: - Encoding

    /// Token ids for `text`; with `addSpecialTokens` the post-processor's tokens (e.g. BOS) are added.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = []
        var first = true
        for segment in splitOnAddedTokens(text) {
            switch segment {
            case let .added(id):
                ids.append(id)
            case let .text(s):
                for word in preTokenize(normalize(s), firstSegment: first) { ids += bpe(word) }
            }
            first = false
        }
        return addSpecialTokens ? prefixIds + ids + suffixIds : ids
    }

    enum Segment { case text(String), added(Int) }

    /// Splits the input around added tokens (matched verbatim on Unicode scalars, longest first,
    /// leftmost first).
    func splitOnAddedTokens(_ text: String) -> [Segment] {
        if text.isEmpty { return [] }
        if addedTokens.isEmpty { return [.text(text)] }
        let scalars = Array(text.unicodeScalars)
        var out: [Segment] = []
        var pending = String.UnicodeScalarView()
        var i = 0
        outer: while i < scalars.count {
            for tok in addedTokenScalars where !tok.scalars.isEmpty && i + tok.scalars.count <= scalars.count {
                if scalars[i..<(i + tok.scalars.count)].elementsEqual(tok.scalars) {
                    if !pending.isEmpty { out.append(.text(String(pending))); pending = String.UnicodeScalarView() }
                    out.append(.added(tok.id))
                    i += tok.scalars.count
                    continue outer
                }
            }
            pending.append(scalars[i])
            i += 1
        }
        if !pending.isEmpty { out.append(.text(String(pending))) }
        return out
    }


    func normalize(_ s: String) -> String {
        var t = s
        for n in normalizers {
            switch n {
            case let .prepend(p): if !t.isEmpty { t = p + t }
            case let .replace(a, b): t = t.replacingOccurrences(of: a, with: b)
            case .nfc: t = t.precomposedStringWithCanonicalMapping
            case .nfkc: t = t.precomposedStringWithCompatibilityMapping
            case .nfd: t = t.decomposedStringWithCanonicalMapping
            case .nfkd: t = t.decomposedStringWithCompatibilityMapping
            case .lowercase: t = t.lowercased()
            }
        }
        return t
    }

    /// Applies the pre-tokenizers in order; each maps every current piece to a list of pieces.
    func preTokenize(_ s: String, firstSegment: Bool) -> [String] {
        var pieces = [s]
        for p in preTokenizers {
            pieces = pieces.flatMap { piece -> [String] in
                switch p {
                case let .metaspace(rep, scheme, split):
                    var t = piece.replacingOccurrences(of: " ", with: rep)
                    if (scheme == "always" || (scheme == "first" && firstSegment)) && !t.hasPrefix(rep) { t = rep + t }
                    return split ? Self.splitKeepingPrefix(t, on: rep.unicodeScalars.first!) : [t]
                case let .byteLevel(addPrefixSpace, useRegex):
                    var t = piece
                    if addPrefixSpace && !t.hasPrefix(" ") { t = " " + t }
                    let parts = useRegex ? Self.isolatedSplit(t, Self.gpt2Regex) : [t]
                    return parts.map(ByteLevelAlphabet.encode)
                case let .split(regex, behavior, invert):
                    return Self.split(piece, regex, behavior: behavior, invert: invert)
                case .whitespaceSplit:
                    return piece.split(whereSeparator: { $0.isWhitespace }).map(String.init)
                }
            }
        }
        return pieces.filter { !$0.isEmpty }
    }

    nonisolated(unsafe) static let gpt2Regex = try! Regex(gpt2Pattern).matchingSemantics(.unicodeScalar)

    /// Splits before every occurrence of `c` (the piece keeps its leading `c`).
    static func splitKeepingPrefix(_ s: String, on c: Unicode.Scalar) -> [String] {
        var out: [String] = []
        var cur = String.UnicodeScalarView()
        for ch in s.unicodeScalars {
            if ch == c && !cur.isEmpty { out.append(String(cur)); cur = String.UnicodeScalarView() }
            cur.append(ch)
        }
        if !cur.isEmpty { out.append(String(cur)) }
        return out
    }

    /// Matches and the gaps between them, in order (the "Isolated" behaviour).
    static func isolatedSplit(_ s: String, _ regex: Regex<AnyRegexOutput>) -> [String] {
        split(s, regex, behavior: "Isolated", invert: false)
    }

    static func split(_ s: String, _ regex: Regex<AnyRegexOutput>, behavior: String, invert: Bool) -> [String] {
        // Segments tagged with whether they are a match.
        var segments: [(String, Bool)] = []
        var last = s.startIndex
        for m in s.matches(of: regex) where !m.range.isEmpty {
            if last < m.range.lowerBound { segments.append((String(s[last..<m.range.lowerBound]), false)) }
            segments.append((String(s[m.range]), true))
            last = m.range.upperBound
        }
        if last < s.endIndex { segments.append((String(s[last...]), false)) }
        if invert { segments = segments.map { ($0.0, !$0.1) } }
        switch behavior {
        case "Removed":
            return segments.filter { !$0.1 }.map(\.0)
        case "MergedWithPrevious":
            var out: [String] = []
            for (t, isMatch) in segments {
                if isMatch, !out.isEmpty { out[out.count - 1] += t } else { out.append(t) }
            }
            return out
        case "MergedWithNext":
            var out: [String] = []
            var carry = ""
            for (t, isMatch) in segments {
                if isMatch { carry += t } else { out.append(carry + t); carry = "" }
            }
            if !carry.isEmpty { out.append(carry) }
            return out
        case "Contiguous":
            var out: [(String, Bool)] = []
            for seg in segments {
                if let l = out.last, l.1 == seg.1 { out[out.count - 1].0 += seg.0 } else { out.append(seg) }
            }
            return out.map(\.0)
        default:  // Isolated
            return segments.map(\.0)
        }
    }

    /// Byte-pair encoding of one pre-tokenized word into ids.
    func bpe(_ word: String) -> [Int] {
        if ignoreMerges, let id = vocab[word] { return [id] }
        // Symbols are Unicode scalars (as in the reference), never grapheme clusters.
        var symbols = word.unicodeScalars.map { String($0) }
        while symbols.count > 1 {
            var best = Int.max, at = -1
            for i in 0..<(symbols.count - 1) {
                if let r = merges[Pair(a: symbols[i], b: symbols[i + 1])], r < best { best = r; at = i }
            }
            if at < 0 { break }
            // Merge every occurrence of the best pair, left to right.
            let (a, b) = (symbols[at], symbols[at + 1])
            var merged: [String] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i < symbols.count - 1 && symbols[i] == a && symbols[i + 1] == b {
                    merged.append(a + b)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        var ids: [Int] = []
        for s in symbols {
            if let id = vocab[s] {
                ids.append(id)
            } else if byteFallback {
                for byte in Array(s.utf8) {
                    if let id = vocab[String(format: "<0x%02X>", byte)] { ids.append(id) } else if let u = unkToken, let id = vocab[u] { ids.append(id) }
                }
            } else if let u = unkToken, let id = vocab[u] {
                ids.append(id)
            }
        }
        return ids
    }

    // MARK: - Decoding

    /// The text for `ids`; special added tokens are dropped when `skipSpecialTokens`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        let special = Set(addedTokens.filter(\.special).map(\.id))
        var tokens = ids.compactMap { id -> String? in
            if skipSpecialTokens && special.contains(id) { return nil }
            return idToToken[id]
        }
        for d in decoders {
            switch d {
            case let .replace(a, b):
                tokens = tokens.map { $0.replacingOccurrences(of: a, with: b) }
            case .byteFallback:
                tokens = Self.fuseByteTokens(tokens)
            case .fuse:
                tokens = [tokens.joined()]
            case let .strip(content, start, stop):
                tokens = tokens.enumerated().map { i, t in
                    var s = Substring(t)
                    if i == 0 { for _ in 0..<start where s.hasPrefix(content) { s = s.dropFirst(content.count) } }
                    if i == tokens.count - 1 { for _ in 0..<stop where s.hasSuffix(content) { s = s.dropLast(content.count) } }
                    return String(s)
                }
            case .byteLevel:
                tokens = [ByteLevelAlphabet.decode(tokens.joined())]
            case let .metaspace(rep, scheme):
                tokens = tokens.enumerated().map { i, t in
                    var s = t.replacingOccurrences(of: rep, with: " ")
                    if i == 0 && scheme != "never" && s.hasPrefix(" ") { s.removeFirst() }
                    return s
                }
            }
        }
        return tokens.joined()
    }

    /// Runs of `<0xNN>` tokens become the UTF-8 text they spell (invalid bytes → U+FFFD each).
    static func fuseByteTokens(_ tokens: [String]) -> [String] {
        var out: [String] = []
        var bytes: [UInt8] = []
        func flush() {
            if bytes.isEmpty { return }
            if let s = String(validating: bytes, as: UTF8.self) { out.append(s) } else { out.append(String(repeating: "\u{FFFD}", count: bytes.count)) }
            bytes = []
        }
        for t in tokens {
            if t.count == 6, t.hasPrefix("<0x"), t.hasSuffix(">"), let b = UInt8(t.dropFirst(3).prefix(2), radix: 16) {
                bytes.append(b)
            } else {
                flush()
                out.append(t)
            }
        }
        flush()
        return out
    }

    /// Id of a token string, if the vocabulary has it.
    public func id(of token: String) -> Int? { vocab[token] }
    /// Number of ids the model vocabulary plus added tokens cover (max id + 1).
    public var size: Int { (idToToken.keys.max() ?? -1) + 1 }
}

/// GPT-2's reversible byte ↔ printable-unicode mapping used by byte-level BPE.
enum ByteLevelAlphabet {
    static let byteToChar: [Character] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var chars = printable.map { Character(Unicode.Scalar(UInt8($0))) }
        var map = [Character](repeating: " ", count: 256)
        for (i, b) in printable.enumerated() { map[b] = chars[i] }
        var n = 0
        for b in 0..<256 where !printable.contains(b) {
            map[b] = Character(Unicode.Scalar(UInt32(256 + n))!)
            n += 1
        }
        printable.removeAll()
        chars.removeAll()
        return map
    }()

    static let charToByte: [Character: UInt8] = {
        var m: [Character: UInt8] = [:]
        for (b, c) in byteToChar.enumerated() { m[c] = UInt8(b) }
        return m
    }()

    static func encode(_ s: String) -> String { String(s.utf8.map { byteToChar[Int($0)] }) }


    static func decode(_ s: String) -> String {
        let bytes = s.unicodeScalars.compactMap { charToByte[Character($0)] }
        return String(decoding: bytes, as: UTF8.self)
    }
}
