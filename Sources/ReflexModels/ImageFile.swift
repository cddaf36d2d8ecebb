import CImageCodecs
import Foundation
import ReflexCore

/// Reads PNG and JPEG files (libpng / libjpeg-turbo) into ``RGBImage``.
public enum ImageFile {
    /// Decodes `path`; errors name the file.
    public static func read(_ path: String) throws -> RGBImage {
        var pixels: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = rk_decode_image_file(path, &pixels, &w, &h, &err, err.count)
        guard rc == 0, let pixels else {
            throw ModelError(file: path, String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { free(pixels) }
        let count = Int(w) * Int(h) * 3
        return try RGBImage(width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }

    /// Writes an RGB image as PNG.
    public static func writePNG(_ image: RGBImage, to path: String) throws {
        var err = [CChar](repeating: 0, count: 256)
        let rc = image.pixels.withUnsafeBufferPointer { rk_write_png(path, $0.baseAddress, Int32(image.width), Int32(image.height), &err, err.count) }
        guard rc == 0 else {
            throw ModelError(file: path, String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }
}
