import Foundation
import Testing
import ReflexTestSupport
@testable import ReflexCore
@testable import ReflexModels

/// End-to-end checks against the PyTorch references recorded by tools/make_fixtures.py
/// (Tests/Fixtures/README.md says how they were made).
@Suite("OpenVLA checkpoints against PyTorch references", .serialized)
struct OpenVLAFixtureTests {
    struct Case: Decodable {
        let image: String
        let instruction: String
        let unnormKey: String?
        let inputIds: [Int]
        let tokens: [Int]
        let normalizedAction: [Double]
        let action: [Double]

        enum CodingKeys: String, CodingKey {
            case image, instruction, tokens, action
            case unnormKey = "unnorm_key", inputIds = "input_ids", normalizedAction = "normalized_action"
        }
    }

    struct Reference: Decodable { let cases: [Case] }

    static let fixtures: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: FixturePaths.checkpoints)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: "\(FixturePaths.checkpoints)/\($0)/reference.json") }.sorted()
    }()

    static func directory(_ name: String) -> String { "\(FixturePaths.checkpoints)/\(name)" }

    static func reference(_ name: String) throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory(name) + "/reference.json"))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    @Test func fixturesArePresent() {
        #expect(Self.fixtures.count >= 2, "found \(Self.fixtures)")
    }

    @Test(arguments: fixtures)
    func fp32MatchesPyTorch(_ name: String) throws {
        let dir = Self.directory(name)
        let loader = try OpenVLALoader(directory: dir, precision: .fp32)
        let vla = try loader.load()
        let prompt = try PromptBuilder(tokenizer: try Tokenizer(directory: dir), config: loader.config)
        let ref = try SafeTensorsFile(path: dir + "/reference.safetensors")
        for (i, c) in try Self.reference(name).cases.enumerated() {
            let image = try ImageFile.read(dir + "/" + c.image)
            let ids = try prompt.ids(c.instruction)
            #expect(ids == c.inputIds, "\(name) case \(i): prompt ids")
            let pixels = try vla.preprocess(image)
            for (j, key) in ["pixel_values_dino", "pixel_values_siglip"].enumerated() where ref.tensors["case\(i).\(key)"] != nil {
                let enc = vla.encoders.firstIndex { ($0.transformer.config.family == .dinov2) == (j == 0) }!
                let want = try ref.floatTensor("case\(i).\(key)")
                #expect(maxAbsError(toDouble(pixels[enc]), toDouble(want)) < 1e-5, "\(name) case \(i): \(key)")
            }
            let feats = try zip(vla.encoders, pixels).map { try $0.transformer.features($1) }
            for (j, key) in ["featurizer", "fused_featurizer"].prefix(feats.count).enumerated() {
                let want = try ref.floatTensor("case\(i).features.\(key)")
                #expect(relativeError(toDouble(feats[j]), toDouble(want)) < 1e-4, "\(name) case \(i): \(key) features")
            }
            let projected = try vla.projector(feats.count == 1 ? feats[0] : try Tensor.concat(feats, axis: 1))
            #expect(relativeError(toDouble(projected), toDouble(try ref.floatTensor("case\(i).projector"))) < 1e-4, "\(name) case \(i): projector")
            let keepLogits = ref.tensors["case\(i).prompt_logits"] != nil
            let p = try vla.generate(embeddings: try vla.inputEmbeddings(promptIds: ids, projected: projected),
                                     actionTokensOnly: false, keepPromptLogits: keepLogits)
            if keepLogits {
                let want = try ref.floatTensor("case\(i).prompt_logits")
                #expect(relativeError(toDouble(p.promptLogits!), toDouble(want)) < 1e-4, "\(name) case \(i): prompt logits")
            }
            #expect(p.tokens == c.tokens, "\(name) case \(i): tokens")
            #expect(maxAbsError(p.normalizedAction.map(Double.init), c.normalizedAction) < 1e-6)
            let stats = try loader.config.statistics(unnormKey: c.unnormKey, path: dir)
            let action = try stats?.unnormalize(p.normalizedAction) ?? p.normalizedAction
            #expect(maxAbsError(action.map(Double.init), c.action) < 1e-5, "\(name) case \(i): action")
            // The action-token-only head must not change a confident model's choice.
            let fast = try vla.generate(embeddings: try vla.inputEmbeddings(promptIds: ids, projected: projected),
                                        actionTokensOnly: true, keepPromptLogits: false)
            #expect(fast.tokens == c.tokens, "\(name) case \(i): action-token-only argmax")
        }
    }

    /// int8 end to end: quantize at load and through `reflex quantize`'s writer; both must agree
    /// exactly (same quantizer), and stay close to the fp32 reference.
    @Test(arguments: fixtures)
    func int8TracksReference(_ name: String) throws {
        let dir = Self.directory(name)
        let out = NSTemporaryDirectory() + "reflex-q-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        try CheckpointQuantizer.quantize(source: dir, destination: out)
        let atLoad = try OpenVLALoader(directory: dir, precision: .int8)
        let fromFile = try OpenVLALoader(directory: out, precision: .fp32)
        #expect(fromFile.isQuantizedCheckpoint && fromFile.precision == .int8)
        let (a, b) = (try atLoad.load(), try fromFile.load())
        let prompt = try PromptBuilder(tokenizer: try Tokenizer(directory: out), config: fromFile.config)
        let ref = try SafeTensorsFile(path: dir + "/reference.safetensors")
        var identical = 0
        let cases = try Self.reference(name).cases
        for (i, c) in cases.enumerated() {
            let image = try ImageFile.read(dir + "/" + c.image)
            let keep = ref.tensors["case\(i).prompt_logits"] != nil
            let pa = try a.predict(image: image, promptIds: prompt.ids(c.instruction), keepPromptLogits: keep)
            let pb = try b.predict(image: image, promptIds: prompt.ids(c.instruction), keepPromptLogits: keep)
            #expect(pa.tokens == pb.tokens)
            if keep {
                #expect(pa.promptLogits!.scalars == pb.promptLogits!.scalars)
                let err = relativeError(toDouble(pb.promptLogits!), toDouble(try ref.floatTensor("case\(i).prompt_logits")))
                print("int8 \(name) case \(i): prompt-logit relative error \(String(format: "%.4f", err))")
                #expect(err < 0.05)
            }
            if pb.tokens == c.tokens { identical += 1 }
        }
        print("int8 \(name): \(identical)/\(cases.count) cases keep the fp32 reference's 7 tokens")
    }
}

/// `tokenizers` library output on each fixture's test corpus (tokenizer_cases.json).
@Suite("tokenizer.json against the tokenizers library")
struct TokenizerTests {
    struct Cases: Decodable { let cases: [Item] }
    struct Item: Decodable {
        let text: String
        let idsWithSpecial: [Int]
        let idsNoSpecial: [Int]
        let decodedKeepSpecial: String
        let decodedSkipSpecial: String
        enum CodingKeys: String, CodingKey {
            case text
            case idsWithSpecial = "ids_with_special", idsNoSpecial = "ids_no_special"
            case decodedKeepSpecial = "decoded_keep_special", decodedSkipSpecial = "decoded_skip_special"
        }
    }

    static let fixtures = OpenVLAFixtureTests.fixtures.filter {
        FileManager.default.fileExists(atPath: OpenVLAFixtureTests.directory($0) + "/tokenizer_cases.json")
    }

    @Test(arguments: fixtures)
    func encodeAndDecodeMatch(_ name: String) throws {
        let dir = OpenVLAFixtureTests.directory(name)
        let tok = try Tokenizer(directory: dir)
        let cases = try JSONDecoder().decode(Cases.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/tokenizer_cases.json"))).cases
        #expect(cases.count >= 30)
        for c in cases {
            #expect(tok.encode(c.text, addSpecialTokens: true) == c.idsWithSpecial, "\(name): \(c.text.debugDescription)")
            #expect(tok.encode(c.text, addSpecialTokens: false) == c.idsNoSpecial, "\(name): \(c.text.debugDescription) (no special)")
            #expect(tok.decode(c.idsWithSpecial, skipSpecialTokens: false) == c.decodedKeepSpecial, "\(name): decode \(c.text.debugDescription)")
            #expect(tok.decode(c.idsWithSpecial, skipSpecialTokens: true) == c.decodedSkipSpecial, "\(name): decode skip \(c.text.debugDescription)")
        }
    }
}
