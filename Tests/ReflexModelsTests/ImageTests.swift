import Foundation
import Testing
@testable import ReflexCore
@testable import ReflexModels

@Suite("Image files and Pillow-exact resizing")
struct ImageTests {
    @Test(arguments: [(224, 224), (16, 10), (50, 31), (7, 90)])
    func bicubicResizeMatchesPillowByteForByte(_ size: (Int, Int)) throws {
        let src = try ImageFile.read(FixturePaths.local + "/resize_src.png")
        #expect(src.width == 83 && src.height == 61)
        let want = try ImageFile.read(FixturePaths.local + "/resize_\(size.0)x\(size.1).png")
        let got = try BicubicResize.resize(src, width: size.0, height: size.1)
        #expect(got.width == want.width && got.height == want.height)
        let diff = zip(got.pixels, want.pixels).filter { $0 != $1 }.count
        #expect(diff == 0, "\(diff) of \(want.pixels.count) bytes differ")
    }

    @Test func pngRoundTripAndJPEGDecode() throws {
        let img = try RGBImage(width: 5, height: 3, pixels: (0..<45).map { UInt8($0 * 5) })
        let path = NSTemporaryDirectory() + "reflex-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ImageFile.writePNG(img, to: path)
        #expect(try ImageFile.read(path) == img)
    }

    @Test func unreadableImagesNameTheFile() throws {
        let path = NSTemporaryDirectory() + "reflex-\(UUID().uuidString).png"
        FileManager.default.createFile(atPath: path, contents: Data("not an image".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ModelError(file: path, "not a PNG or JPEG file (unrecognised signature)")) { try ImageFile.read(path) }
        #expect(throws: ModelError(file: "/nonexistent.png", "cannot open: No such file or directory")) { try ImageFile.read("/nonexistent.png") }
        // A truncated PNG: valid signature, broken body.
        var png = try Data(contentsOf: URL(fileURLWithPath: FixturePaths.local + "/resize_src.png"))
        png = png.prefix(100)
        FileManager.default.createFile(atPath: path, contents: png)
        #expect(throws: ModelError.self) { try ImageFile.read(path) }
    }

    @Test func normalizationMatchesToTensorAndNormalize() throws {
        let img = try RGBImage(width: 2, height: 1, pixels: [0, 128, 255, 10, 20, 30])
        let t = img.normalized(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        #expect(t.shape == [3, 1, 2])
        #expect(abs(t[flat: 0] - (0 - 0.485) / 0.229) < 1e-6)
        #expect(abs(t[flat: 2] - (128 / 255 - 0.456) / 0.224) < 1e-6)
        #expect(abs(t[flat: 5] - (30 / 255 - 0.406) / 0.225) < 1e-6)
    }
}
