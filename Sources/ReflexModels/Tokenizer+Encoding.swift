import Foundation

/// Encoding: added tokens matched verbatim, then normalizer, pre-tokenizers, BPE, post-processor.
extension Tokenizer {
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
}
