import CImageCodecs
import Foundation
import ReflexCore

/// Reads PNG and JPEG files (libpng / libjpeg-turbo) into ``RGBImage``.
public enum ImageFile {
    /// The default largest image, in pixels, that any command decodes (`--max-image-pixels`,
    /// `REFLEX_MAX_IMAGE_PIXELS`): 40 megapixels, 120 MB of RGB.
    public static let defaultMaxPixels = 40_000_000

    /// Decodes `path`; errors name the file. Regular files only; an image whose header declares more
    /// than `maxPixels` pixels is refused before its pixels are allocated; corrupt or truncated data
    /// is an error, never a partly made-up image.
    public static func read(_ path: String, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        var pixels: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = rk_decode_image_file(path, UInt64(max(maxPixels, 0)), &pixels, &w, &h, &err, err.count)
        guard rc == 0, let pixels else {
            throw ModelError(file: path, message(err))
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
            throw ModelError(file: path, message(err))
        }
    }
}

/// Writes an animated GIF (giflib), one frame at a time: the recording `reflex run` leaves for a
/// person to watch.
public final class GIFRecorder {
    public let path: String
    public let width: Int
    public let height: Int
    public private(set) var frames = 0
    private var handle: OpaquePointer?

    /// `frameDelay` is each frame's display time in seconds (rounded to 1/100 s).
    public init(path: String, width: Int, height: Int, frameDelay: Double) throws {
        var err = [CChar](repeating: 0, count: 256)
        guard let h = rk_gif_open(path, Int32(width), Int32(height), Int32((frameDelay * 100).rounded()), &err, err.count) else {
            throw ModelError(file: path, message(err))
        }
        self.path = path
        self.width = width
        self.height = height
        handle = h
    }

    public func add(_ image: RGBImage) throws {
        guard let handle else { throw ModelError(file: path, "recording already closed") }
        guard image.width == width, image.height == height else {
            throw ModelError(file: path, "frame is \(image.width)×\(image.height), recording is \(width)×\(height)")
        }
        var err = [CChar](repeating: 0, count: 256)
        let rc = image.pixels.withUnsafeBufferPointer { rk_gif_add_frame(handle, $0.baseAddress, &err, err.count) }
        guard rc == 0 else { throw ModelError(file: path, message(err)) }
        frames += 1
    }

    /// Finishes the file.
    public func close() throws {
        guard let h = handle else { return }
        handle = nil
        var err = [CChar](repeating: 0, count: 256)
        guard rk_gif_close(h, &err, err.count) == 0 else {
            throw ModelError(file: path, message(err))
        }
    }

    deinit { try? close() }
}

/// A video file (field recording) decoded frame by frame through FFmpeg, as RGB24. Sequential: `frame(_:)`
/// decodes forward, rewinds when asked for an earlier frame, and loops past the end.
public final class VideoFile {
    public let path: String
    public let width: Int
    public let height: Int
    /// Frames per second from the container (0 if it does not say).
    public let fps: Double
    /// Frames in the file once known (from the container, or after the first pass).
    public private(set) var frameCount: Int?
    private var handle: OpaquePointer?
    private var cursor = 0
    private var current: RGBImage?

    /// Opens `path` (a regular file); frames larger than `maxPixels` are refused here.
    public init(path: String, maxPixels: Int = ImageFile.defaultMaxPixels) throws {
        var w: Int32 = 0, h: Int32 = 0, rate = 0.0, n = 0
        var err = [CChar](repeating: 0, count: 256)
        guard let v = rk_video_open(path, UInt64(max(maxPixels, 0)), &w, &h, &rate, &n, &err, err.count) else {
            var text = message(err)
            if text.hasPrefix(path + ": ") { text.removeFirst(path.count + 2) }  // the error names the file once
            throw ModelError(file: path, text)
        }
        self.path = path
        handle = v
        width = Int(w)
        height = Int(h)
        fps = rate
        frameCount = n > 0 ? n : nil
    }

    deinit { rk_video_close(handle) }

    /// The next frame, or nil at the end of the file.
    public func next() throws -> RGBImage? {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        var seconds = 0.0
        var err = [CChar](repeating: 0, count: 256)
        let rc = pixels.withUnsafeMutableBufferPointer { rk_video_next(handle, $0.baseAddress, &seconds, &err, err.count) }
        if rc < 0 { throw ModelError(file: path, message(err)) }
        if rc == 0 { return nil }
        cursor += 1
        return try RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Back to the first frame.
    public func rewind() throws {
        guard rk_video_rewind(handle) == 0 else { throw ModelError(file: path, "cannot seek back to the start") }
        cursor = 0
        current = nil
    }

    /// Frame `n` of an endless loop over the file.
    public func frame(_ n: Int) throws -> RGBImage {
        let target = frameCount.map { n % $0 } ?? n
        if let current, cursor - 1 == target { return current }
        if target < cursor { try rewind() }
        while cursor <= target {
            guard let f = try next() else {
                guard cursor > 0 else { throw ModelError(file: path, "the video has no frames") }
                frameCount = cursor
                return try frame(n)
            }
            current = f
        }
        return current!
    }
}

/// The NUL-terminated message a C codec wrote into `err`.
private func message(_ err: [CChar]) -> String {
    String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
