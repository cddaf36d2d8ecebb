import Foundation
import Testing
@testable import ReflexCore
@testable import ReflexModels

/// Hostile checkpoints: every number and file the loader reads is validated where it is read, and
/// a bad one is a ``ModelError`` naming the file and the key, never a crash or a hang.
enum BadCheckpoint {
    /// A copy of fixture `name` in a temporary directory, edited by `edit`, removed after `body`.
    static func withCopy(fixture name: String = "openvla-tiny-llama", _ edit: (String) throws -> Void, _ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "reflex-hostile-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: FixturePaths.checkpoints + "/" + name, toPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try edit(dir)
        try body(dir)
    }

    /// Edits the JSON object in `dir/file`.
    static func editJSON(_ dir: String, _ file: String, _ change: (inout [String: Any]) -> Void) throws {
        let path = dir + "/" + file
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        change(&obj)
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: path))
    }

    /// Sets `value` at a dotted path such as `text_config.num_attention_heads` or
    /// `vision_configs.1.width` (numbers index arrays); nil removes the key.
    static func set(_ obj: inout [String: Any], _ path: String, _ value: Any?) {
        func go(_ node: Any, _ keys: ArraySlice<String>) -> Any? {
            let k = keys.first!
            if let i = Int(k), var arr = node as? [Any] {
                if keys.count == 1 { arr[i] = value ?? NSNull() } else { arr[i] = go(arr[i], keys.dropFirst())! }
                return arr
            }
            var dict = node as? [String: Any] ?? [:]
            if keys.count == 1 { dict[k] = value } else { dict[k] = go(dict[k] ?? [String: Any](), keys.dropFirst()) }
            return dict
        }
        obj = go(obj, ArraySlice(path.split(separator: ".").map(String.init))) as! [String: Any]
    }

    /// Loads the whole policy (config, weights, preprocessor, tokenizer, prompt) as `reflex predict` does.
    static func load(_ dir: String) throws {
        let loader = try OpenVLALoader(directory: dir)
        let tokenizer = try Tokenizer(directory: dir)
        let vla = try loader.load()
        let ids = try PromptBuilder(tokenizer: tokenizer, config: loader.config).ids("pick up the red block")
        try vla.checkPromptFits(promptTokens: ids.count)
        _ = tokenizer.decode(ids)
    }

    /// The ModelError that loading `dir` throws (an issue is recorded when it throws none or another).
    static func error(_ dir: String, sourceLocation: SourceLocation = #_sourceLocation) -> ModelError? {
        do {
            try load(dir)
            Issue.record("loaded without error", sourceLocation: sourceLocation)
        } catch let e as ModelError {
            return e
        } catch {
            Issue.record("not a ModelError: \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }
}

@Suite("Hostile config.json")
struct HostileConfigTests {
    /// (path to set, value, key the error must name, text the message must contain)
    struct Case: CustomTestStringConvertible, Sendable {
        let path: String
        let value: (any Sendable)?
        let key: String
        let message: String
        var testDescription: String { "\(path) = \(value.map { "\($0)" } ?? "removed")" }
        init(_ path: String, _ value: (any Sendable)?, key: String? = nil, _ message: String) {
            self.path = path
            self.value = value
            self.key = key ?? path.replacingOccurrences(of: #"\.(\d+)"#, with: "[$1]", options: .regularExpression)
            self.message = message
        }
    }

    static let cases: [Case] = [
        // text_config: the adversarial tester's crashes, and their class.
        Case("text_config.num_attention_heads", 0, "out of range"),
        Case("text_config.num_attention_heads", -4, "out of range"),
        Case("text_config.num_attention_heads", 3, "do not divide hidden_size 64"),
        Case("text_config.num_attention_heads", 64, key: "text_config.head_dim", "disagrees with hidden_size / num_attention_heads = 1"),
        Case("text_config.num_hidden_layers", -1, "out of range"),
        Case("text_config.num_hidden_layers", 0, "out of range"),
        Case("text_config.num_hidden_layers", 1 << 40, "out of range"),
        Case("text_config.hidden_size", 0, "out of range"),
        Case("text_config.hidden_size", 1 << 50, "out of range"),
        Case("text_config.intermediate_size", -128, "out of range"),
        Case("text_config.intermediate_size", 1 << 45, "out of range"),
        Case("text_config.vocab_size", 0, "out of range"),
        Case("text_config.vocab_size", 1 << 40, "out of range"),
        Case("text_config.num_key_value_heads", 0, "out of range"),
        Case("text_config.num_key_value_heads", 8, "out of range"),
        Case("text_config.num_key_value_heads", 3, "do not divide num_attention_heads 4"),
        Case("text_config.head_dim", 32, "disagrees with hidden_size / num_attention_heads = 16"),
        Case("text_config.rms_norm_eps", 0, "not a valid epsilon"),
        Case("text_config.rms_norm_eps", -1e-5, "not a valid epsilon"),
        Case("text_config.rms_norm_eps", 5.0, "not a valid epsilon"),
        Case("text_config.rope_theta", 0, "finite positive"),
        Case("text_config.rope_theta", -10000, "finite positive"),
        Case("text_config.max_position_embeddings", 10, "out of range"),
        Case("text_config.max_position_embeddings", 0, "out of range"),
        Case("text_config.hidden_act", "gelu", "unsupported activation"),
        Case("text_config.mlp_bias", true, "not supported"),
        Case("text_config.use_sliding_window", true, "sliding-window attention (window unset) is not supported"),
        Case("text_config.num_attention_heads", 2.5, "not an integer"),
        Case("text_config.num_attention_heads", 1e30, "not an integer"),
        Case("vision_configs.1.registers", 0.5, "not an integer"),
        Case("image_sizes.1", 1e20, "not an integer"),
        Case("text_config.rms_norm_eps", 1e39, "not a finite 32-bit float"),
        Case("norm_stats.tabletop_sim_tiny.action.q99.3", 1e300, key: "norm_stats.tabletop_sim_tiny.action.q99[3]", "not a finite 32-bit float"),
        Case("text_config.num_attention_heads", "four", "wrong type"),
        Case("text_config", nil, "missing"),
        // RoPE the runtime does not implement, old and new style.
        Case("text_config.rope_parameters", ["rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0] as [String: any Sendable],
             key: "text_config.rope_parameters.rope_type", "unsupported RoPE type \"llama3\""),
        Case("text_config.rope_parameters", ["rope_type": "yarn", "factor": 4.0] as [String: any Sendable],
             key: "text_config.rope_parameters.rope_type", "unsupported RoPE type \"yarn\""),
        Case("text_config.rope_scaling", ["type": "linear", "factor": 2.0] as [String: any Sendable],
             key: "text_config.rope_scaling.type", "unsupported RoPE type \"linear\""),
        Case("text_config.rope_scaling", ["rope_type": "dynamic", "factor": 2.0] as [String: any Sendable],
             key: "text_config.rope_scaling.rope_type", "unsupported RoPE type \"dynamic\""),
        Case("text_config.rope_parameters", ["rope_type": "default", "rope_theta": 500000.0] as [String: any Sendable],
             key: "text_config.rope_parameters.rope_theta", "disagrees with rope_theta 10000"),
        Case("text_config.rope_parameters", ["rope_type": "default", "rope_theta": -1.0] as [String: any Sendable],
             key: "text_config.rope_parameters.rope_theta", "finite positive"),
        Case("text_config.rope_parameters", ["rope_type": "default", "partial_rotary_factor": 0.5] as [String: any Sendable],
             key: "text_config.rope_parameters.partial_rotary_factor", "not supported"),
        // Vision encoders.
        Case("vision_configs.0.norm_eps", 0, "not a valid epsilon"),
        Case("vision_configs.1.norm_eps", -1, "not a valid epsilon"),
        Case("vision_configs.0.width", 0, "out of range"),
        Case("vision_configs.1.width", 1 << 40, "out of range"),
        Case("vision_configs.0.heads", 0, "out of range"),
        Case("vision_configs.0.heads", 3, "do not divide width 32"),
        Case("vision_configs.0.depth", 1, "out of range"),
        Case("vision_configs.0.depth", -3, "out of range"),
        Case("vision_configs.0.patch_size", 0, "out of range"),
        Case("vision_configs.0.patch_size", 15, "does not divide image_size 224"),
        Case("vision_configs.0.image_size", -224, "out of range"),
        Case("vision_configs.0.image_size", 1 << 30, "out of range"),
        Case("vision_configs.0.mlp_dim", 0, "out of range"),
        Case("vision_configs.0.registers", -1, "out of range"),
        Case("vision_configs.1.image_size", 112, "patches disagree"),
        Case("vision_configs.1.width", "wide", "wrong type"),
        Case("image_sizes", [224, 112], "disagree with the encoders' image sizes"),
        // Action tokens, vocabulary padding, statistics, prompt format.
        Case("n_action_bins", 0, "out of range"),
        Case("n_action_bins", -256, "out of range"),
        Case("action_tokenizer.n_bins", 0, "out of range"),
        Case("action_tokenizer.n_bins", 128, "disagrees with n_action_bins 256"),
        Case("action_tokenizer.token_end", 5000, "out of range"),
        Case("action_tokenizer.token_begin", -1, "out of range"),
        Case("action_tokenizer.vocab_size", 700, "disagrees with the token range"),
        Case("action_tokenizer.min_action", -2.0, "not supported"),
        Case("pad_to_multiple_of", -64, "out of range"),
        Case("pad_to_multiple_of", 832, "out of range"),
        Case("norm_stats.bridge_orig.action.q01", [0.0, 0.0], "2 entries"),
        Case("norm_stats.bridge_orig.action.q99.0", -1.0, key: "norm_stats.bridge_orig.action.q99[0]", "is below q01"),
        Case("prompt_format.image_insert_index", -1, "out of range"),
        Case("prompt_format.image_insert_index", 1 << 40, "out of range"),
        Case("prompt_format.append_token_id", 100_000, "out of range"),
        Case("prompt_format.append_token_id", -1, "out of range"),
        Case("prompt_format.template", "no placeholder", "no {instruction} placeholder"),
        Case("prompt_format.image_insert_index", 500, "is beyond the end of the"),
    ]

    @Test(arguments: cases)
    func rejectedWithFileAndKey(_ c: Case) throws {
        try BadCheckpoint.withCopy({ try BadCheckpoint.editJSON($0, "config.json") { BadCheckpoint.set(&$0, c.path, c.value) } }) { dir in
            let e = BadCheckpoint.error(dir)
            #expect(e?.file == dir + "/config.json")
            #expect(e?.key == c.key)
            #expect(e?.message.contains(c.message) == true, "\(e.map { "\($0)" } ?? "no error")")
        }
    }

    /// An action range that reaches past the vocabulary (only `vocab_size` given): named, not a
    /// crash in a slice or ActionTokenizer's "0 bins" message without a file.
    @Test func actionRangeOutsideTheVocabularyNamesItsKey() throws {
        try BadCheckpoint.withCopy({ try BadCheckpoint.editJSON($0, "config.json") { c in
            BadCheckpoint.set(&c, "action_tokenizer", ["n_bins": 256, "vocab_size": 100])
        } }) { dir in
            let e = BadCheckpoint.error(dir)
            #expect(e?.key == "action_tokenizer.vocab_size" && e?.message.contains("fall outside the vocabulary") == true, "\(String(describing: e))")
        }
    }

    /// ActionTokenizer's own refusal reaches the user with the file and the key, not as a bare
    /// "ActionTokenizer: … bins" message.
    @Test func actionTokenizerRefusalNamesFileAndKey() throws {
        try BadCheckpoint.withCopy({ try BadCheckpoint.editJSON($0, "config.json") { c in
            BadCheckpoint.set(&c, "action_tokenizer", ["n_bins": 256, "token_begin": 0, "token_end": 255, "vocab_size": 256])
        } }) { dir in
            let e = BadCheckpoint.error(dir)
            #expect(e?.file == dir + "/config.json" && e?.key == "action_tokenizer.n_bins", "\(String(describing: e))")
            #expect(e?.message.contains("256 bins need a vocabulary larger than 256") == true, "\(String(describing: e))")
        }
    }

    /// Not JSON, or JSON that is not an object: the error says so and never has an empty key.
    @Test(arguments: ["{\"model_type\": \"openvla\",", "[1, 2, 3]", "", "\"openvla\"", "{\"model_type\": \"openvla\"} trailing"])
    func unparseableConfigSaysSo(_ text: String) throws {
        try BadCheckpoint.withCopy({ try Data(text.utf8).write(to: URL(fileURLWithPath: $0 + "/config.json")) }) { dir in
            let e = BadCheckpoint.error(dir)
            #expect(e?.file == dir + "/config.json")
            #expect(e?.key == nil)
            #expect(e?.message.hasPrefix("not valid JSON: ") == true || e?.message.hasPrefix("not a JSON object") == true, "\(String(describing: e))")
            #expect(e.map { !"\($0)".contains(": : ") } ?? false)
        }
    }

    /// A Qwen2 fine-tune saved by transformers 5 keeps θ only in `rope_parameters`: it must be read
    /// (not silently replaced by 10000), and the model must still reproduce its reference.
    @Test func transformers5RopeParametersAreRead() throws {
        try BadCheckpoint.withCopy(fixture: "minivla-tiny-qwen", { try BadCheckpoint.editJSON($0, "config.json") { c in
            BadCheckpoint.set(&c, "text_config.rope_theta", nil)
            BadCheckpoint.set(&c, "text_config.rope_scaling", nil)
            BadCheckpoint.set(&c, "text_config.rope_parameters", ["rope_type": "default", "rope_theta": 1_000_000.0])
        } }) { dir in
            let config = try OpenVLAConfig.load(directory: dir)
            #expect(config.textConfig.theta == 1_000_000)
            let vla = try OpenVLALoader(directory: dir).load()
            #expect(vla.llm.rope.theta == 1_000_000)
        }
        // Old style: rope_theta only.
        let json = #"{"model_type": "qwen2", "rope_theta": 1000000.0, "rope_scaling": null}"#
        #expect(try JSONDecoder().decode(TextConfig.self, from: Data(json.utf8)).theta == 1_000_000)
        let v5 = #"{"model_type": "qwen2", "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}}"#
        #expect(try JSONDecoder().decode(TextConfig.self, from: Data(v5.utf8)).theta == 1_000_000)
    }
}

@Suite("Hostile preprocessor_config.json and tokenizer.json")
struct HostileSideFileTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let file: String
        let label: String
        let edit: @Sendable (inout [String: Any]) -> Void
        let key: String
        let message: String
        var testDescription: String { "\(file): \(label)" }
    }

    static let cases: [Case] = [
        Case(file: "preprocessor_config.json", label: "zero std", edit: { BadCheckpoint.set(&$0, "stds.0.1", 0) },
             key: "stds[0][1]", message: "must be at least 1e-4"),
        Case(file: "preprocessor_config.json", label: "negative std", edit: { BadCheckpoint.set(&$0, "stds.1.2", -0.5) },
             key: "stds[1][2]", message: "must be at least 1e-4"),
        Case(file: "preprocessor_config.json", label: "huge mean", edit: { BadCheckpoint.set(&$0, "means.0.0", 1e300) },
             key: "means[0][0]", message: "not a finite number"),
        Case(file: "preprocessor_config.json", label: "text mean", edit: { BadCheckpoint.set(&$0, "means.1.0", "half") },
             key: "means[1][0]", message: "not a finite number"),
        Case(file: "preprocessor_config.json", label: "one list for two encoders", edit: { BadCheckpoint.set(&$0, "means", [[0.5, 0.5, 0.5]]) },
             key: "means", message: "must be 2 lists"),
        Case(file: "preprocessor_config.json", label: "four channels", edit: { BadCheckpoint.set(&$0, "stds.0", [0.5, 0.5, 0.5, 0.5]) },
             key: "stds[0]", message: "list of 3 numbers"),
        Case(file: "preprocessor_config.json", label: "means without stds", edit: { BadCheckpoint.set(&$0, "stds", nil) },
             key: "stds", message: "must be 2 lists"),
        Case(file: "preprocessor_config.json", label: "input size", edit: { BadCheckpoint.set(&$0, "input_sizes.1", [3, 336, 336]) },
             key: "input_sizes[1]", message: "disagrees with config.json's image size 224"),
        Case(file: "preprocessor_config.json", label: "resize strategy", edit: { BadCheckpoint.set(&$0, "image_resize_strategy", "letterbox") },
             key: "image_resize_strategy", message: "unsupported"),
        Case(file: "tokenizer.json", label: "negative vocab id", edit: { BadCheckpoint.set(&$0, "model.vocab.▁the", -1) },
             key: "model.vocab.▁the", message: "not a token id"),
        Case(file: "tokenizer.json", label: "huge vocab id", edit: { BadCheckpoint.set(&$0, "model.vocab.▁the", 1e12) },
             key: "model.vocab.▁the", message: "not a token id"),
        Case(file: "tokenizer.json", label: "fractional vocab id", edit: { BadCheckpoint.set(&$0, "model.vocab.▁the", 7.5) },
             key: "model.vocab.▁the", message: "not a token id"),
        Case(file: "tokenizer.json", label: "duplicate vocab id", edit: { BadCheckpoint.set(&$0, "model.vocab.▁the", 1) },
             key: "model.vocab.▁the", message: "is also the id of"),
        Case(file: "tokenizer.json", label: "negative added token id", edit: { BadCheckpoint.set(&$0, "added_tokens.3.id", -3) },
             key: "added_tokens[3].id", message: "not a token id"),
        Case(file: "tokenizer.json", label: "malformed merge", edit: { BadCheckpoint.set(&$0, "model.merges.0", "▁t") },
             key: "model.merges[0]", message: "expected \"a b\""),
        Case(file: "tokenizer.json", label: "merge with an empty part", edit: { BadCheckpoint.set(&$0, "model.merges.2", "▁ ") },
             key: "model.merges[2]", message: "expected \"a b\""),
        Case(file: "tokenizer.json", label: "merge of unknown tokens", edit: { BadCheckpoint.set(&$0, "model.merges.1", "qqq zzz") },
             key: "model.merges[1]", message: "is not in model.vocab"),
        Case(file: "tokenizer.json", label: "merges not a list", edit: { BadCheckpoint.set(&$0, "model.merges", "a b") },
             key: "model.merges", message: "must be a list"),
        Case(file: "tokenizer.json", label: "negative Strip start", edit: { BadCheckpoint.set(&$0, "decoder.decoders.3.start", -1) },
             key: "decoder.decoders[3].start", message: "must be an integer in 0…1024"),
        Case(file: "tokenizer.json", label: "huge Strip stop", edit: { BadCheckpoint.set(&$0, "decoder.decoders.3.stop", 1e15) },
             key: "decoder.decoders[3].stop", message: "must be an integer in 0…1024"),
        Case(file: "tokenizer.json", label: "empty Metaspace replacement",
             edit: { BadCheckpoint.set(&$0, "pre_tokenizer", ["type": "Metaspace", "replacement": "", "prepend_scheme": "always"]) },
             key: "pre_tokenizer.replacement", message: "must be one character"),
        Case(file: "tokenizer.json", label: "empty Replace pattern", edit: { BadCheckpoint.set(&$0, "normalizer.normalizers.1.pattern", ["String": ""]) },
             key: "normalizer.normalizers[1].pattern", message: "empty pattern"),
        Case(file: "tokenizer.json", label: "negative special token id",
             edit: { BadCheckpoint.set(&$0, "post_processor.special_tokens.<s>.ids", [-1]) },
             key: "post_processor.special_tokens.<s>.ids[0]", message: "not a token id"),
        Case(file: "tokenizer.json", label: "id past the model's vocabulary", edit: { BadCheckpoint.set(&$0, "added_tokens.3.id", 5000) },
             key: "added_tokens[3].id", message: "outside the model's vocabulary of 832"),
        Case(file: "tokenizer.json", label: "BPE dropout", edit: { BadCheckpoint.set(&$0, "model.dropout", 0.1) },
             key: "model.dropout", message: "not supported"),
    ]

    @Test(arguments: cases)
    func rejectedWithFileAndKey(_ c: Case) throws {
        try BadCheckpoint.withCopy({ try BadCheckpoint.editJSON($0, c.file, c.edit) }) { dir in
            let e = BadCheckpoint.error(dir)
            #expect(e?.file == dir + "/" + c.file)
            #expect(e?.key == c.key)
            #expect(e?.message.contains(c.message) == true, "\(e.map { "\($0)" } ?? "no error")")
        }
    }

    @Test(arguments: ["tokenizer.json", "preprocessor_config.json", "model.safetensors.index.json"])
    func unparseableSideFileSaysSo(_ file: String) throws {
        try BadCheckpoint.withCopy({ try Data("{\"a\": ".utf8).write(to: URL(fileURLWithPath: $0 + "/" + file)) }) { dir in
            let e = BadCheckpoint.error(dir)
            #expect(e?.file == dir + "/" + file && e?.key == nil)
            #expect(e?.message.hasPrefix("not valid JSON: ") == true, "\(String(describing: e))")
        }
    }
}

@Suite("Checkpoint files that are not regular files")
struct NonRegularFileTests {
    /// Every file the loader opens, replaced by a FIFO: an error naming it, not a hang.
    @Test(arguments: [("openvla-tiny-llama", "config.json"), ("openvla-tiny-llama", "tokenizer.json"),
                      ("openvla-tiny-llama", "preprocessor_config.json"), ("openvla-tiny-llama", "model.safetensors.index.json"),
                      ("openvla-tiny-llama", "model-00002-of-00002.safetensors"), ("openvla-tiny-siglip", "model.safetensors")])
    func fifoIsRejected(_ fixture: String, _ file: String) throws {
        try BadCheckpoint.withCopy(fixture: fixture, { dir in
            try FileManager.default.removeItem(atPath: dir + "/" + file)
            #expect(mkfifo(dir + "/" + file, 0o600) == 0)
        }) { dir in
            #expect(throws: ModelError(file: dir + "/" + file, "not a regular file (a FIFO)")) { try BadCheckpoint.load(dir) }
        }
    }

    /// A symlink to a device is a device; a directory is not a file either.
    @Test func deviceAndDirectoryAreRejected() throws {
        try BadCheckpoint.withCopy(fixture: "openvla-tiny-siglip", { dir in
            try FileManager.default.removeItem(atPath: dir + "/model.safetensors")
            try FileManager.default.createSymbolicLink(atPath: dir + "/model.safetensors", withDestinationPath: "/dev/zero")
            try FileManager.default.removeItem(atPath: dir + "/tokenizer.json")
            try FileManager.default.createSymbolicLink(atPath: dir + "/tokenizer.json", withDestinationPath: "/dev/null")
        }) { dir in
            #expect(throws: ModelError(file: dir + "/model.safetensors", "not a regular file (a character device)")) { try OpenVLALoader(directory: dir) }
            #expect(throws: ModelError(file: dir + "/tokenizer.json", "not a regular file (a character device)")) { try Tokenizer(directory: dir) }
        }
        try BadCheckpoint.withCopy({ dir in
            try FileManager.default.removeItem(atPath: dir + "/config.json")
            try FileManager.default.createDirectory(atPath: dir + "/config.json", withIntermediateDirectories: false)
        }) { dir in
            #expect(throws: ModelError(file: dir + "/config.json", "not a regular file (a directory)")) { try BadCheckpoint.load(dir) }
        }
    }

    /// `reflex quantize` copies side files the loader never reads: a FIFO among them is an error too.
    @Test func quantizeRefusesAFIFOSideFile() throws {
        try BadCheckpoint.withCopy(fixture: "openvla-tiny-siglip", { dir in
            #expect(mkfifo(dir + "/tokenizer.model", 0o600) == 0)
        }) { dir in
            let out = dir + "/q"
            #expect(throws: ModelError(file: dir + "/tokenizer.model", "not a regular file (a FIFO)")) {
                try CheckpointQuantizer.quantize(source: dir, destination: out)
            }
        }
    }

    /// The image `reflex predict --image` reads: a FIFO is an error, not a hang.
    @Test func fifoImageIsRejected() throws {
        let path = NSTemporaryDirectory() + "reflex-fifo-\(UUID().uuidString).png"
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        #expect(throws: ModelError(file: path, "not a regular file (a FIFO)")) { try ImageFile.read(path) }
    }

    /// Symlinks to regular files (as the Hugging Face cache lays checkpoints out) are fine.
    @Test func symlinksToRegularFilesLoad() throws {
        let src = FixturePaths.checkpoints + "/openvla-tiny-llama"
        try BadCheckpoint.withCopy({ dir in
            for f in ["config.json", "tokenizer.json", "model-00001-of-00002.safetensors", "model.safetensors.index.json"] {
                try FileManager.default.removeItem(atPath: dir + "/" + f)
                try FileManager.default.createSymbolicLink(atPath: dir + "/" + f, withDestinationPath: src + "/" + f)
            }
        }) { dir in
            try BadCheckpoint.load(dir)
        }
    }
}

@Suite("Prompt length against the model's positions")
struct PromptLengthTests {
    static let dir = FixturePaths.checkpoints + "/openvla-tiny-llama"

    /// Too long for the positions: rejected by the prompt builder with the instruction length and
    /// the limit (256 image + 1024 text positions for this fixture), before the model runs.
    @Test func tooLongInstructionIsRejectedBeforeThePolicyRuns() throws {
        let policy = try VLAPolicy(directory: Self.dir, unnormKey: "bridge_orig")
        let image = try ImageFile.read(FixturePaths.checkpoints + "/images/scene_160x120.png")
        let long = Array(repeating: "pick up the red block", count: 300).joined(separator: " and ")
        #expect(policy.prompt.positionLimit == 1280 && policy.prompt.maxPromptTokens == 1280 - 256 - 7)
        do {
            _ = try policy.act(image, instruction: long)
            Issue.record("a \(long.count)-character instruction was accepted")
        } catch let e as TensorError {
            let text = "\(e)"
            #expect(text.contains("instruction of \(long.unicodeScalars.count) characters"), "\(text)")
            #expect(text.contains("limit of 1280 positions"), "\(text)")
        }
        // A prompt that just fits still runs.
        _ = try policy.act(image, instruction: "pick up the red block")
    }

    /// A multi-megabyte instruction is rejected from its length alone, without being tokenized.
    @Test func hugeInstructionIsRejectedWithoutEncoding() throws {
        let loader = try OpenVLALoader(directory: Self.dir)
        let prompt = try PromptBuilder(tokenizer: try Tokenizer(directory: Self.dir), config: loader.config)
        let huge = String(repeating: "x", count: 8 << 20)
        let start = ContinuousClock.now
        #expect(throws: TensorError.self) { try prompt.ids(huge) }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    /// The core check the model offers for callers that build ids themselves.
    @Test func modelChecksPositions() throws {
        let vla = try OpenVLALoader(directory: Self.dir).load()
        #expect(vla.maxPositions == 1280)
        try vla.checkPromptFits(promptTokens: 1280 - 256 - 7)
        #expect(throws: TensorError.invalidArgument("prompt of 1018 tokens + 256 image tokens + 7 action tokens = 1281 positions exceeds the model's limit of 1280 positions")) {
            try vla.checkPromptFits(promptTokens: 1018)
        }
    }
}

@Suite("Non-finite weights")
struct NonFiniteWeightTests {
    /// NaN and ±Inf in F32, BF16 and F16 tensors convert without trapping, and quantizing them
    /// (int8 at load) does not trap either: the policy's finite check deals with the outputs.
    @Test func conversionsSurviveNaNAndInf() throws {
        let bad: [Float] = [.nan, .infinity, -.infinity, 1, -2, .greatestFiniteMagnitude, -.signalingNaN, 0]
        let bf16 = bad.flatMap { v -> [UInt8] in let b = v.bitPattern >> 16; return [UInt8(b & 0xFF), UInt8(b >> 8)] }
        let f16 = bad.flatMap { v -> [UInt8] in let b = Float16(v).bitPattern; return [UInt8(b & 0xFF), UInt8(b >> 8)] }
        let w = SafeTensorsWriter(entries: [
            .f32("f32", shape: [2, 4], bad),
            .init(name: "bf16", dtype: .BF16, shape: [2, 4], data: bf16),
            .init(name: "f16", dtype: .F16, shape: [2, 4], data: f16),
        ], metadata: [:])
        let path = NSTemporaryDirectory() + "reflex-nan-\(UUID().uuidString).safetensors"
        try w.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        for name in ["f32", "bf16", "f16"] {
            let t = try file.floatTensor(name)
            #expect(t.scalars[0].isNaN && t.scalars[1] == .infinity && t.scalars[2] == -.infinity, "\(name)")
            let q = try QuantizedLinear(weight: t)
            _ = try q(Tensor(shape: [1, 4]) { Float($0) })
            _ = QuantizedRows(t)
        }
    }
}
