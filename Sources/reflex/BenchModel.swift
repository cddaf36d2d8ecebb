import ArgumentParser
import Foundation
import ReflexCore
import ReflexModels

/// `reflex bench model`: per-stage latency of one full action (preprocess → 7 tokens).
struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Per-stage latency of one action: preprocess, vision, projector, prefill, decode.",
        discussion: """
            --model DIR measures a checkpoint. --config builds random weights of real sizes in memory: \
            minivla (DINOv2-L + SigLIP-So400m, fused projector, Qwen2.5-0.5B) or openvla-7b-layers (the same \
            vision with Llama-2-7B; only --llm-layers decoder layers are built, and the full 32-layer \
            prefill/decode times are extrapolated from them).
            """
    )

    enum Preset: String, ExpressibleByArgument, CaseIterable { case minivla, openvla7bLayers = "openvla-7b-layers" }

    @Option(help: "Checkpoint directory.")
    var model: String?

    @Option(help: "Random-weight model of a real size: minivla or openvla-7b-layers.")
    var config: Preset?

    @Option(help: "Linear-layer precision: fp32 or int8.")
    var quant: Precision = .fp32

    @OptionGroup(title: "Pruning") var pruning: PruningOptions

    @Option(help: "Timed runs (after one warm-up).")
    var runs: Int = 3

    @Option(help: "Decoder layers to build for openvla-7b-layers.")
    var llmLayers: Int = 2

    @Option(help: "Instruction used to build the prompt (checkpoints).")
    var instruction: String = "pick up the red cube and place it in the blue bowl"

    @Option(help: "Use a synthetic prompt of this many tokens (BOS + fixed ids) instead of tokenizing --instruction; the default for --config and for checkpoints without tokenizer.json is 20, about OpenVLA's prompt length.")
    var promptTokens: Int?

    @Option(help: "Image file (default: a synthetic 640×480 frame).")
    var image: String?

    @OptionGroup var imageLimit: ImageLimitOptions

    @Flag(help: "Restrict the argmax to the action-token ids.")
    var actionTokensOnly = false

    @Option(help: "Worker threads (default: REFLEX_THREADS or the CPUs available).")
    var threads: Int?

    @Flag(help: "Print one JSON object on stdout.")
    var json = false

    func validate() throws {
        if (model == nil) == (config == nil) { throw ValidationError("give exactly one of --model DIR or --config minivla|openvla-7b-layers") }
        if runs < 1 { throw ValidationError("--runs must be at least 1") }
        if llmLayers < 1 { throw ValidationError("--llm-layers must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let promptTokens, promptTokens < 1 { throw ValidationError("--prompt-tokens must be at least 1") }
    }

    func run() throws {
        Kernels.setThreads(threads ?? Kernels.threads)
        let t0 = monotonicNanos()
        let vla: OpenVLA, promptIds: [Int], name: String
        var precision = quant
        var layerScale = 1.0
        if let model {
            let loader = try OpenVLALoader(directory: model, precision: quant)
            precision = loader.precision
            vla = try loader.load()
            if promptTokens == nil, FileManager.default.fileExists(atPath: model + "/tokenizer.json") {
                promptIds = try PromptBuilder(tokenizer: try Tokenizer(directory: model), config: loader.config).ids(instruction)
            } else {
                promptIds = Self.syntheticPrompt(promptTokens ?? 20, vocab: vla.llm.config.vocabSize)
            }
            name = model
        } else {
            let preset = config!
            let text: TextConfig = preset == .minivla ? .qwen25_05B : .llama2_7B
            log.info("building \(preset.rawValue) with random weights (\(quant.rawValue))…")
            let layers = preset == .minivla ? nil : llmLayers
            vla = try OpenVLA.random(vision: [.dinov2Large, .siglipSo400m], text: text, layers: layers, int8: quant == .int8)
            if let layers { layerScale = Double(text.numHiddenLayers) / Double(layers) }
            promptIds = Self.syntheticPrompt(promptTokens ?? 20, vocab: text.vocabSize)
            name = preset.rawValue
        }
        let loadMs = Double(monotonicNanos() - t0) / 1e6
        let frame = try image.map { try ImageFile.read($0, maxPixels: imageLimit.limit) } ?? Self.syntheticFrame()
        log.info("model ready in \(String(format: "%.0f", loadMs)) ms; \(runs) runs after a warm-up")

        var samples: [StageTimings] = []
        var gemmShares: [Double] = []
        var kept: [Int] = []
        let settings = try pruning.settings
        let selector = settings.makeSelector()
        _ = try vla.predict(image: frame, promptIds: promptIds, actionTokensOnly: actionTokensOnly, selector: selector, positions: settings.positions, encoderBlocksOnKept: settings.vitBlocks)
        // Pruned runs interleave an unpruned prediction before each timed one: the ratios come from one run of the
        // bench, side by side, not from two runs at different times on a shared machine.
        var unpruned: [StageTimings] = []
        for i in 0..<runs {
            if selector != nil {
                unpruned.append(try vla.predict(image: frame, promptIds: promptIds, actionTokensOnly: actionTokensOnly).timings)
            }
            GemmProfiler.reset()
            GemmProfiler.enabled = true
            let p = try vla.predict(image: frame, promptIds: promptIds, actionTokensOnly: actionTokensOnly, selector: selector, positions: settings.positions, encoderBlocksOnKept: settings.vitBlocks)
            GemmProfiler.enabled = false
            samples.append(p.timings)
            kept.append(p.keptPatches.count)
            let total = p.timings.total
            gemmShares.append(total > 0 ? Double(GemmProfiler.nanoseconds) / 1e6 / total : 0)
            log.info("run \(i + 1): total \(String(format: "%.1f", total)) ms (prefill \(String(format: "%.1f", p.timings.prefill)), decode \(String(format: "%.1f", p.timings.decode)))")
        }
        let med = StageTimings.combine(samples) { v in v.sorted()[v.count / 2] }
        let baseline = unpruned.isEmpty ? nil : StageTimings.combine(unpruned) { v in v.sorted()[v.count / 2] }
        let ratios = baseline.map { b in
            PruningRatios(projectorAndPrefill: (med.projector + med.prefill) / (b.projector + b.prefill), total: med.total / b.total,
                          selectShareOfTotal: med.select / med.total)
        }
        let report = ModelBenchReport(
            model: name, precision: precision.rawValue, threads: Kernels.threads, runs: runs, promptTokens: promptIds.count,
            sequenceLength: promptIds.count + kept.sorted()[kept.count / 2], llmLayers: vla.llm.layers.count, latencyMs: med,
            prune: settings.method.rawValue, keptPatches: kept.sorted()[kept.count / 2], totalPatches: vla.numPatches,
            unprunedLatencyMs: baseline, prunedOverUnpruned: ratios,
            fullModelEstimateMs: layerScale == 1 ? nil : med.total + (med.prefill + med.decode) * (layerScale - 1),
            gemmShareOfTotal: precision == .fp32 ? gemmShares.sorted()[gemmShares.count / 2] : nil,
            loadMs: loadMs, peakRSSMB: Self.peakRSSMiB())
        if json {
            try printJSON(report)
        } else {
            print("model \(name) (\(precision.rawValue), \(Kernels.threads) threads, \(promptIds.count) prompt tokens + \(report.keptPatches) of \(vla.numPatches) image tokens\(settings.method == .none ? "" : ", pruning " + settings.summary))")
            print("median of \(runs): " + Stage.allCases.map { String(format: "%@ %.1f ms", $0.rawValue, med[$0]) }.joined(separator: ", ")
                  + String(format: ", total %.1f ms", med.total))
            if let b = baseline, let r = ratios {
                print("unpruned, interleaved: " + Stage.allCases.map { String(format: "%@ %.1f ms", $0.rawValue, b[$0]) }.joined(separator: ", ")
                      + String(format: ", total %.1f ms", b.total))
                print(String(format: "pruned ÷ unpruned: projector + prefill %.2f, total %.2f; select is %.1f%% of the pruned action",
                             r.projectorAndPrefill, r.total, 100 * r.selectShareOfTotal))
            }
            if let est = report.fullModelEstimateMs {
                print(String(format: "full %d-layer estimate: %.1f ms", Int(Double(vla.llm.layers.count) * layerScale), est))
            }
            if let g = report.gemmShareOfTotal { print(String(format: "time inside fp32 GEMM: %.1f%%", g * 100)) }
            print(String(format: "load %.0f ms, peak RSS %.0f MB", loadMs, report.peakRSSMB))
        }
    }

    /// This process's peak resident set (VmHWM, MiB). Not getrusage's ru_maxrss: Linux carries that
    /// across exec, so a child of a large process (a Python benchmark driver) would report the
    /// parent's footprint.
    static func peakRSSMiB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }

    /// BOS (id 1) followed by fixed pseudo-random ids: timing does not depend on which tokens.
    static func syntheticPrompt(_ count: Int, vocab: Int) -> [Int] {
        var rng = SplitMix64(seed: 5)
        return [1] + (1..<count).map { _ in Int(rng.next() % UInt64(vocab - 2)) + 2 }
    }

    /// A deterministic 640×480 test frame (gradients and blocks), standing in for a camera image.
    static func syntheticFrame() throws -> RGBImage {
        let w = 640, h = 480
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let i = (y * w + x) * 3
                px[i] = UInt8((x * 255) / w)
                px[i + 1] = UInt8((y * 255) / h)
                px[i + 2] = ((x / 80 + y / 60) % 2 == 0) ? 200 : 40
            }
        }
        return try RGBImage(width: w, height: h, pixels: px)
    }
}

/// The `bench model --json` object.
struct ModelBenchReport: Encodable {
    var model: String
    var precision: String
    var threads: Int
    var runs: Int
    var promptTokens: Int
    var sequenceLength: Int
    var llmLayers: Int
    var latencyMs: StageTimings
    /// Pruning, and the median number of patches the language model read out of `totalPatches`.
    var prune: String
    var keptPatches: Int
    var totalPatches: Int
    /// With pruning: the unpruned action's stages, measured interleaved with the pruned runs, and the ratios.
    var unprunedLatencyMs: StageTimings?
    var prunedOverUnpruned: PruningRatios?
    var fullModelEstimateMs: Double?
    var gemmShareOfTotal: Double?
    var loadMs: Double
    var peakRSSMB: Double

    enum CodingKeys: String, CodingKey {
        case model, precision, threads, runs, prune
        case keptPatches = "kept_patches", totalPatches = "total_patches"
        case unprunedLatencyMs = "unpruned_latency_ms", prunedOverUnpruned = "pruned_over_unpruned"
        case promptTokens = "prompt_tokens", sequenceLength = "sequence_length", llmLayers = "llm_layers"
        case latencyMs = "latency_ms", fullModelEstimateMs = "full_model_estimate_ms", gemmShareOfTotal = "gemm_share_of_total"
        case loadMs = "load_ms", peakRSSMB = "peak_rss_mb"
    }
}

/// Pruned over unpruned medians, from interleaved runs.
struct PruningRatios: Encodable {
    var projectorAndPrefill: Double
    var total: Double
    var selectShareOfTotal: Double
    enum CodingKeys: String, CodingKey {
        case total, projectorAndPrefill = "projector_and_prefill", selectShareOfTotal = "select_share_of_total"
    }
}
