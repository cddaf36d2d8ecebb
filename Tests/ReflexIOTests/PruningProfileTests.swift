import Foundation
import ReflexCore
import Testing
@testable import ReflexIO

/// `acceleration.pruning`: the keys, their defaults and the errors for values that cannot work.
@Suite struct PruningProfileTests {
    static let text = BoardProfileTests.valid

    func with(_ pruning: String) -> String { Self.text + "\nacceleration:\n  pruning: { \(pruning) }\n" }

    func error(_ pruning: String) -> String? {
        do { _ = try BoardProfile.parse(with(pruning), file: "p.yaml"); return nil } catch { return "\(error)" }
    }

    @Test func defaultsAndValues() throws {
        #expect(try BoardProfile.parse(Self.text, file: "p.yaml").acceleration.pruning == PruningSettings())
        let p = try BoardProfile.parse(with("method: spvla, theta: 0.7, attention_block: feature, positions: original"), file: "p.yaml").acceleration.pruning
        #expect(p == PruningSettings(method: .spvla, theta: 0.7, attentionBlock: .feature, positions: .original))
        let a = try BoardProfile.parse(with("method: attention, adaptive: { z_thre: 0.3, z_min: 0.7 }"), file: "p.yaml").acceleration.pruning
        #expect(a.adaptive == AdaptiveTheta(zThreshold: 0.3, zMin: 0.7) && a.method == .attention)
        let d = try BoardProfile.parse(with("method: spvla, adaptive: {}"), file: "p.yaml").acceleration.pruning
        #expect(d.adaptive == AdaptiveTheta())
    }

    @Test func badValuesNameTheKey() {
        #expect(error("theta: 0") == "p.yaml:20: acceleration.pruning.theta: 0.0 must be in (0, 1] (the share of attention the semantic set keeps)")
        #expect(error("theta: 1.2") == "p.yaml:20: acceleration.pruning.theta: 1.2 is out of range 0.0…1.0")
        #expect(error("adaptive: { z_thre: 1 }") == "p.yaml:20: acceleration.pruning.adaptive.z_thre: 1.0 must be in [0, 1) (normalized |z| below which nothing is pruned)")
        #expect(error("adaptive: { z_min: 0 }") == "p.yaml:20: acceleration.pruning.adaptive.z_min: 0.0 must be in (0, 1) (θ falls to 1 − z_min at full speed)")
        #expect(error("method: fastv")?.contains("acceleration.pruning.method") == true)
        #expect(error("positions: shuffled")?.contains("acceleration.pruning.positions") == true)
        #expect(error("attention_block: first")?.contains("acceleration.pruning.attention_block") == true)
        #expect(error("enabled: true") == "p.yaml:20: acceleration.pruning.enabled: replaced by 'method' (none, edges, attention, spvla, sqap) and 'theta' or 'keep' (see boards/README.md)")
        #expect(error("tehta: 0.5")?.contains("did you mean 'theta'") == true)
    }
}
