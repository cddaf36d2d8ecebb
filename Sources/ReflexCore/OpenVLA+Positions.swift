/// How many positions a prediction needs, checked before anything is allocated for it.
extension OpenVLA {
    /// Positions the model has rotary tables for (the most one prediction may use).
    public var maxPositions: Int { llm.rope.maxPositions }

    /// Positions one prediction uses for a prompt of `promptTokens` ids: the prompt, the image
    /// tokens and the generated action tokens.
    public func positionsNeeded(promptTokens: Int) -> Int { promptTokens + numPatches + actionDims }

    /// Throws unless a prompt of `promptTokens` ids fits the model's positions (call it before
    /// `predict`: the KV caches and activations are sized from the prompt).
    public func checkPromptFits(promptTokens: Int) throws {
        let need = positionsNeeded(promptTokens: promptTokens)
        guard need <= maxPositions else {
            throw TensorError.invalidArgument(
                "prompt of \(promptTokens) tokens + \(numPatches) image tokens + \(actionDims) action tokens = \(need) positions exceeds the model's limit of \(maxPositions) positions")
        }
    }
}
