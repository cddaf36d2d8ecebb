import ArgumentParser
import Foundation
import ReflexCore

extension PruneMethod: ExpressibleByArgument {}
extension AttentionBlock: ExpressibleByArgument {}
extension TokenPositions: ExpressibleByArgument {}

/// The pruning flags, shared by `predict`, `eval` and `bench model`: the same names and defaults as the
/// profile's `acceleration.pruning` keys.
struct PruningOptions: ParsableArguments {
    @Option(help: "Visual-token pruning: none; edges (SP-VLA's spatial set: patches holding a Canny edge); attention (its semantic set: the patches the vision encoder's self-attention favours, up to θ of it); spvla (the union of both, as released); sqap (SQAP-VLA's criteria at LLM layer K: the text's top-attended patches, the end effector's, and coverage).")
    var prune: PruneMethod = PruningSettings().method

    @Option(help: "attention, spvla: the share of the encoder's attention the semantic set keeps, in (0, 1] (1 keeps every patch).")
    var theta: Double = PruningSettings().theta

    @Option(help: "attention, spvla: SP-VLA's speed-adaptive θ instead of --theta, as Z_THRE,Z_MIN (released default 0.5,0.9): θ = 1 while the previous action's |z| < z_thre, falling to 1 − z_min at full speed.")
    var adaptive: String?

    @Option(name: .customLong("attention-block"), help: "attention, spvla: whose self-attention scores the patches: last (the encoder's last block, as released; an extra q/k projection) or feature (the block the features come from; scores only).")
    var attentionBlock: AttentionBlock = PruningSettings().attentionBlock

    @Option(help: "The kept visual tokens' positions in the language model: packed (renumbered, as SP-VLA releases it) or original (the positions they had unpruned, gaps included).")
    var positions: TokenPositions = PruningSettings().positions

    @Option(help: "sqap: the share of visual tokens kept by the text's attention at LLM layer K, in (0, 1].")
    var keep: Double = PruningSettings().keep

    @Option(help: "sqap: the LLM layer K where it prunes (FastV-style: the layers before K read every visual token).")
    var layer: Int = PruningSettings().layer

    @Option(name: .customLong("ee-radius"), help: "sqap: patches within this many patch widths of the end effector's pixel are always kept (when it is known).")
    var eeRadius: Double = PruningSettings().eeRadius

    @Option(help: "sqap: farthest-point sampling over the patch grid adds patches until this share is kept, in (0, 1].")
    var coverage: Double = PruningSettings().coverage

    @Option(name: .customLong("vit-blocks"), help: "An experiment, edges only: the vision encoders' last N feature blocks run on the kept patches only (0: prune after the encoders).")
    var vitBlocks: Int = PruningSettings().vitBlocks

    var settings: PruningSettings {
        get throws {
            var adaptiveTheta: AdaptiveTheta?
            if let adaptive {
                let parts = adaptive.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard parts.count == 2, let zThre = parts[0], let zMin = parts[1] else {
                    throw ValidationError("--adaptive: '\(adaptive)' is not Z_THRE,Z_MIN (e.g. 0.5,0.9)")
                }
                adaptiveTheta = AdaptiveTheta(zThreshold: zThre, zMin: zMin)
            }
            return PruningSettings(method: prune, theta: theta, adaptive: adaptiveTheta, attentionBlock: attentionBlock, positions: positions,
                                   keep: keep, layer: layer, eeRadius: eeRadius, coverage: coverage, vitBlocks: vitBlocks)
        }
    }

    func validate() throws {
        if let p = try settings.problem {
            let flag = p.key.hasPrefix("adaptive") ? "adaptive (\(p.key.dropFirst("adaptive.".count)))" : p.key.replacingOccurrences(of: "_", with: "-")
            throw ValidationError("--\(flag): \(p.message)")
        }
    }
}

/// `acceleration.pruning` as `--json` reports it: the settings beside the method name.
struct PruningSettingsJSON: Encodable {
    var method: String, theta: Double, adaptive: Adaptive?, attentionBlock: String, positions: String
    var keep: Double, layer: Int, eeRadius: Double, coverage: Double, vitBlocks: Int
    struct Adaptive: Encodable {
        var zThre: Double, zMin: Double
        enum CodingKeys: String, CodingKey { case zThre = "z_thre", zMin = "z_min" }
    }
    init(_ s: PruningSettings) {
        method = s.method.rawValue
        theta = s.theta
        adaptive = s.adaptive.map { Adaptive(zThre: $0.zThreshold, zMin: $0.zMin) }
        attentionBlock = s.attentionBlock.rawValue
        positions = s.positions.rawValue
        keep = s.keep
        layer = s.layer
        eeRadius = s.eeRadius
        coverage = s.coverage
        vitBlocks = s.vitBlocks
    }
    enum CodingKeys: String, CodingKey {
        case method, theta, adaptive, positions, keep, layer, coverage
        case attentionBlock = "attention_block", eeRadius = "ee_radius", vitBlocks = "vit_blocks"
    }
}
