extension DecoderLayer {
    /// The attention this layer would compute for x [T, hidden] at rotary `positions` (nil: 0..<T), averaged
    /// over heads and over the query rows `queryRows` (causal), one value per key row.
    public func meanAttention(_ x: Tensor, rope: RotaryEmbedding, positions: [Int]? = nil, queryRows: Range<Int>) throws -> [Float] {
        let c = config
        let h = try x.rmsNorm(weight: inputNorm, eps: c.rmsEps)
        var qs = try q(h), ks = try k(h)
        try rope.apply(&qs, heads: c.heads, start: 0, positions: positions)
        try rope.apply(&ks, heads: c.kvHeads, start: 0, positions: positions)
        return try Attention.meanProbabilities(q: qs, k: ks, heads: c.heads, kvHeads: c.kvHeads, queryRows: queryRows, causal: true)
    }
}

extension OpenVLA {
    /// Pruning inside the language model (FastV-style, SQAP-VLA's setting): layers before `layer` read every visual
    /// token; the selector gets the attention the text after the image pays each image token at `layer` (mean over
    /// heads and those text queries, one value per patch) and picks the patches the layers from `layer` on read.
    /// Kept tokens keep their original rotary positions; the layers before `layer` keep their full KV caches.
    func generatePrunedInLLM(embeddings: Tensor, layer: Int, selector: any VisualTokenSelector,
                             input: (_ attention: [Float]) -> SelectionInput, actionTokensOnly: Bool,
                             keepPromptLogits: Bool) throws -> (prediction: Prediction, kept: [Int], selectMs: Double) {
        let layers = llm.layers
        guard layer >= 1, layer < layers.count else {
            throw TensorError.invalidArgument("visual-token selector \(selector.name): LLM layer \(layer) is outside 1..<\(layers.count) (the language model has \(layers.count) layers)")
        }
        let n = numPatches, i = imageInsertIndex, length = embeddings.shape[0]
        var timings = StageTimings()
        var caches = llm.makeCaches(capacity: length + actionDims)
        var t0 = monotonicNanos()
        var h = embeddings
        for j in 0..<layer { h = try layers[j](h, cache: &caches[j], rope: llm.rope) }
        let prefillBefore = monotonicNanos() &- t0
        t0 = monotonicNanos()
        // The text after the image queries; the image's key columns are scored.
        let perKey = try layers[layer].meanAttention(h, rope: llm.rope, queryRows: (i + n)..<length)
        let kept = try checkedSelection(selector, input(Array(perKey[i..<(i + n)])))
        let rows = Array(0..<i) + kept.map { i + $0 } + Array((i + n)..<length)
        if rows.count < length { h = try h.gatherRows(rows) }
        let selectMs = Double(monotonicNanos() &- t0) / 1e6
        t0 = monotonicNanos()
        for j in layer..<layers.count { h = try layers[j](h, cache: &caches[j], rope: llm.rope, positions: rows) }
        let hidden = try h.rmsNorm(weight: llm.norm, eps: llm.config.rmsNormEps)
        var (next, promptLogits) = try firstToken(hidden, actionTokensOnly: actionTokensOnly, keepPromptLogits: keepPromptLogits)
        timings.prefill = Double(prefillBefore &+ (monotonicNanos() &- t0)) / 1e6
        t0 = monotonicNanos()
        var tokens = [next]
        while tokens.count < actionDims {
            // Every layer's cache holds a different count; the position is the unpruned sequence's.
            var x = try llm.embed([next])
            let position = [length + tokens.count - 1]
            for j in layers.indices { x = try layers[j](x, cache: &caches[j], rope: llm.rope, positions: position) }
            next = try nextToken(try x.rmsNorm(weight: llm.norm, eps: llm.config.rmsNormEps), actionTokensOnly, step: tokens.count)
            tokens.append(next)
        }
        timings.decode = Double(monotonicNanos() - t0) / 1e6
        return (Prediction(tokens: tokens, normalizedAction: actionTokenizer.decode(tokens), timings: timings,
                           promptLogits: promptLogits), kept, selectMs)
    }
}
