import Foundation
import Testing
@testable import ReflexCore
@testable import ReflexModels

/// Broken checkpoints are rejected with the file and the key or tensor at fault.
@Suite("Invalid checkpoints")
struct CheckpointErrorTests {
    /// A copy of the tiny Llama fixture in a temporary directory, edited by `edit`.
    func withCopy(_ edit: (String) throws -> Void, _ body: (String) throws -> Void) throws {
        let src = FixturePaths.checkpoints + "/openvla-tiny-llama"
        let dir = NSTemporaryDirectory() + "reflex-bad-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: src, toPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try edit(dir)
        try body(dir)
    }

    func editConfig(_ dir: String, _ change: (inout [String: Any]) -> Void) throws {
        let path = dir + "/config.json"
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        change(&obj)
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: path))
    }

    @Test func unknownModelTypeIsNamed() throws {
        try withCopy({ try editConfig($0) { $0["model_type"] = "llava" } }) { dir in
            #expect(throws: ModelError(file: dir + "/config.json", key: "model_type", "unknown model_type \"llava\" (supported: openvla)")) {
                try OpenVLALoader(directory: dir)
            }
        }
    }

    @Test func unknownBackboneWithoutVisionConfigs() throws {
        try withCopy({ try editConfig($0) { $0["vision_backbone_id"] = "clip-vit-l"; $0.removeValue(forKey: "vision_configs") } }) { dir in
            #expect(throws: ModelError(file: dir + "/config.json", key: "vision_backbone_id",
                                       "unknown backbone \"clip-vit-l\" and no vision_configs (known: dinosiglip-vit-so-224px, dinov2-vit-l, siglip-vit-so400m)")) {
                try OpenVLALoader(directory: dir)
            }
        }
    }

    @Test func shapeDisagreeingWithConfigNamesTheTensor() throws {
        try withCopy({ try editConfig($0) { c in
            var t = c["text_config"] as! [String: Any]
            t["intermediate_size"] = 96
            c["text_config"] = t
        } }) { dir in
            let loader = try OpenVLALoader(directory: dir)
            let name = "language_model.model.layers.0.mlp.gate_proj.weight"
            let file = dir + "/" + loader.weights.location[name]!
            #expect(throws: ModelError(file: file, key: name, "shape [128, 64] disagrees with config.json (expected [96, 64])")) {
                try loader.load()
            }
        }
    }

    @Test func missingTensorIsNamed() throws {
        let name = "language_model.model.norm.weight"
        try withCopy({ dir in
            let path = dir + "/model.safetensors.index.json"
            var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            var map = obj["weight_map"] as! [String: String]
            map.removeValue(forKey: name)
            obj["weight_map"] = map
            try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: path))
        }) { dir in
            #expect(throws: ModelError(file: dir, key: name, "tensor not found in the checkpoint")) {
                try OpenVLALoader(directory: dir).load()
            }
        }
    }

    @Test func severalDatasetsNeedAnUnnormKey() throws {
        let dir = FixturePaths.checkpoints + "/openvla-tiny-llama"
        let config = try OpenVLAConfig.load(directory: dir)
        let keys = config.normStats!.keys.sorted()
        #expect(keys.count >= 2)
        #expect(throws: ModelError(file: "cfg", key: "norm_stats",
                                   "checkpoint has \(keys.count) datasets; choose one with --unnorm-key (\(keys.joined(separator: ", ")))")) {
            try config.statistics(unnormKey: nil, path: "cfg")
        }
        #expect(throws: ModelError(file: "cfg", key: "norm_stats", "no dataset \"nope\" (available: \(keys.joined(separator: ", ")))")) {
            try config.statistics(unnormKey: "nope", path: "cfg")
        }
        #expect(try config.statistics(unnormKey: keys[0], path: "cfg") != nil)
    }

    @Test func truncatedShardIsRejectedBeforeUse() throws {
        try withCopy({ dir in
            let shard = dir + "/model-00002-of-00002.safetensors"
            let data = try Data(contentsOf: URL(fileURLWithPath: shard))
            try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: shard))
        }) { dir in
            #expect(throws: ModelError.self) { try OpenVLALoader(directory: dir) }
            do { _ = try OpenVLALoader(directory: dir) } catch let e as ModelError {
                #expect(e.file.hasSuffix("model-00002-of-00002.safetensors"))
                #expect(e.message.contains("outside the data section"))
            }
        }
    }
}

@Suite("config.json defaults")
struct ConfigDefaultsTests {
    /// A text_config with only the keys OpenVLA-7B's file carries decodes to LlamaConfig's defaults.
    @Test func sparseLlamaTextConfigUsesTransformersDefaults() throws {
        let json = #"{"model_type": "llama", "pad_token_id": 32000, "torch_dtype": "bfloat16", "vocab_size": 32064}"#
        let t = try JSONDecoder().decode(TextConfig.self, from: Data(json.utf8))
        #expect(t.vocabSize == 32064 && t.hiddenSize == 4096 && t.intermediateSize == 11008)
        #expect(t.numHiddenLayers == 32 && t.numAttentionHeads == 32 && t.kvHeads == 32)
        #expect(t.rmsNormEps == 1e-6 && t.theta == 10_000 && !t.tiedEmbeddings && !t.hasQKVBias)
    }
}
