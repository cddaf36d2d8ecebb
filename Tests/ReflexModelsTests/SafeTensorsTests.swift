import Foundation
import Testing
@testable import ReflexCore
@testable import ReflexModels

@Suite("safetensors reader")
struct SafeTensorsTests {
    /// A temporary file holding `bytes`, removed after `body`.
    func withFile<R>(_ bytes: [UInt8], _ body: (String) throws -> R) throws -> R {
        let path = NSTemporaryDirectory() + "reflex-st-\(UUID().uuidString).safetensors"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try body(path)
    }

    /// A file image with a hand-written JSON header followed by `dataBytes` zero bytes.
    func image(header: String, dataBytes: Int) -> [UInt8] {
        let h = Array(header.utf8)
        var out = (0..<8).map { UInt8((UInt64(h.count) >> (8 * UInt64($0))) & 0xFF) }
        out += h
        out += [UInt8](repeating: 0, count: dataBytes)
        return out
    }

    @Test func readsEveryDtype() throws {
        let f: [Float] = [1.5, -2.25, 3e-5, 65504]
        let bf16: [UInt8] = f.flatMap { v -> [UInt8] in
            let b = v.bitPattern >> 16
            return [UInt8(b & 0xFF), UInt8(b >> 8)]
        }
        let f16: [UInt8] = f.flatMap { v -> [UInt8] in
            let b = Float16(v).bitPattern
            return [UInt8(b & 0xFF), UInt8(b >> 8)]
        }
        let w = SafeTensorsWriter(entries: [
            .f32("a.f32", shape: [2, 2], f),
            .init(name: "a.bf16", dtype: .BF16, shape: [4], data: bf16),
            .init(name: "a.f16", dtype: .F16, shape: [1, 4], data: f16),
            .i8("a.i8", shape: [3], [-127, 0, 127]),
            .init(name: "a.i32", dtype: .I32, shape: [1], data: [1, 0, 0, 0]),
            .init(name: "empty", dtype: .F32, shape: [0, 3], data: []),
        ], metadata: ["format": "pt"])
        try withFile(w.serialized()) { path in
            let file = try SafeTensorsFile(path: path)
            #expect(file.metadata == ["format": "pt"])
            #expect(file.tensors.count == 6)
            #expect(try file.floatTensor("a.f32").scalars == f)
            #expect(try file.floatTensor("a.f32").shape == [2, 2])
            // bf16 keeps the top 16 bits: exact for these values except 3e-5 (truncated mantissa).
            let b = try file.floatTensor("a.bf16").scalars
            #expect(b[0] == 1.5 && b[1] == -2.25 && b[3] == 65280)
            #expect(abs(b[2] - 3e-5) / 3e-5 < 0.01)
            #expect(try file.floatTensor("a.f16").scalars == f.map { Float(Float16($0)) })
            #expect(Array(file.bytes(try file.info("a.i8"))) == [0x81, 0x00, 0x7F])
            #expect(try file.floatTensor("empty").shape == [0, 3])
            #expect(throws: ModelError(file: path, key: "a.i8", "expected a floating-point tensor, found I8")) {
                try file.floatTensor("a.i8")
            }
            #expect(throws: ModelError(file: path, key: "nope", "tensor not found")) { try file.info("nope") }
        }
    }

    @Test(arguments: [
        ("header beyond file", [UInt8]([0xFF, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x7D]), "header length 255 at byte 0 exceeds the file (10 bytes)"),
        ("too short", [UInt8]([1, 2, 3]), "file is 3 bytes, shorter than the 8-byte header length"),
    ])
    func rejectsBrokenFraming(_ c: (String, [UInt8], String)) throws {
        try withFile(c.1) { path in
            #expect(throws: ModelError(file: path, c.2)) { try SafeTensorsFile(path: path) }
        }
    }

    @Test(arguments: [
        (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, 8, "w", "data_offsets [0, 16] outside the data section of 8 bytes"),
        (#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "w", "shape [3] × F32 needs 12 bytes, data_offsets give 8"),
        (#"{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, 8, "w", "unsupported dtype F64 (supported: F32, F16, BF16, I8, U8, I32)"),
        (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 8, "w", "shape must be a list of non-negative integers"),
        (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, 8, "w", "data_offsets [4, 0] outside the data section of 8 bytes"),
        (#"{"w":{"dtype":"F32","shape":[1]}}"#, 8, "w", "data_offsets must be [begin, end]"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "b", "data overlaps tensor a"),
    ])
    func rejectsInvalidEntries(_ c: (String, Int, String, String)) throws {
        try withFile(image(header: c.0, dataBytes: c.1)) { path in
            #expect(throws: ModelError(file: path, key: c.2, c.3)) { try SafeTensorsFile(path: path) }
        }
    }

    @Test func rejectsNonJSONHeader() throws {
        try withFile(image(header: "{not json", dataBytes: 0)) { path in
            #expect(throws: ModelError(file: path, "header (bytes 8..<17) is not valid JSON")) { try SafeTensorsFile(path: path) }
        }
    }

    /// Random and mutated headers: the parser must throw or return entries that lie inside the
    /// file, never crash.
    @Test func survivesRandomAndMutatedBytes() throws {
        var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
        let valid = SafeTensorsWriter(entries: [
            .f32("x", shape: [2, 3], [1, 2, 3, 4, 5, 6]), .i8("y", shape: [4], [1, 2, 3, 4]),
        ]).serialized()
        var accepted = 0
        for round in 0..<3000 {
            var bytes: [UInt8]
            if round % 3 == 0 {
                bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes = valid
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 3 {
                    case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: bytes.remove(at: i)
                    default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                    }
                }
            }
            let result = bytes.withUnsafeBytes { raw in Result { try SafeTensorsFile.parseHeader(raw, file: "fuzz") } }
            if case let .success((infos, _)) = result {
                accepted += 1
                for info in infos.values {
                    #expect(info.byteRange.upperBound <= bytes.count && info.byteRange.lowerBound >= 8)
                    #expect(info.byteRange.count == info.elementCount * info.dtype.size)
                }
            } else if case let .failure(error) = result {
                #expect(error is ModelError)
            }
        }
        #expect(accepted > 0)  // some mutations (e.g. of data bytes) leave a valid file
    }
}
