import Foundation
import Testing
@testable import ReflexCore
@testable import ReflexModels

/// A broken model never turns into motion (issue 15, class 3): NaN weights make the logits NaN, and a
/// plain argmax over NaN returns id 0, which the action tokenizer decodes as the top bin (+0.996 on every
/// axis). Prediction must fail instead.
@Suite("Broken models fail instead of acting")
struct BrokenModelTests {
    /// A copy of the tiny Llama fixture whose tensor `name` is overwritten with `value` in place (F32 or BF16).
    func withPoisonedCopy(_ name: String, _ value: Float, _ body: (String) throws -> Void) throws {
        let src = FixturePaths.checkpoints + "/openvla-tiny-llama"
        let dir = NSTemporaryDirectory() + "reflex-nan-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: src, toPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))) as! [String: Any]
        let shard = dir + "/" + ((index["weight_map"] as! [String: String])[name]!)
        var data = try Data(contentsOf: URL(fileURLWithPath: shard))
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        let entry = header[name] as! [String: Any]
        let offsets = entry["data_offsets"] as! [Int]
        let bits: [UInt8]
        switch entry["dtype"] as? String {
        case "F32": bits = withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
        case "BF16": bits = withUnsafeBytes(of: UInt16(value.bitPattern >> 16).littleEndian) { Array($0) }
        default: Issue.record("unexpected dtype \(entry["dtype"] ?? "-")"); return
        }
        for at in stride(from: 8 + headerLength + offsets[0], to: 8 + headerLength + offsets[1], by: bits.count) {
            data.replaceSubrange(at..<(at + bits.count), with: bits)
        }
        try data.write(to: URL(fileURLWithPath: shard))
        try body(dir)
    }

    @Test(arguments: [Float.nan, .infinity])
    func nonFiniteWeightsAreAPolicyError(_ value: Float) throws {
        try withPoisonedCopy("language_model.model.norm.weight", value) { dir in
            let policy = try VLAPolicy(directory: dir, unnormKey: "bridge_orig")
            let image = try RGBImage(width: 32, height: 24, pixels: (0..<(32 * 24 * 3)).map { UInt8($0 % 251) })
            for actionTokensOnly in [false, true] {
                #expect(throws: PolicyError.nonFiniteLogits(step: 0)) {
                    _ = try policy.model.predict(image: image, promptIds: policy.prompt.ids("pick up the cube"), actionTokensOnly: actionTokensOnly)
                }
            }
            #expect(throws: PolicyError.nonFiniteLogits(step: 0)) { try policy.act(image, instruction: "pick up the cube") }
        }
    }

    @Test func aTokenOutsideTheActionRangeIsAPolicyError() throws {
        let policy = try VLAPolicy(directory: FixturePaths.checkpoints + "/openvla-tiny-llama", unnormKey: "bridge_orig")
        let vla = policy.model
        let range = vla.actionTokenizer.tokenRange
        var row = [Float](repeating: 0, count: vla.llm.config.vocabSize)
        row[3] = 5  // the best id is 3, a text token
        let logits = try Tensor(shape: [1, row.count], values: row)
        #expect(throws: PolicyError.notAnActionToken(step: 2, token: 3, range: range)) { try vla.argmax(logits, false, step: 2) }
        #expect(try vla.argmax(logits, true, step: 2) == range.lowerBound)  // restricted: ties → the first action id
        row[range.upperBound - 1] = 6
        #expect(try vla.argmax(try Tensor(shape: [1, row.count], values: row), false, step: 0) == range.upperBound - 1)
        row[10] = .nan
        #expect(throws: PolicyError.nonFiniteLogits(step: 0)) { try vla.argmax(try Tensor(shape: [1, row.count], values: row), false, step: 0) }
        #expect(PolicyError.notAnActionToken(step: 2, token: 3, range: range).description
                == "policy output is not an action: action token 3 is id 3, outside the action-token ids \(range.lowerBound)…\(range.upperBound - 1); no action")
    }
}
