import ArgumentParser
import Foundation
import ReflexCore
import ReflexModels

extension CheckpointQuantizer.Scheme: ExpressibleByArgument {}

/// `reflex quantize`: write an int8 checkpoint that `predict` and `run` load directly.
struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a checkpoint to int8 (per-channel weights; activations are quantized at run time).",
        discussion: "Output: DIR/model.safetensors with I8 weights and F32 <name>_scale tensors, plus config and tokenizer files."
    )

    @Option(help: "Source checkpoint directory.")
    var model: String

    @Option(help: "Output directory (created if missing).")
    var out: String

    @Option(help: "Quantization scheme.")
    var scheme: CheckpointQuantizer.Scheme = .int8

    func validate() throws {
        if URL(fileURLWithPath: model).standardized.path == URL(fileURLWithPath: out).standardized.path {
            throw ValidationError("--out must differ from --model")
        }
    }

    func run() throws {
        let t0 = monotonicNanos()
        var lastReport = t0
        let bytes = try CheckpointQuantizer.quantize(source: model, destination: out, scheme: scheme) { done, total in
            let now = monotonicNanos()
            if now - lastReport > 1_000_000_000 || done == total {
                log.info("quantize: \(done)/\(total) tensors")
                lastReport = now
            }
        }
        let seconds = Double(monotonicNanos() - t0) / 1e9
        log.info("wrote \(out)/model.safetensors: \(String(format: "%.1f", Double(bytes) / 1e6)) MB in \(String(format: "%.1f", seconds)) s")
    }
}
