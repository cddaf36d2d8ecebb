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
            Negotiates the format (the driver may grant another size or format: the granted one is reported), \
            streams with mmap buffers through libv4l2 (RGB24 conversion), and reports the achieved frame rate \
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
    @Option(name: .customLong("newest-interval-ms"), help: "Read through the capture thread (newest frame only) every N ms instead of dequeuing every frame; reports skipped frames and ages.")
    var newestIntervalMs: Int?
    @Flag(help: "Print one JSON object on stdout.") var json = false

    func validate() throws {
        guard format.utf8.count == 4 else { throw ValidationError("--format: a FOURCC is 4 characters, got '\(format)'") }
        guard (2...4).contains(buffers) else { throw ValidationError("--buffers must be 2…4, got \(buffers)") }
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
        // The same ranges a board profile's camera section takes.
        guard (16...8192).contains(width) else { throw ValidationError("--width must be 16…8192, got \(width)") }
        guard (16...8192).contains(height) else { throw ValidationError("--height must be 16…8192, got \(height)") }
        guard (1...240).contains(fps) else { throw ValidationError("--fps must be 1…240, got \(fps)") }
        guard timeoutMs > 0 else { throw ValidationError("--timeout-ms must be positive, got \(timeoutMs)") }
        if let newestIntervalMs, newestIntervalMs < 1 { throw ValidationError("--newest-interval-ms must be positive, got \(newestIntervalMs)") }
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
        var colour = ColourSummary(channelMeans: [], colorfulness: 0)
        func record(_ fr: CameraFrame) throws {
            let now = monotonicSeconds()
            if sequences.isEmpty { first = now }
            last = now
            ages.append((now - fr.timestamp) * 1000)
            sequences.append(fr.sequence)
            if let out { try ImageFile.writePNG(fr.image, to: String(format: "%@/frame_%04d.png", out, sequences.count - 1)) }
            colour = ColourSummary(fr.image)
        }
        do {
            if let interval = newestIntervalMs {
                // The robot loop's path: the capture thread keeps the newest frame; a slow reader skips frames.
                cam.start()
                defer { cam.stop() }
                let started = monotonicSeconds()
                let deadline = started + Double(timeoutMs) / 1000 + Double(frames * interval) / 1000 * 2
                while sequences.count < frames && monotonicSeconds() < deadline {
                    usleep(UInt32(interval * 1000))
                    if let fr = try cam.latest(), fr.sequence != sequences.last { try record(fr) }
                }
                if sequences.count < frames {
                    throw CLIError.runtime("\(device): only \(sequences.count) frames through the capture thread in \(String(format: "%.1f", monotonicSeconds() - started)) s (lost: \(cam.lost), reconnects: \(cam.reconnects), last sequences: \(sequences.suffix(8)))")
                }
            } else {
                while sequences.count < frames {
                    guard let fr = try cam.grab(timeoutMs: timeoutMs) else {
                        throw CLIError.runtime("\(device): no frame within \(timeoutMs) ms (after \(sequences.count) frames)")
                    }
                    try record(fr)
                }
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
                var sequences: [Int]; var reconnects: Int; var channelMeans: [Double]; var colorfulness: Double
                enum CodingKeys: String, CodingKey {
                    case device, requested, granted, frames, fps, dropped, saved, sequences, reconnects, colorfulness
                    case channelMeans = "channel_means", frameAgeMs = "frame_age_ms"
                }
            }
            try printJSON(Out(device: device, requested: ["width": "\(width)", "height": "\(height)", "format": format, "fps": "\(fps)"],
                              granted: f, frames: sequences.count, fps: rate, dropped: dropped,
                              frameAgeMs: ["p50": percentile(ages, 50), "p95": percentile(ages, 95), "max": ages.max() ?? 0], saved: out,
                              sequences: sequences, reconnects: cam.reconnects, channelMeans: colour.channelMeans, colorfulness: colour.colorfulness))
        } else {
            print("granted: \(f.width)x\(f.height) \(f.nativeFourCC) (\(f.buffers) buffers), RGB24 out")
            print(String(format: "frames: %d at %.1f fps, %d dropped by sequence number, frame age p50 %.1f ms, max %.1f ms",
                         sequences.count, rate, dropped, percentile(ages, 50), ages.max() ?? 0))
            if let out { print("saved: \(out)") }
        }
    }
}

/// The last frame's colour: mean of each RGB channel and the mean per-pixel spread
/// max(r,g,b) − min(r,g,b) (0 for grey images, large for colour bars), so a test can tell that a
/// converted test pattern really is in colour.
struct ColourSummary {
    var channelMeans: [Double]
    var colorfulness: Double

    init(channelMeans: [Double], colorfulness: Double) {
        self.channelMeans = channelMeans
        self.colorfulness = colorfulness
    }

    init(_ img: RGBImage) {
        var sums = [0.0, 0.0, 0.0]
        var spread = 0.0
        for i in stride(from: 0, to: img.pixels.count, by: 3) {
            let r = img.pixels[i], g = img.pixels[i + 1], b = img.pixels[i + 2]
            sums[0] += Double(r); sums[1] += Double(g); sums[2] += Double(b)
            spread += Double(max(r, g, b) - min(r, g, b))
        }
        let n = Double(img.width * img.height)
        self.init(channelMeans: sums.map { $0 / n }, colorfulness: spread / n)
    }
}
