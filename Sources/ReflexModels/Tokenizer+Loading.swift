import Foundation

/// Reading `tokenizer.json`: every part is parsed and every number checked (ids non-negative and
/// below ``OpenVLAConfig/Limits/vocabSize``, unique in the vocabulary, merges of two vocabulary
/// tokens whose concatenation is one too, Strip counts small and non-negative, replacement
/// characters non-empty); errors name the file and the key (`model.merges[12]`,
/// `decoder.decoders[3].start`).
extension Tokenizer {
    /// Loads `tokenizer.json`; `tokenizer_config.json` next to it is consulted for `add_bos_token`
    /// when the file has no post-processor.
    public convenience init(directory: String) throws {
        try self.init(path: directory + "/tokenizer.json")
    }

    public convenience init(path: String) throws {
        guard let root = try ModelFile.jsonObject(path) else {
            throw ModelError(file: path, "cannot read: \(String(cString: strerror(ENOENT)))")
        }
        self.init(path: path, parts: try Self.parse(root, path: path))
    }

    /// Largest id accepted anywhere in the file.
    static var maxId: Int { OpenVLAConfig.Limits.vocabSize - 1 }

    static func parse(_ root: [String: Any], path: String) throws -> Parts {
        func fail(_ key: String, _ msg: String) -> ModelError { ModelError(file: path, key: key, msg) }
        func id(_ value: Any?, _ key: String) throws -> Int {
            guard let v = value, let n = JSONNumber.integer(v), n >= 0, n <= maxId else {
                throw fail(key, "\(value.map { "\($0)" } ?? "nothing") is not a token id (an integer in 0…\(maxId))")
            }
            return n
        }
        func bool(_ o: [String: Any], _ key: String, _ prefix: String, default d: Bool) throws -> Bool {
            guard let v = o[key], !(v is NSNull) else { return d }
            guard let b = v as? Bool else { throw fail(prefix + key, "must be true or false") }
            return b
        }

        guard let model = root["model"] as? [String: Any] else { throw fail("model", "missing or not an object") }
        guard (model["type"] as? String ?? "BPE") == "BPE" else {
            throw fail("model.type", "unsupported tokenizer model \(model["type"] ?? "?") (only BPE)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key], !(v is NSNull), (v as? String) != "" {
                throw fail("model.\(key)", "\(v) is not supported")
            }
        }
        if let v = model["dropout"], !(v is NSNull), JSONNumber.double(v) != 0 {
            throw fail("model.dropout", "BPE dropout \(v) is not supported (encoding must be deterministic)")
        }
        guard let rawVocab = model["vocab"] as? [String: Any] else { throw fail("model.vocab", "missing or not an object of ids") }
        guard !rawVocab.isEmpty else { throw fail("model.vocab", "is empty") }
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(rawVocab.count)
        var owner: [Int: String] = [:]
        owner.reserveCapacity(rawVocab.count)
        var largest: (id: Int, key: String)?
        for (token, value) in rawVocab {
            let n = try id(value, "model.vocab.\(token)")
            if let other = owner[n] {  // named the same way whatever the dictionary order
                let (a, b) = token < other ? (token, other) : (other, token)
                throw fail("model.vocab.\(b)", "id \(n) is also the id of \(a.debugDescription)")
            }
            owner[n] = token
            vocab[token] = n
            if n > largest?.id ?? -1 { largest = (n, "model.vocab.\(token)") }
        }

        var merges: [Pair: Int] = [:]
        let rawMerges: [Any]
        switch model["merges"] {
        case nil, is NSNull: rawMerges = []
        case let m as [Any]: rawMerges = m
        default: throw fail("model.merges", "must be a list")
        }
        merges.reserveCapacity(rawMerges.count)
        for (rank, m) in rawMerges.enumerated() {
            let a: String, b: String
            if let s = m as? String {
                let parts = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw fail("model.merges[\(rank)]", "expected \"a b\", got \"\(s)\"")
                }
                (a, b) = (String(parts[0]), String(parts[1]))
            } else if let p = m as? [Any], p.count == 2, let x = p[0] as? String, let y = p[1] as? String, !x.isEmpty, !y.isEmpty {
                (a, b) = (x, y)
            } else {
                throw fail("model.merges[\(rank)]", "expected \"a b\" or [a, b]")
            }
            // As the tokenizers library requires: both parts and their merge are vocabulary tokens.
            for t in [a, b, a + b] where vocab[t] == nil {
                throw fail("model.merges[\(rank)]", "\(t.debugDescription) is not in model.vocab")
            }
            let pair = Pair(a: a, b: b)
            if merges[pair] == nil { merges[pair] = rank }
        }
        let byteFallback = try bool(model, "byte_fallback", "model.", default: false)
        let ignoreMerges = try bool(model, "ignore_merges", "model.", default: false)
        let unkToken: String?
        switch model["unk_token"] {
        case nil, is NSNull: unkToken = nil
        case let s as String: unkToken = s
        default: throw fail("model.unk_token", "must be a string or null")
        }

        var added: [(content: String, id: Int, special: Bool)] = []
        switch root["added_tokens"] {
        case nil, is NSNull: break
        case let list as [Any]:
            for (i, item) in list.enumerated() {
                guard let t = item as? [String: Any], let content = t["content"] as? String else {
                    throw fail("added_tokens[\(i)]", "needs content and id")
                }
                let n = try id(t["id"], "added_tokens[\(i)].id")
                added.append((content, n, try bool(t, "special", "added_tokens[\(i)].", default: false)))
                vocab[content] = n
                if n > largest?.id ?? -1 { largest = (n, "added_tokens[\(i)].id") }
            }
        default: throw fail("added_tokens", "must be a list")
        }

        let normalizers = try parseNormalizer(root["normalizer"], fail)
        let preTokenizers = try parsePreTokenizer(root["pre_tokenizer"], fail)
        let decoders = try parseDecoder(root["decoder"], fail)

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
                        let key = "post_processor.special_tokens.\(name).ids"
                        let ids: [Int]
                        if let listed = (specials?[name] as? [String: Any])?["ids"] {
                            guard let l = listed as? [Any] else { throw fail(key, "must be a list of ids") }
                            ids = try l.enumerated().map { try id($1, "\(key)[\($0)]") }
                            for i in ids where i > largest?.id ?? -1 { largest = (i, key) }
                        } else if let i = vocab[name] {
                            ids = [i]
                        } else {
                            throw fail("post_processor.special_tokens", "unknown special token \(name)")
                        }
                        if seenSequence { suffix += ids } else { prefix += ids }
                    }
                }
            }
        } else {
            // No post-processor: tokenizer_config.json's add_bos_token / bos_token decide.
            let cfgPath = (path as NSString).deletingLastPathComponent + "/tokenizer_config.json"
            if let cfg = try ModelFile.jsonObject(cfgPath), cfg["add_bos_token"] as? Bool == true {
                let bos = (cfg["bos_token"] as? String) ?? ((cfg["bos_token"] as? [String: Any])?["content"] as? String)
                if let bos, let id = vocab[bos] { prefix = [id] }
            }
        }
        return Parts(vocab: vocab, addedTokens: added, merges: merges, byteFallback: byteFallback, ignoreMerges: ignoreMerges,
                     unkToken: unkToken, normalizers: normalizers, preTokenizers: preTokenizers, decoders: decoders,
                     prefixIds: prefix, suffixIds: suffix, largestId: largest)
    }

    // MARK: - Parsing the pipeline

    /// The components of a normalizer/pre-tokenizer/decoder, each with its key (`decoder`, or
    /// `decoder.decoders[2]` inside a Sequence).
    private static func list(_ obj: Any?, root: String, key: String) -> [(key: String, object: [String: Any])] {
        guard let o = obj as? [String: Any] else { return [] }
        if (o["type"] as? String) == "Sequence" {
            return ((o[key] as? [[String: Any]]) ?? []).enumerated().map { ("\(root).\(key)[\($0.offset)]", $0.element) }
        }
        return [(root, o)]
    }

    private static func pattern(_ o: [String: Any]) -> (string: String?, regex: String?) {
        guard let p = o["pattern"] as? [String: Any] else { return (nil, nil) }
        return (p["String"] as? String, p["Regex"] as? String)
    }

    /// A Metaspace replacement: one Unicode scalar, as the tokenizers library's `char`.
    private static func replacement(_ o: [String: Any], _ key: String, _ fail: (String, String) -> ModelError) throws -> String {
        let r = o["replacement"] as? String ?? "▁"
        guard r.unicodeScalars.count == 1 else { throw fail(key + ".replacement", "\(r.debugDescription) must be one character") }
        return r
    }

    private static func parseNormalizer(_ obj: Any?, _ fail: (String, String) -> ModelError) throws -> [Normalizer] {
        try list(obj, root: "normalizer", key: "normalizers").map { key, n in
            switch n["type"] as? String {
            case "Prepend": return .prepend(n["prepend"] as? String ?? "")
            case "Replace":
                guard let s = pattern(n).string else { throw fail(key, "Replace with a regex pattern is not supported") }
                guard !s.isEmpty else { throw fail(key + ".pattern", "empty pattern") }
                return .replace(s, n["content"] as? String ?? "")
            case "NFC": return .nfc
            case "NFKC": return .nfkc
            case "NFD": return .nfd
            case "NFKD": return .nfkd
            case "Lowercase": return .lowercase
            case let t: throw fail(key, "unsupported normalizer \(t ?? "?")")
            }
        }
    }

    private static func parsePreTokenizer(_ obj: Any?, _ fail: (String, String) -> ModelError) throws -> [PreTokenizer] {
        try list(obj, root: "pre_tokenizer", key: "pretokenizers").map { key, p in
            switch p["type"] as? String {
            case "Metaspace":
                let scheme = p["prepend_scheme"] as? String ?? ((p["add_prefix_space"] as? Bool ?? true) ? "always" : "never")
                return .metaspace(replacement: try replacement(p, key, fail), prependScheme: scheme, split: p["split"] as? Bool ?? true)
            case "ByteLevel":
                return .byteLevel(addPrefixSpace: p["add_prefix_space"] as? Bool ?? false, useRegex: p["use_regex"] as? Bool ?? true)
            case "Split":
                let (s, r) = pattern(p)
                let source = r ?? s.map(NSRegularExpression.escapedPattern(for:)) ?? ""
                guard !source.isEmpty else { throw fail(key + ".pattern", "missing or empty split pattern") }
                guard let regex = try? Regex(source).matchingSemantics(.unicodeScalar) else { throw fail(key, "cannot compile split pattern \(source)") }
                return .split(regex, behavior: p["behavior"] as? String ?? "Isolated", invert: p["invert"] as? Bool ?? false)
            case "WhitespaceSplit": return .whitespaceSplit
            case let t: throw fail(key, "unsupported pre-tokenizer \(t ?? "?")")
            }
        }
    }

    private static func parseDecoder(_ obj: Any?, _ fail: (String, String) -> ModelError) throws -> [Decoder] {
        try list(obj, root: "decoder", key: "decoders").map { key, d in
            switch d["type"] as? String {
            case "Replace":
                guard let s = pattern(d).string else { throw fail(key, "Replace with a regex pattern is not supported") }
                guard !s.isEmpty else { throw fail(key + ".pattern", "empty pattern") }
                return .replace(s, d["content"] as? String ?? "")
            case "ByteFallback": return .byteFallback
            case "Fuse": return .fuse
            case "Strip":
                func count(_ name: String) throws -> Int {
                    guard let v = d[name], !(v is NSNull) else { return 0 }
                    guard let n = JSONNumber.integer(v), (0...1024).contains(n) else {
                        throw fail("\(key).\(name)", "\(v) must be an integer in 0…1024")
                    }
                    return n
                }
                let content = d["content"] as? String ?? " "
                guard !content.isEmpty else { throw fail(key + ".content", "empty content") }
                return .strip(content, start: try count("start"), stop: try count("stop"))
            case "ByteLevel": return .byteLevel
            case "Metaspace":
                let scheme = d["prepend_scheme"] as? String ?? ((d["add_prefix_space"] as? Bool ?? true) ? "always" : "never")
                return .metaspace(replacement: try replacement(d, key, fail), prependScheme: scheme)
            case let t: throw fail(key, "unsupported decoder \(t ?? "?")")
            }
        }
    }
}
