import Foundation
import Testing
@testable import ReflexCore
@testable import ReflexModels

/// Bad image files are named errors, never a crash, a hang or gigabytes of memory (issue 15, classes 1,
/// 2 and 10). The corrupt variants are made here from the committed fixtures.
@Suite("Corrupt, oversized and non-regular image files")
struct CorruptImageTests {
    static let jpeg = FixturePaths.checkpoints + "/images/scene_288x216.jpg"
    static let png = FixturePaths.checkpoints + "/images/scene_160x120.png"

    /// A scratch file holding `bytes`, removed after `body`.
    func withFile<T>(_ bytes: Data, ext: String = "jpg", _ body: (String) throws -> T) rethrows -> T {
        let path = NSTemporaryDirectory() + "reflex-\(UUID().uuidString).\(ext)"
        FileManager.default.createFile(atPath: path, contents: bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try body(path)
    }

    func message(_ body: () throws -> Any) -> String? {
        do { _ = try body(); return nil } catch let e as ModelError { return e.description } catch { return "\(type(of: error)): \(error)" }
    }

    @Test func truncatedJPEGIsANamedError() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: Self.jpeg))
        #expect(try ImageFile.read(Self.jpeg).width == 288)
        // libjpeg reports a truncated stream as a warning ("Premature end of JPEG file") and would fill the
        // rest with grey; the warning hook used to be NULL (SIGSEGV).
        for keep in [3, 20, 200, full.count / 2, full.count - 2] {
            try withFile(full.prefix(keep)) { path in
                let m = message { try ImageFile.read(path) }
                #expect(m?.hasPrefix("\(path): invalid JPEG: ") == true, "\(keep) bytes: \(m ?? "decoded")")
            }
        }
        try withFile(full.prefix(full.count / 2)) { path in
            #expect(message { try ImageFile.read(path) } == "\(path): invalid JPEG: Premature end of JPEG file")
        }
    }

    @Test func flippedBytesNeverCrash() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: Self.jpeg))
        var errors = 0
        // Deterministic flips over the whole file: header, tables and entropy-coded data.
        for i in stride(from: 2, to: full.count, by: max(1, full.count / 97)) {
            var bad = full
            bad[i] ^= 0xFF
            try withFile(bad) { path in
                do {
                    let img = try ImageFile.read(path)
                    #expect(img.pixels.count == img.width * img.height * 3)
                } catch let e as ModelError {
                    #expect(e.file == path)
                    errors += 1
                }
            }
        }
        #expect(errors > 0)
        // A flipped byte in the entropy-coded data: a corrupt-data warning becomes the error.
        var bad = full
        for i in (full.count - 400)..<(full.count - 300) { bad[i] ^= 0x55 }
        try withFile(bad) { path in
            let m = message { try ImageFile.read(path) }
            #expect(m?.hasPrefix("\(path): invalid JPEG: ") == true, "\(m ?? "decoded")")
        }
    }

    @Test func emptyAndTinyFilesAreNamed() throws {
        try withFile(Data()) { path in #expect(message { try ImageFile.read(path) } == "\(path): empty file") }
        try withFile(Data([0xFF, 0xD8, 0xFF])) { path in
            #expect(message { try ImageFile.read(path) }?.hasPrefix("\(path): invalid JPEG: ") == true)
        }
        let png = try Data(contentsOf: URL(fileURLWithPath: Self.png))
        try withFile(png.prefix(8), ext: "png") { path in
            #expect(message { try ImageFile.read(path) }?.hasPrefix("\(path): invalid PNG: ") == true)
        }
    }

    /// A PNG whose IHDR declares `width`×`height` (with a correct CRC) followed by a tiny IDAT.
    static func pngDeclaring(width: UInt32, height: UInt32) -> Data {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let t = Array(type.utf8)
            return be(UInt32(body.count)) + t + body + be(crc32(t + body))
        }
        let ihdr = be(width) + be(height) + [8, 2, 0, 0, 0]
        let idat: [UInt8] = [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", []))
    }

    /// CRC-32 (ISO-HDLC), as PNG chunks use.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    @Test func oversizedImagesAreRefusedFromTheHeader() throws {
        #expect(Self.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        try withFile(Self.pngDeclaring(width: 20000, height: 20000), ext: "png") { path in
            let t0 = monotonicNanos()
            #expect(message { try ImageFile.read(path) } == "\(path): image declares 20000x20000 = 400000000 pixels, more than the limit of 40000000 (--max-image-pixels / REFLEX_MAX_IMAGE_PIXELS)")
            #expect(monotonicNanos() - t0 < 1_000_000_000)
            // Under the limit the same header is read and the body is what fails.
            #expect(message { try ImageFile.read(path, maxPixels: 500_000_000) }?.hasPrefix("\(path): invalid PNG") == true)
        }
        // A JPEG: patch the SOF0 frame size (height, width are the big-endian u16s after the precision byte).
        var jpeg = try Data(contentsOf: URL(fileURLWithPath: Self.jpeg))
        let sof = try #require((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC2) })
        jpeg[sof + 5] = 0xEA; jpeg[sof + 6] = 0x60  // height 60000
        jpeg[sof + 7] = 0xEA; jpeg[sof + 8] = 0x60  // width 60000
        try withFile(jpeg) { path in
            #expect(message { try ImageFile.read(path) } == "\(path): image declares 60000x60000 = 3600000000 pixels, more than the limit of 40000000 (--max-image-pixels / REFLEX_MAX_IMAGE_PIXELS)")
        }
        // The limit is the caller's: the real 288×216 fixture fails a 60,000-pixel limit.
        #expect(message { try ImageFile.read(Self.jpeg, maxPixels: 60_000) }?.contains("288x216 = 62208 pixels") == true)
        #expect(message { try VideoFile(path: FixturePaths.checkpoints + "/video/clip_ffv1.mkv", maxPixels: 100) }?.contains("more than the limit of 100") == true)
    }

    @Test func onlyRegularFilesAreRead() throws {
        let dir = NSTemporaryDirectory() + "reflex-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/frame.png", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(message { try ImageFile.read(dir + "/frame.png") } == "\(dir)/frame.png: not a regular file (a directory)")
        // A FIFO with no writer: opening it for reading would block forever.
        let fifo = dir + "/fifo.jpg"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(message { try ImageFile.read(fifo) } == "\(fifo): not a regular file (a FIFO)")
        #expect(message { try VideoFile(path: fifo) } == "\(fifo): not a regular file (a FIFO)")
    }
}
