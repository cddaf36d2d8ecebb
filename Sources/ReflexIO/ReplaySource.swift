#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ReflexCore

/// Field recordings as a camera: a folder of PNG/JPEG frames played in name order at `fps`, looping.
/// Each frame's timestamp is when it "arrived", so the loop's stale-frame logic sees what it would see
/// with a camera delivering at that rate.
public final class ReplaySource: FrameSource {
    public let files: [String]
    public let fps: Double
    private let decode: (String) throws -> RGBImage
    private let start = monotonicSeconds()
    private var cache: (index: Int, image: RGBImage)?

    /// `decode` reads one image file (the CLI passes libpng/libjpeg through `ImageFile.read`).
    public init(directory: String, fps: Double, decode: @escaping (String) throws -> RGBImage) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        files = names.filter { ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            .map { directory + "/" + $0 }
        guard !files.isEmpty else { throw SerialError.closed(path: directory + " (no PNG/JPEG frames)") }
        self.fps = fps
        self.decode = decode
    }

    public func latest() throws -> CameraFrame? {
        let elapsed = monotonicSeconds() - start
        let n = Int(elapsed * fps)
        let index = n % files.count
        if cache?.index != index { cache = (index, try decode(files[index])) }
        return CameraFrame(image: cache!.image, timestamp: start + Double(n) / fps, sequence: n)
    }
}
