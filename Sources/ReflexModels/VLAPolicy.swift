import ReflexCore

/// A loaded checkpoint ready to act: model, prompt builder and the dataset statistics that turn
/// normalized actions back into robot units. What `reflex eval` and `reflex run` call each step.
public final class VLAPolicy {
    public let directory: String
    public let model: OpenVLA
    public let prompt: PromptBuilder
    public let statistics: ActionStatistics?
    public let precision: Precision
    public let options: Options
    private var promptCache: [String: [Int]] = [:]
    private let selector: (any VisualTokenSelector)?
    /// The previous step's normalized action (what a selector may condition on); nil at an episode's start.
    private var previousAction: [Float]?

    /// How the policy runs, beside its weights: one value every command builds a policy from.
    public struct Options: Sendable {
        /// Visual-token pruning.
        public var pruning: PruningSettings
        public init(pruning: PruningSettings = PruningSettings()) { self.pruning = pruning }
    }

    /// Loads `directory` at `precision`; `unnormKey` picks the dataset statistics (required when the
    /// checkpoint has several).
    public init(directory: String, precision: Precision = .fp32, unnormKey: String? = nil, options: Options = Options()) throws {
        let loader = try OpenVLALoader(directory: directory, precision: precision)
        self.directory = directory
        statistics = try loader.config.statistics(unnormKey: unnormKey, path: directory + "/config.json")
        prompt = try PromptBuilder(tokenizer: try Tokenizer(directory: directory), config: loader.config)
        model = try loader.load()
        let depth = model.llm.layers.count
        if options.pruning.method == .sqap && options.pruning.layer >= depth {
            throw ModelError(file: directory + "/config.json", key: "text_config.num_hidden_layers",
                             "pruning at LLM layer \(options.pruning.layer) (acceleration.pruning.layer, --layer) needs a deeper model: this one has \(depth) layers (1…\(depth - 1) are usable)")
        }
        let featureBlocks = model.encoders.map { $0.transformer.config.depth - 1 }.min() ?? 0
        if options.pruning.vitBlocks > featureBlocks {
            throw ModelError(file: directory + "/config.json", key: "vision_configs",
                             "\(options.pruning.vitBlocks) ViT blocks on kept patches (acceleration.pruning.vit_blocks, --vit-blocks), but the encoders compute \(featureBlocks) feature blocks")
        }
        self.precision = loader.precision
        self.options = options
        selector = options.pruning.makeSelector()
    }

    /// A new episode: nothing of the previous one conditions the next step.
    public func reset() { previousAction = nil }

    /// One step's output.
    public struct Step: Sendable {
        /// Un-normalized action (robot units), 7 components.
        public var action: [Float]
        public var normalizedAction: [Float]
        public var tokens: [Int]
        public var timings: StageTimings
        /// The patches the language model read (ascending) out of `totalPatches`.
        public var keptPatches: [Int]
        public var totalPatches: Int
    }

    /// Predicts the action for `image` under `instruction`; `endEffector` is where the end effector appears in the
    /// image (fractions of its width and height), when known.
    public func act(_ image: RGBImage, instruction: String, endEffector: (u: Double, v: Double)? = nil) throws -> Step {
        let ids: [Int]
        if let cached = promptCache[instruction] {
            ids = cached
        } else {
            ids = try prompt.ids(instruction)
            promptCache[instruction] = ids
        }
        try model.checkPromptFits(promptTokens: ids.count)
        let inputSize = Double(model.encoders[0].transformer.config.imageSize)
        let p = try model.predict(image: image, promptIds: ids, selector: selector,
                                  context: SelectionContext(previousAction: previousAction,
                                                            endEffectorPixel: endEffector.map { (x: $0.u * inputSize, y: $0.v * inputSize) }),
                                  positions: options.pruning.positions, encoderBlocksOnKept: options.pruning.vitBlocks)
        previousAction = p.normalizedAction
        let action = try statistics?.unnormalize(p.normalizedAction) ?? p.normalizedAction
        return Step(action: action, normalizedAction: p.normalizedAction, tokens: p.tokens, timings: p.timings,
                    keptPatches: p.keptPatches, totalPatches: p.totalPatches)
    }
}
