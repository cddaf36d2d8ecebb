import Foundation

/// Decoding: ids to token strings, then the decoder pipeline (Replace, ByteFallback, Fuse, Strip,
/// ByteLevel, Metaspace).
extension Tokenizer {
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
}
