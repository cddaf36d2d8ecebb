import Foundation

/// The BPE model: merges by rank over Unicode scalars, byte fallback to `<0xNN>` tokens (Llama-2's
/// SentencePiece BPE) or the unknown token.
extension Tokenizer {
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
}
