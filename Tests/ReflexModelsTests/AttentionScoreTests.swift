import Foundation
import Testing
import ReflexTestSupport
@testable import ReflexCore
@testable import ReflexModels

/// SP-VLA's semantic score against timm: `Tests/Fixtures/attention/attention.json` (tools/make_attention_fixture.py:
/// timm's VisionTransformer loaded from each checkpoint, fused attention off, forward hooks on `attn_drop` of the
/// last and the feature block, softmax(QKᵀ/√d) averaged over heads and queries in float64). Cases: the committed
/// simulator policy (trained weights) on three simulator frames, and two random fixture checkpoints (one SigLIP;
/// DINOv2 + SigLIP, scored by the SigLIP one). In the fixture suite's extension: fp32 forwards run serialized.
extension OpenVLAFixtureTests {
    struct AttentionFixture: Decodable {
        struct Case: Decodable {
            var checkpoint: String, image: String, encoder_index: Int, patches: Int
            var blocks: [String: Block]
        }
        struct Block: Decodable {
            var scores: [Double]
            var sets: [Cut]
        }
        struct Cut: Decodable { var theta: Double, kept: [Int], margin: Double }
        var cases: [Case]
    }

    static let repositoryRoot = URL(fileURLWithPath: FixturePaths.checkpoints).deletingLastPathComponent().deletingLastPathComponent()

    static func attentionFixture() throws -> AttentionFixture {
        let data = try Data(contentsOf: URL(fileURLWithPath: FixturePaths.checkpoints + "/attention/attention.json"))
        return try JSONDecoder().decode(AttentionFixture.self, from: data)
    }

    /// The mean attention per patch in the last and the feature block equals timm's, and the semantic set at every
    /// θ whose cut is clear of rounding (margin ≥ 1e-4) is the reference's.
    @Test func attentionScoresMatchTimm() throws {
        let fixture = try Self.attentionFixture()
        #expect(fixture.cases.count == 5)
        var loaded: [String: OpenVLA] = [:]
        for c in fixture.cases {
            let dir = Self.repositoryRoot.appendingPathComponent(c.checkpoint).path
            let vla = try loaded[dir] ?? OpenVLALoader(directory: dir, precision: .fp32).load()
            loaded[dir] = vla
            #expect(vla.scoringEncoder == c.encoder_index)
            let encoder = vla.encoders[c.encoder_index]
            let image = try ImageFile.read(Self.repositoryRoot.appendingPathComponent(c.image).path)
            let pixels = try encoder.pixels(image)
            let plain = try encoder.transformer.features(pixels)
            for (name, block) in [("last", AttentionBlock.last), ("feature", .feature)] {
                let encoded = try encoder.transformer.encode(pixels, attention: block)
                let scores = try #require(encoded.patchAttention)
                let want = try #require(c.blocks[name])
                #expect(scores.count == c.patches)
                let err = zip(scores, want.scores).map { abs(Double($0) - $1) }.max() ?? .infinity
                #expect(err < 2e-6, "\(c.checkpoint) \(c.image) \(name): max |Δscore| \(err)")
                #expect(abs(scores.reduce(0, +) - 1) < 1e-4)  // no prefix tokens in these encoders' scorers
                // Asking for scores does not change the features.
                #expect(toDouble(encoded.features) == toDouble(plain))
                let selector = AttentionSelector()
                for cut in want.sets where cut.margin >= 1e-4 {
                    #expect(selector.semanticSet(scores, theta: cut.theta) == cut.kept, "\(c.checkpoint) \(name) θ \(cut.theta)")
                }
            }
        }
    }

    /// Through `predict`: `attention` keeps the semantic set of the scores it was handed; `spvla` keeps its union
    /// with the edge patches; the score time is counted in the select stage.
    @Test func spvlaKeepsTheUnionOfEdgesAndTheSemanticSet() throws {
        let dir = Self.repositoryRoot.appendingPathComponent("models/reflex-sim-tiny").path
        let policy = try VLAPolicy(directory: dir, options: VLAPolicy.Options(pruning: PruningSettings(method: .spvla, theta: 0.5, attentionBlock: .feature)))
        let vla = policy.model
        let image = try ImageFile.read(Self.repositoryRoot.appendingPathComponent("Tests/Fixtures/canny/sim_push_s3_f0_112.rgb.png").path)
        let ids = try policy.prompt.ids("push the red block to the green target")
        let scores = try #require(try vla.encoders[0].transformer.encode(try vla.encoders[0].pixels(image), attention: .feature).patchAttention)
        let semantic = AttentionSelector(theta: 0.5, block: .feature)
        let a = try vla.predict(image: image, promptIds: ids, selector: semantic)
        #expect(a.keptPatches == semantic.semanticSet(scores, theta: 0.5) && a.keptPatches.count < vla.numPatches)
        #expect(a.timings.select > 0)
        let s = try vla.predict(image: image, promptIds: ids, selector: SPVLASelector(theta: 0.5, block: .feature))
        var canny = CannyEdges(width: image.width, height: image.height)
        canny.detect(rgb: image.pixels)
        #expect(s.keptPatches == Array(Set(a.keptPatches).union(canny.edgePatches(patch: 14))).sorted())
        // θ = 1 keeps every patch and is the unpruned forward.
        let all = try vla.predict(image: image, promptIds: ids, selector: SPVLASelector(theta: 1, block: .feature))
        let plain = try vla.predict(image: image, promptIds: ids)
        #expect(all.keptPatches.count == vla.numPatches && all.tokens == plain.tokens && all.normalizedAction == plain.normalizedAction)
        // A policy built from the same settings keeps the same patches.
        let step = try policy.act(image, instruction: "push the red block to the green target")
        #expect(step.keptPatches == s.keptPatches)
    }
}
