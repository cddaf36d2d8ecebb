import ArgumentParser
import Foundation
import ReflexCore
import ReflexModels

extension Precision: ExpressibleByArgument {}

/// `reflex predict`: one action from one image and instruction.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict one robot action from an image and an instruction.",
        discussion: """
            Loads an OpenVLA-family checkpoint (Hugging Face layout, or one written by `reflex quantize`), \
            runs preprocessing, the vision encoder(s), the projector and the language model, decodes 7 \
            action tokens greedily and un-normalizes them with the dataset statistics.
            """
    )

    @Option(help: "Checkpoint directory (config.json, safetensors, tokenizer.json).")
    var model: String

    @Option(help: "PNG or JPEG image.")
    var image: String

    @Option(help: "Task instruction, e.g. \"pick up the red cube\".")
    var instruction: String

    @Option(name: .customLong("unnorm-key"), help: "Dataset whose statistics un-normalize the action (required when the checkpoint has several).")
    var unnormKey: String?

    @Option(help: "Linear-layer precision: fp32 or int8 (int8 checkpoints load as int8 either way).")
    var quant: Precision = .fp32

    @Flag(help: "Restrict the argmax to the 256 action-token ids (faster; identical on a well-trained model).")
    var actionTokensOnly = false

    @OptionGroup(title: "Pruning") var pruning: PruningOptions

    @OptionGroup var imageLimit: ImageLimitOptions

    @Flag(help: "Print one JSON object on stdout.")
    var json = false

    func run() throws {
        let rgb = try ImageFile.read(image, maxPixels: imageLimit.limit)  // a bad image fails before the model loads
        let t0 = monotonicNanos()
        let loader = try OpenVLALoader(directory: model, precision: quant)
        let stats = try loader.config.statistics(unnormKey: unnormKey, path: model + "/config.json")
        let tokenizer = try Tokenizer(directory: model)
        let vla = try loader.load()
        let loadMs = Double(monotonicNanos() - t0) / 1e6
        log.info("loaded \(model) (\(loader.isQuantizedCheckpoint ? "int8 checkpoint" : quant.rawValue)) in \(String(format: "%.0f", loadMs)) ms")
        let ids = try PromptBuilder(tokenizer: tokenizer, config: loader.config).ids(instruction)
        let prediction = try vla.predict(image: rgb, promptIds: ids, actionTokensOnly: actionTokensOnly, selector: try pruning.settings.makeSelector(),
                                        positions: pruning.positions, encoderBlocksOnKept: pruning.vitBlocks)
        let action = try stats?.unnormalize(prediction.normalizedAction) ?? prediction.normalizedAction
        if json {
            let out = PredictOutput(action: action, normalizedAction: prediction.normalizedAction, tokens: prediction.tokens,
                                    latencyMs: prediction.timings, loadMs: loadMs,
                                    precision: loader.isQuantizedCheckpoint ? "int8" : quant.rawValue, promptTokens: ids.count,
                                    prune: pruning.prune.rawValue, keptPatches: prediction.keptPatches, totalPatches: prediction.totalPatches)
            try printJSON(out)
        } else {
            let t = prediction.timings
            print("action:            \(action.map { String(format: "%.4f", $0) }.joined(separator: " "))")
            print("normalized action: \(prediction.normalizedAction.map { String(format: "%.4f", $0) }.joined(separator: " "))")
            print("tokens:            \(prediction.tokens.map(String.init).joined(separator: " "))")
            print("latency ms:        " + Stage.allCases.map { String(format: "%@ %.1f", $0.rawValue, t[$0]) }.joined(separator: ", ")
                  + String(format: ", total %.1f", t.total))
            if pruning.prune != .none { print("patches:           \(prediction.keptPatches.count) of \(prediction.totalPatches) kept (\(try pruning.settings.summary))") }
        }
    }
}

/// The `predict --json` object.
struct PredictOutput: Encodable {
    var action: [Float]
    var normalizedAction: [Float]
    var tokens: [Int]
    var latencyMs: StageTimings
    var loadMs: Double
    var precision: String
    var promptTokens: Int
    var prune: String
    var keptPatches: [Int]
    var totalPatches: Int

    enum CodingKeys: String, CodingKey {
        case action, tokens, precision, prune
        case normalizedAction = "normalized_action", latencyMs = "latency_ms", loadMs = "load_ms", promptTokens = "prompt_tokens"
        case keptPatches = "kept_patches", totalPatches = "total_patches"
    }
}
