/// One vision encoder with the pixel normalization it expects.
public struct VisionEncoder: Sendable {
    public let transformer: VisionTransformer
    public let mean: [Float]
    public let std: [Float]

    /// DINOv2 uses ImageNet statistics; SigLIP maps pixels to [-1, 1].
    public static func normalization(for family: VisionConfig.Family) -> (mean: [Float], std: [Float]) {
        switch family {
        case .dinov2: return ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        case .siglip: return ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
        }
    }

    /// An encoder with its family's default normalization, or the checkpoint's own.
    public init(_ transformer: VisionTransformer, mean: [Float]? = nil, std: [Float]? = nil) {
        self.transformer = transformer
        let defaults = Self.normalization(for: transformer.config.family)
        self.mean = mean ?? defaults.mean
        self.std = std ?? defaults.std
    }

    /// The image at the encoder's input size (resize-naive bicubic): what its patches see.
    public func resized(_ image: RGBImage) throws -> RGBImage {
        let s = transformer.config.imageSize
        return (image.width == s && image.height == s) ? image : try BicubicResize.resize(image, width: s, height: s)
    }

    /// The encoder's input: `resized`, then its normalization.
    public func pixels(_ image: RGBImage) throws -> Tensor {
        try resized(image).normalized(mean: mean, std: std)
    }
}

/// The stages of one prediction, in pipeline order: frame → pixels → patch features → kept patches →
/// projected tokens → prefill → action tokens. A new stage is one case here.
public enum Stage: String, CaseIterable, Sendable, Codable {
    case preprocess, vision, select, projector, prefill, decode
}

/// Milliseconds spent in each stage of one prediction (0 for a stage that did not run). JSON: one key per
/// stage plus `total`.
public struct StageTimings: Sendable, Equatable, Codable {
    private var ms: [Double] = [Double](repeating: 0, count: Stage.allCases.count)

    public init() {}

    public subscript(stage: Stage) -> Double {
        get { ms[Self.index(stage)] }
        set { ms[Self.index(stage)] = newValue }
    }

    static func index(_ stage: Stage) -> Int {
        switch stage {
        case .preprocess: 0
        case .vision: 1
        case .select: 2
        case .projector: 3
        case .prefill: 4
        case .decode: 5
        }
    }

    public var preprocess: Double { get { self[.preprocess] } set { self[.preprocess] = newValue } }
    public var vision: Double { get { self[.vision] } set { self[.vision] = newValue } }
    public var select: Double { get { self[.select] } set { self[.select] = newValue } }
    public var projector: Double { get { self[.projector] } set { self[.projector] = newValue } }
    public var prefill: Double { get { self[.prefill] } set { self[.prefill] = newValue } }
    public var decode: Double { get { self[.decode] } set { self[.decode] = newValue } }
    public var total: Double { ms.reduce(0, +) }

    /// Stage-wise combination (e.g. a median per stage across runs).
    public static func combine(_ samples: [StageTimings], _ f: ([Double]) -> Double) -> StageTimings {
        var out = StageTimings()
        for stage in Stage.allCases { out[stage] = f(samples.map { $0[stage] }) }
        return out
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for stage in Stage.allCases { try c.encode(self[stage], forKey: Key(stringValue: stage.rawValue)) }
        try c.encode(total, forKey: Key(stringValue: "total"))
    }

    /// Missing stages read as 0 (JSON written before a stage existed).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        for stage in Stage.allCases { self[stage] = try c.decodeIfPresent(Double.self, forKey: Key(stringValue: stage.rawValue)) ?? 0 }
    }
}

/// An OpenVLA-family policy: vision encoders (features concatenated), projector, and a causal LM
/// that reads [BOS, image patches, prompt] and greedily emits action tokens.
public struct OpenVLA: Sendable {
    public let encoders: [VisionEncoder]
    public let projector: Projector
    public let llm: CausalLM
    public let actionTokenizer: ActionTokenizer
    /// Action dimensions per prediction (7 for OpenVLA).
    public let actionDims: Int
    /// The LM head restricted to the action-token rows (`actionTokenizer.tokenRange`), for the
    /// action-tokens-only argmax; without it that argmax still computes the full head.
    public let actionHead: (any LinearLayer)?
    /// Prompt position before which the image embeddings are inserted (1: right after BOS).
    public let imageInsertIndex: Int

    public init(encoders: [VisionEncoder], projector: Projector, llm: CausalLM, actionTokenizer: ActionTokenizer,
                actionDims: Int = 7, actionHead: (any LinearLayer)? = nil, imageInsertIndex: Int = 1) throws {
        guard !encoders.isEmpty, encoders.count <= 2 else {
            throw TensorError.invalidArgument("OpenVLA: 1 or 2 vision encoders, got \(encoders.count)")
        }
        let patches = Set(encoders.map { $0.transformer.config.numPatches })
        guard patches.count == 1 else { throw TensorError.invalidArgument("OpenVLA: encoders disagree on patch count \(patches.sorted())") }
        let width = encoders.reduce(0) { $0 + $1.transformer.config.width }
        guard projector.inFeatures == width, projector.outFeatures == llm.config.hiddenSize else {
            throw TensorError.shapeMismatch(op: "OpenVLA", "projector [\(projector.inFeatures) → \(projector.outFeatures)] between vision width \(width) and LLM hidden \(llm.config.hiddenSize)")
        }
        self.encoders = encoders
        self.projector = projector
        self.llm = llm
        self.actionTokenizer = actionTokenizer
        self.actionDims = actionDims
        if let actionHead, actionHead.outFeatures != actionTokenizer.tokenRange.count || actionHead.inFeatures != llm.config.hiddenSize {
            throw TensorError.shapeMismatch(op: "OpenVLA", "action head [\(actionHead.outFeatures), \(actionHead.inFeatures)] for \(actionTokenizer.tokenRange.count) action tokens")
        }
        self.actionHead = actionHead
        self.imageInsertIndex = imageInsertIndex
    }

    public var numPatches: Int { encoders[0].transformer.config.numPatches }

    /// Everything one prediction produced.
    public struct Prediction: Sendable {
        public var tokens: [Int]
        public var normalizedAction: [Float]
        public var timings: StageTimings
        /// Logits of every prompt position [L, vocab rows], when requested.
        public var promptLogits: Tensor?
        /// The patches the LLM read (ascending; every patch when nothing was pruned), and how many there were.
        public var keptPatches: [Int] = []
        public var totalPatches = 0
    }

    /// Per-encoder pixel tensors for an image (the preprocessing stage).
    public func preprocess(_ image: RGBImage) throws -> [Tensor] { try encoders.map { try $0.pixels(image) } }

    /// Concatenated patch features [numPatches, Σ widths] from preprocessed pixels.
    public func visionFeatures(_ pixels: [Tensor]) throws -> Tensor { try encode(pixels, attention: nil).features }

    /// The encoder whose self-attention scores patches: the SigLIP one, or the only one (SP-VLA's choice).
    public var scoringEncoder: Int { encoders.firstIndex { $0.transformer.config.family == .siglip } ?? encoders.count - 1 }

    /// Concatenated patch features and, when `attention` names a block, the scoring encoder's mean attention
    /// per patch in that block (`VisionTransformer.encode`).
    public func encode(_ pixels: [Tensor], attention: AttentionBlock?,
                       lateOnKept: (blocks: Int, patches: [Int])? = nil) throws -> VisionTransformer.Encoding {
        guard pixels.count == encoders.count else {
            throw TensorError.invalidArgument("OpenVLA: \(pixels.count) pixel tensors for \(encoders.count) encoders")
        }
        let scorer = scoringEncoder
        let encoded = try zip(encoders, pixels).enumerated().map { i, pair in
            try pair.0.transformer.encode(pair.1, attention: i == scorer ? attention : nil, lateOnKept: lateOnKept)
        }
        var result = encoded[scorer]
        if encoded.count > 1 { result.features = try Tensor.concat(encoded.map(\.features), axis: 1) }
        return result
    }

    /// The multimodal input embeddings: [embed(prompt[..<i]), projected patches, embed(prompt[i...])]
    /// with i = `imageInsertIndex` (OpenVLA: the image right after BOS).
    public func inputEmbeddings(promptIds: [Int], projected: Tensor) throws -> Tensor {
        let i = imageInsertIndex
        guard promptIds.count >= i else {
            throw TensorError.invalidArgument("OpenVLA: prompt of \(promptIds.count) tokens is shorter than the image insert index \(i)")
        }
        let text = try llm.embed(promptIds)
        var parts: [Tensor] = []
        if i > 0 { parts.append(try text.slice(axis: 0, 0..<i)) }
        parts.append(projected)
        if promptIds.count > i { parts.append(try text.slice(axis: 0, i..<promptIds.count)) }
        return try Tensor.concat(parts, axis: 0)
    }

    /// Predicts one action for an image and tokenized prompt (BOS first).
    /// - Parameters:
    ///   - actionTokensOnly: take the argmax over the action-token ids only (a speed-up that must not
    ///     change results on a well-trained model); otherwise over the whole vocabulary.
    ///   - keepPromptLogits: also return the logits of every prompt position.
    ///   - selector: picks the patches the LLM reads (nil: all of them); `context` is what it knows of the robot.
    ///   - positions: the kept tokens' rotary positions: packed (renumbered, as SP-VLA releases it) or original.
    ///   - encoderBlocksOnKept: an experiment — a selector that reads only the image (no attention) runs before the
    ///     encoders, and their last this-many feature blocks run on the kept patches only.
    public func predict(image: RGBImage, promptIds: [Int], actionTokensOnly: Bool = false,
                        keepPromptLogits: Bool = false, selector: (any VisualTokenSelector)? = nil,
                        context: SelectionContext = SelectionContext(),
                        positions: TokenPositions = .packed, encoderBlocksOnKept: Int = 0) throws -> Prediction {
        try checkPromptFits(promptTokens: promptIds.count)  // before anything is sized from the prompt
        var timings = StageTimings()
        var t0 = monotonicNanos()
        func lap(_ stage: Stage) {
            let t = monotonicNanos()
            timings[stage] = Double(t - t0) / 1e6
            t0 = t
        }
        let images = try encoders.map { try $0.resized(image) }
        let pixels = zip(encoders, images).map { $1.normalized(mean: $0.mean, std: $0.std) }
        lap(.preprocess)
        let config0 = encoders[0].transformer.config, grid = config0.imageSize / config0.patchSize
        var early: [Int]?
        if encoderBlocksOnKept > 0, let selector {
            guard selector.attentionBlock == nil, selector.llmLayer == nil else {
                throw TensorError.invalidArgument("visual-token selector \(selector.name): the encoder's late blocks on kept patches need a selector that reads only the image")
            }
            early = try checkedSelection(selector, SelectionInput(images: images, gridWidth: grid, gridHeight: grid,
                                                                   patchSize: config0.patchSize, context: context))
            lap(.select)
        }
        let encoding = try encode(pixels, attention: selector?.attentionBlock,
                                  lateOnKept: early.map { (blocks: encoderBlocksOnKept, patches: $0) })
        var features = encoding.features
        let selectBefore = timings.select
        lap(.vision)
        // The scores are the selector's cost: moved from the vision stage to the select stage.
        let scoreMs = Double(encoding.attentionNanos) / 1e6
        timings.vision -= scoreMs
        let all = numPatches
        var kept = Array(0..<all)
        if let early {
            kept = early  // the features are already the kept rows
        } else if let selector, let layer = selector.llmLayer {
            // Pruned inside the language model: every patch is projected, the selector runs at `layer`.
            lap(.select)
            let projected = try projector(features)
            lap(.projector)
            let (prediction, keptInLLM, selectMs) = try generatePrunedInLLM(
                embeddings: try inputEmbeddings(promptIds: promptIds, projected: projected), layer: layer, selector: selector,
                input: { SelectionInput(images: images, gridWidth: grid, gridHeight: grid, patchSize: config0.patchSize,
                                        attention: $0, context: context) },
                actionTokensOnly: actionTokensOnly, keepPromptLogits: keepPromptLogits)
            var result = prediction
            for stage in [Stage.preprocess, .vision, .projector] { result.timings[stage] = timings[stage] }
            result.timings.select = timings.select + selectMs
            result.keptPatches = keptInLLM
            result.totalPatches = all
            return result
        }
        if early == nil, let selector {
            kept = try checkedSelection(selector, SelectionInput(images: images, gridWidth: grid, gridHeight: grid,
                                                                  patchSize: config0.patchSize, attention: encoding.patchAttention,
                                                                  context: context))
            if kept.count < all { features = try features.gatherRows(kept) }
        }
        lap(.select)
        timings.select += scoreMs + selectBefore
        let projected = try projector(features)
        lap(.projector)
        var ids: [Int]?
        if positions == .original && kept.count < all {
            ids = originalPositions(promptTokens: promptIds.count, kept: kept)
        }
        var result = try generate(embeddings: try inputEmbeddings(promptIds: promptIds, projected: projected),
                                  actionTokensOnly: actionTokensOnly, keepPromptLogits: keepPromptLogits,
                                  positions: ids, positionShift: all - kept.count)
        for stage in [Stage.preprocess, .vision, .select, .projector] { result.timings[stage] = timings[stage] }
        result.keptPatches = kept
        result.totalPatches = all
        return result
    }

    /// The rotary positions of a prompt whose image tokens were pruned to `kept` but keep the positions they had in
    /// the full sequence: text before the image, `imageInsertIndex + kept[k]`, then the text after the full image.
    public func originalPositions(promptTokens: Int, kept: [Int]) -> [Int] {
        let i = imageInsertIndex
        return Array(0..<i) + kept.map { i + $0 } + Array((i + numPatches)..<(promptTokens + numPatches))
    }

    /// A selector's result, checked against its contract (ascending, distinct, within the grid, at least one).
    func checkedSelection(_ selector: any VisualTokenSelector, _ input: SelectionInput) throws -> [Int] {
        let kept = try selector.select(input), all = numPatches
        guard !kept.isEmpty, kept.first! >= 0, kept.last! < all, zip(kept, kept.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw TensorError.invalidArgument("visual-token selector \(selector.name): kept patches must be ascending, distinct and within 0..<\(all), got \(kept.count) starting \(kept.prefix(4))")
        }
        return kept
    }

    /// Greedy decoding of `actionDims` tokens after prefilling `embeddings` [L, hidden]. `positions`: the prompt's
    /// rotary positions (nil: 0..<L); generated tokens then sit at L + `positionShift` onwards (the pruned gap).
    public func generate(embeddings: Tensor, actionTokensOnly: Bool, keepPromptLogits: Bool,
                         positions: [Int]? = nil, positionShift: Int = 0) throws -> Prediction {
        var timings = StageTimings()
        var caches = llm.makeCaches(capacity: embeddings.shape[0] + actionDims)
        let shift = positions == nil ? 0 : positionShift
        var t0 = monotonicNanos()
        let hidden = try llm.forward(embeddings, caches: &caches, positions: positions)
        var (next, promptLogits) = try firstToken(hidden, actionTokensOnly: actionTokensOnly, keepPromptLogits: keepPromptLogits)
        timings.prefill = Double(monotonicNanos() - t0) / 1e6
        t0 = monotonicNanos()
        var tokens = [next]
        while tokens.count < actionDims {
            let h = try llm.forward(try llm.embed([next]), caches: &caches, positionShift: shift)
            next = try nextToken(h, actionTokensOnly, step: tokens.count)
            tokens.append(next)
        }
        timings.decode = Double(monotonicNanos() - t0) / 1e6
        return Prediction(tokens: tokens, normalizedAction: actionTokenizer.decode(tokens), timings: timings,
                          promptLogits: promptLogits)
    }

    /// The first generated token from the prompt's final hidden states [L, hidden], and the logits of every prompt
    /// position when asked for.
    func firstToken(_ hidden: Tensor, actionTokensOnly: Bool, keepPromptLogits: Bool) throws -> (Int, Tensor?) {
        guard keepPromptLogits else {
            return (try nextToken(try hidden.slice(axis: 0, (hidden.shape[0] - 1)..<hidden.shape[0]), actionTokensOnly, step: 0), nil)
        }
        let logits = try llm.logits(hidden)
        return (try argmax(try logits.slice(axis: 0, (logits.shape[0] - 1)..<logits.shape[0]), actionTokensOnly, step: 0), logits)
    }

    /// The greedy next token (generated token number `step`) from the final hidden state [1, hidden].
    /// Throws ``PolicyError`` when the logits are not finite or the token is not an action token: a
    /// broken model must never decode into motion (NaN compares false, so a plain argmax would return
    /// the first id, which the action tokenizer maps to the top bin).
    func nextToken(_ hidden: Tensor, _ actionTokensOnly: Bool, step: Int) throws -> Int {
        if actionTokensOnly, let actionHead {
            let logits = try actionHead(hidden)
            let best = try logits.withUnsafeBufferPointer { p in try Self.finiteArgmax(p, 0..<p.count, step: step) }
            return actionTokenizer.tokenRange.lowerBound + best
        }
        return try argmax(try llm.logits(hidden), actionTokensOnly, step: step)
    }

    /// Index of the largest logit in a [1, vocab] row (first on ties, like torch.argmax), optionally
    /// restricted to the action-token ids; it must be an action token.
    func argmax(_ logits: Tensor, _ actionTokensOnly: Bool, step: Int) throws -> Int {
        let range = actionTokensOnly ? actionTokenizer.tokenRange.clamped(to: 0..<logits.lastDim) : 0..<logits.lastDim
        let best = try logits.withUnsafeBufferPointer { p in try Self.finiteArgmax(p, range, step: step) }
        guard actionTokenizer.tokenRange.contains(best) else {
            throw PolicyError.notAnActionToken(step: step, token: best, range: actionTokenizer.tokenRange)
        }
        return best
    }

    /// First index of the maximum of `p[range]`; throws when any of them is NaN or ±Inf.
    static func finiteArgmax(_ p: UnsafeBufferPointer<Float>, _ range: Range<Int>, step: Int) throws -> Int {
        guard !range.isEmpty else { throw PolicyError.nonFiniteLogits(step: step) }
        var best = range.lowerBound
        var finite = true
        for i in range {
            let v = p[i]
            finite = finite && v.isFinite
            if v > p[best] { best = i }
        }
        guard finite else { throw PolicyError.nonFiniteLogits(step: step) }
        return best
    }
}
