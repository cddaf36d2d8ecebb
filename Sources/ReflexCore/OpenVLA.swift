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

    /// The encoder's input: resize-naive bicubic to its image size, then its normalization.
    public func pixels(_ image: RGBImage) throws -> Tensor {
        let s = transformer.config.imageSize
        let resized = (image.width == s && image.height == s) ? image : try BicubicResize.resize(image, width: s, height: s)
        return resized.normalized(mean: mean, std: std)
    }
}

/// Wall-clock time of each stage of one action prediction, in milliseconds.
public struct StageTimings: Sendable, Equatable, Codable {
    public var preprocess = 0.0
    public var vision = 0.0
    public var projector = 0.0
    public var prefill = 0.0
    public var decode = 0.0
    public var total: Double { preprocess + vision + projector + prefill + decode }

    public init() {}

    enum CodingKeys: String, CodingKey { case preprocess, vision, projector, prefill, decode, total }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(preprocess, forKey: .preprocess)
        try c.encode(vision, forKey: .vision)
        try c.encode(projector, forKey: .projector)
        try c.encode(prefill, forKey: .prefill)
        try c.encode(decode, forKey: .decode)
        try c.encode(total, forKey: .total)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        preprocess = try c.decode(Double.self, forKey: .preprocess)
        vision = try c.decode(Double.self, forKey: .vision)
        projector = try c.decode(Double.self, forKey: .projector)
        prefill = try c.decode(Double.self, forKey: .prefill)
        decode = try c.decode(Double.self, forKey: .decode)
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
    }

    /// Per-encoder pixel tensors for an image (the preprocessing stage).
    public func preprocess(_ image: RGBImage) throws -> [Tensor] { try encoders.map { try $0.pixels(image) } }

    /// Concatenated patch features [numPatches, Σ widths] from preprocessed pixels.
    public func visionFeatures(_ pixels: [Tensor]) throws -> Tensor {
        guard pixels.count == encoders.count else {
            throw TensorError.invalidArgument("OpenVLA: \(pixels.count) pixel tensors for \(encoders.count) encoders")
        }
        let feats = try zip(encoders, pixels).map { try $0.transformer.features($1) }
        return feats.count == 1 ? feats[0] : try Tensor.concat(feats, axis: 1)
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
    public func predict(image: RGBImage, promptIds: [Int], actionTokensOnly: Bool = false,
                        keepPromptLogits: Bool = false) throws -> Prediction {
        try checkPromptFits(promptTokens: promptIds.count)  // before anything is sized from the prompt
        var timings = StageTimings()
        var t0 = monotonicNanos()
        func lap() -> Double {
            let t = monotonicNanos()
            defer { t0 = t }
            return Double(t - t0) / 1e6
        }
        let pixels = try preprocess(image)
        timings.preprocess = lap()
        let features = try visionFeatures(pixels)
        timings.vision = lap()
        let projected = try projector(features)
        timings.projector = lap()
        var result = try generate(embeddings: try inputEmbeddings(promptIds: promptIds, projected: projected),
                                  actionTokensOnly: actionTokensOnly, keepPromptLogits: keepPromptLogits)
        result.timings.preprocess = timings.preprocess
        result.timings.vision = timings.vision
        result.timings.projector = timings.projector
        return result
    }

    /// Greedy decoding of `actionDims` tokens after prefilling `embeddings` [L, hidden].
    public func generate(embeddings: Tensor, actionTokensOnly: Bool, keepPromptLogits: Bool) throws -> Prediction {
        var timings = StageTimings()
        var caches = llm.makeCaches(capacity: embeddings.shape[0] + actionDims)
        var t0 = monotonicNanos()
        let hidden = try llm.forward(embeddings, caches: &caches)
        let last = try hidden.slice(axis: 0, (hidden.shape[0] - 1)..<hidden.shape[0])
        var promptLogits: Tensor?
        var next: Int
        if keepPromptLogits {
            let logits = try llm.logits(hidden)
            promptLogits = logits
            next = try argmax(try logits.slice(axis: 0, (logits.shape[0] - 1)..<logits.shape[0]), actionTokensOnly, step: 0)
        } else {
            next = try nextToken(last, actionTokensOnly, step: 0)
        }
        timings.prefill = Double(monotonicNanos() - t0) / 1e6
        t0 = monotonicNanos()
        var tokens = [next]
        while tokens.count < actionDims {
            let h = try llm.forward(try llm.embed([next]), caches: &caches)
            next = try nextToken(h, actionTokensOnly, step: tokens.count)
            tokens.append(next)
        }
        timings.decode = Double(monotonicNanos() - t0) / 1e6
        return Prediction(tokens: tokens, normalizedAction: actionTokenizer.decode(tokens), timings: timings,
                          promptLogits: promptLogits)
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
