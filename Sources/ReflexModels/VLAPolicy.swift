import ReflexCore

/// A loaded checkpoint ready to act: model, prompt builder and the dataset statistics that turn
/// normalized actions back into robot units. What `reflex eval` and `reflex run` call each step.
public final class VLAPolicy {
    public let directory: String
    public let model: OpenVLA
    public let prompt: PromptBuilder
    public let statistics: ActionStatistics?
    public let precision: Precision
    private var promptCache: [String: [Int]] = [:]

    /// Loads `directory` at `precision`; `unnormKey` picks the dataset statistics (required when the
    /// checkpoint has several).
    public init(directory: String, precision: Precision = .fp32, unnormKey: String? = nil) throws {
        let loader = try OpenVLALoader(directory: directory, precision: precision)
        self.directory = directory
        statistics = try loader.config.statistics(unnormKey: unnormKey, path: directory + "/config.json")
        prompt = try PromptBuilder(tokenizer: try Tokenizer(directory: directory), config: loader.config)
        model = try loader.load()
        self.precision = loader.precision
    }

    /// One step's output.
    public struct Step: Sendable {
        /// Un-normalized action (robot units), 7 components.
        public var action: [Float]
        public var normalizedAction: [Float]
        public var tokens: [Int]
        public var timings: StageTimings
    }

    /// Predicts the action for `image` under `instruction`.
    public func act(_ image: RGBImage, instruction: String) throws -> Step {
        let ids: [Int]
        if let cached = promptCache[instruction] {
            ids = cached
        } else {
            ids = try prompt.ids(instruction)
            promptCache[instruction] = ids
        }
        try model.checkPromptFits(promptTokens: ids.count)
        let p = try model.predict(image: image, promptIds: ids)
        let action = try statistics?.unnormalize(p.normalizedAction) ?? p.normalizedAction
        return Step(action: action, normalizedAction: p.normalizedAction, tokens: p.tokens, timings: p.timings)
    }
}
