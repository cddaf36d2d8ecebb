#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ReflexCore

/// Field recordings as a camera: a folder of PNG/JPEG frames (name order) or a video file, played at
/// `fps` and looping. Each frame's timestamp is when it "arrived", so the loop's stale-frame logic sees
/// what it would see with a camera delivering at that rate.
public final class ReplaySource: FrameSource {
    public let fps: Double
    /// Frame `n` of the endless replay (the CLI decodes with libpng/libjpeg or FFmpeg).
    private let frame: (Int) throws -> RGBImage
    private let start = monotonicSeconds()
    private var cache: (index: Int, image: RGBImage)?

    public init(fps: Double, frame: @escaping (Int) throws -> RGBImage) {
        self.fps = fps
        self.frame = frame
    }

    /// PNG/JPEG files of `directory` in name order; `decode` reads one file.
    public convenience init(directory: String, fps: Double, decode: @escaping (String) throws -> RGBImage) throws {
        let files = Self.imageFiles(in: directory)
        guard !files.isEmpty else { throw CameraError(device: directory, message: "no PNG/JPEG frames") }
        self.init(fps: fps) { try decode(files[$0 % files.count]) }
    }

    /// The PNG/JPEG files of a folder, sorted by name.
    public static func imageFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            .map { directory + "/" + $0 }
    }

    public func latest() throws -> CameraFrame? {
        let elapsed = monotonicSeconds() - start
        let n = Int(elapsed * fps)
        if cache?.index != n { cache = (n, try frame(n)) }
        return CameraFrame(image: cache!.image, timestamp: start + Double(n) / fps, sequence: n)
    }
}
