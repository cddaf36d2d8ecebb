import ArgumentParser
import Foundation
import ReflexCore
import ReflexIO
import ReflexModels

/// `reflex capture`: the first thing to run on a new camera.
struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grab frames from a V4L2 camera through the capture code the robot loop uses.",
        discussion: """
            Negotiates the format (the driver may grant another size or format: the granted one is reported),
            streams with mmap buffers through libv4l2 (RGB24 conversion), and reports the achieved frame rate
            and frame ages (capture timestamp → delivery). --out saves the frames as PNG.
            Exit codes: 0 frames captured, 1 the camera failed or delivered nothing, 2 bad flags.
            """
    )

    @Option(help: "V4L2 device node.")
    var device: String = "/dev/video0"

    @Option(help: "Requested width.") var width: Int = 640
    @Option(help: "Requested height.") var height: Int = 480
    @Option(help: "Requested FOURCC (YUYV, MJPG, RGB3, …).") var format: String = "YUYV"
    @Option(help: "Requested frames per second.") var fps: Int = 30
    @Option(help: "mmap buffers (2…4).") var buffers: Int = 3
    @Option(help: "Frames to grab.") var frames: Int = 30
    @Option(help: "Directory for PNG copies of the frames.") var out: String?
    @Option(name: .customLong("timeout-ms"), help: "Give up when no frame arrives for this long.") var timeoutMs: Int32 = 2000
    @Flag(help: "Print one JSON object on stdout.") var json = false

    func validate() throws {
        guard format.utf8.count == 4 else { throw ValidationError("--format: a FOURCC is 4 characters, got '\(format)'") }
        guard (2...4).contains(buffers) else { throw ValidationError("--buffers must be 2…4, got \(buffers)") }
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
    }

    func run() throws {
        let cam: V4L2Camera
        do {
            cam = try V4L2Camera(device: device, width: width, height: height, fps: fps, pixelFormat: format, buffers: buffers)
        } catch let e as CameraError {
            throw CLIError.runtime(e.description)
        }
        let f = cam.format
        log.info("\(device): asked \(width)x\(height) \(format) @\(fps); driver granted \(f.width)x\(f.height) \(f.nativeFourCC) @\(String(format: "%.1f", f.fps)), \(f.buffers) buffers; RGB24 via libv4l2")
        if let out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        var ages: [Double] = [], sequences: [Int] = []
        var first = 0.0, last = 0.0
        do {
            while sequences.count < frames {
                guard let fr = try cam.grab(timeoutMs: timeoutMs) else {
                    throw CLIError.runtime("\(device): no frame within \(timeoutMs) ms (after \(sequences.count) frames)")
                }
                let now = monotonicSeconds()
                if sequences.isEmpty { first = now }
                last = now
                ages.append((now - fr.timestamp) * 1000)
                sequences.append(fr.sequence)
                if let out { try ImageFile.writePNG(fr.image, to: String(format: "%@/frame_%04d.png", out, sequences.count - 1)) }
            }
        } catch let e as CameraError {
            throw CLIError.runtime(e.description)
        }
        let rate = sequences.count > 1 ? Double(sequences.count - 1) / (last - first) : 0
        let dropped = zip(sequences.dropFirst(), sequences).map { $0 - $1 - 1 }.reduce(0, +)
        if json {
            struct Out: Encodable {
                var device: String; var requested: [String: String]; var granted: CameraFormat
                var frames: Int; var fps: Double; var dropped: Int; var frameAgeMs: [String: Double]; var saved: String?
                enum CodingKeys: String, CodingKey { case device, requested, granted, frames, fps, dropped, saved; case frameAgeMs = "frame_age_ms" }
            }
            try printJSON(Out(device: device, requested: ["width": "\(width)", "height": "\(height)", "format": format, "fps": "\(fps)"],
                              granted: f, frames: sequences.count, fps: rate, dropped: dropped,
                              frameAgeMs: ["p50": percentile(ages, 50), "p95": percentile(ages, 95), "max": ages.max() ?? 0], saved: out))
        } else {
            print("granted: \(f.width)x\(f.height) \(f.nativeFourCC) (\(f.buffers) buffers), RGB24 out")
            print(String(format: "frames: %d at %.1f fps, %d dropped by sequence number, frame age p50 %.1f ms, max %.1f ms",
                         sequences.count, rate, dropped, percentile(ages, 50), ages.max() ?? 0))
            if let out { print("saved: \(out)") }
        }
    }
}
