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

extension OpenVLAFixtureTests {
    struct LLMAttentionFixture: Decodable {
        struct Case: Decodable {
            var checkpoint: String, patches: Int, sequence_length: Int
            var layers: [String: Layer]
        }
        struct Layer: Decodable { var scores: [Double], sets: [Cut] }
        struct Cut: Decodable { var keep: Double, kept: [Int], margin: Double }
        var llm_cases: [Case]
    }

    /// SQAP-VLA's criterion (a) reads the attention the text after the image pays each image token at LLM layer K:
    /// against transformers' eager attention (`output_attentions`) on the reference input embeddings, for Llama-2
    /// (multi-head) and Qwen2 (grouped-query); top-k sets compared where the cut's score gap is clear of rounding.
    @Test func layerAttentionMatchesTransformers() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: FixturePaths.checkpoints + "/attention/attention.json"))
        let fixture = try JSONDecoder().decode(LLMAttentionFixture.self, from: data)
        #expect(fixture.llm_cases.count == 2)
        var compared = 0
        for c in fixture.llm_cases {
            let dir = Self.repositoryRoot.appendingPathComponent(c.checkpoint).path
            let name = URL(fileURLWithPath: dir).lastPathComponent
            let vla = try OpenVLALoader(directory: dir, precision: .fp32).load()
            let (ids, projected) = try Self.referenceProjection(name)
            let embeddings = try vla.inputEmbeddings(promptIds: ids, projected: projected)
            #expect(embeddings.shape[0] == c.sequence_length)
            var caches = vla.llm.makeCaches(capacity: c.sequence_length)
            var h = embeddings
            for (k, layer) in vla.llm.layers.enumerated() {
                defer { h = (try? layer(h, cache: &caches[k], rope: vla.llm.rope)) ?? h }
                if k == 0 { continue }
                let want = try #require(c.layers[String(k)])
                let all = try layer.meanAttention(h, rope: vla.llm.rope, queryRows: (1 + c.patches)..<c.sequence_length)
                let scores = Array(all[1..<(1 + c.patches)])
                let err = zip(scores, want.scores).map { abs(Double($0) - $1) }.max()!
                #expect(err < 1e-7, "\(name) layer \(k): max |Δscore| \(err)")
                for cut in want.sets where cut.margin > 20 * err {
                    let count = SQAPSelector.share(cut.keep, of: c.patches)
                    #expect(SQAPSelector.topK(scores, count).sorted() == cut.kept, "\(name) layer \(k) keep \(cut.keep)")
                    compared += 1
                }
            }
        }
        #expect(compared >= 4, "only \(compared) top-k cuts were clear of rounding")
    }

    /// Case 0's prompt ids and the projected patches the PyTorch reference stored.
    static func referenceProjection(_ name: String) throws -> ([Int], Tensor) {
        let ref = try SafeTensorsFile(path: directory(name) + "/reference.safetensors")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory(name) + "/reference.json"))) as? [String: Any]
        let ids = try #require(((json?["cases"] as? [[String: Any]])?.first?["input_ids"] as? [Int]))
        return (ids, try ref.floatTensor("case0.projector"))
    }

    /// `sqap` keeping every patch (keep 1) is the unpruned forward exactly, tokens and prompt logits; a real cut keeps
    /// the top-k of the layer-K scores, the generated tokens follow the unpruned positions, and select is timed.
    @Test(arguments: fixtures)
    func sqapPrunesInsideTheLanguageModel(_ name: String) throws {
        let (vla, ids, image) = try Self.loadFirstCase(name)
        let n = vla.numPatches
        let plain = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true)
        let all = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true, selector: SQAPSelector(keep: 1, layer: 1, coverage: 1))
        #expect(all.keptPatches == Array(0..<n) && all.tokens == plain.tokens)
        #expect(toDouble(all.promptLogits!) == toDouble(plain.promptLogits!))
        let cut = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true, selector: SQAPSelector(keep: 0.25, layer: 1, coverage: 0.25))
        #expect(cut.keptPatches.count == SQAPSelector.share(0.25, of: n) && cut.totalPatches == n)
        #expect(cut.promptLogits!.shape[0] == ids.count + cut.keptPatches.count && cut.timings.select > 0)
        // Too deep a layer is an error naming the selector.
        #expect { _ = try vla.predict(image: image, promptIds: ids, selector: SQAPSelector(layer: vla.llm.layers.count)) }
            throws: { "\($0)".contains("visual-token selector sqap: LLM layer \(vla.llm.layers.count) is outside") }
    }
}
