import Foundation

/// Pre-tokenization: Metaspace (SentencePiece "▁"), ByteLevel (GPT-2 regex + byte alphabet),
/// Split and WhitespaceSplit, as `tokenizers` applies them.
extension Tokenizer {
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
}
