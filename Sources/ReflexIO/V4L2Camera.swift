#if canImport(Glibc)
import Glibc
#endif
import CV4L2
import Foundation
import ReflexCore

/// Why a camera could not be used; names the device and the failing step.
public struct CameraError: Error, CustomStringConvertible {
    public let device: String
    public let message: String
    public var description: String { "camera \(device): \(message)" }
}

/// What the driver granted after negotiation.
public struct CameraFormat: Sendable, Codable, Equatable {
    public var width: Int
    public var height: Int
    /// The driver's (native) pixel format, e.g. YUYV or MJPG.
    public var nativeFourCC: String
    /// Frames per second the driver reports (0 if it does not say).
    public var fps: Double
    public var buffers: Int
}

/// A V4L2 camera through libv4l2: mmap streaming, RGB24 conversion by libv4lconvert, and a capture
/// thread that keeps only the newest frame with its monotonic timestamp. If the device vanishes
/// (USB reset, unplug) `latest()` returns nil (the loop holds) while the thread reopens it with
/// exponential backoff.
public final class V4L2Camera: FrameSource, @unchecked Sendable {
    public let device: String
    public let requested: (width: Int, height: Int, fps: Int, fourcc: String, buffers: Int)
    public private(set) var format: CameraFormat
    private var fd: Int32 = -1
    private var maps: [(UnsafeMutableRawPointer, Int)] = []
    private let lock = NSLock()
    private var newest: CameraFrame?
    private var thread: Thread?
    private var running = false
    /// Reconnects made after the device was lost (for status and tests).
    public private(set) var reconnects = 0
    public private(set) var lost = false

    /// Opens and configures the device and starts streaming (no thread yet: see `start()`).
    public init(device: String, width: Int, height: Int, fps: Int, pixelFormat: String, buffers: Int) throws {
        self.device = device
        requested = (width, height, fps, pixelFormat, buffers)
        format = CameraFormat(width: 0, height: 0, nativeFourCC: "", fps: 0, buffers: 0)
        try open()
    }

    deinit { stop(); close() }

    static func fourcc(_ s: String) -> UInt32 {
        let b = Array(s.utf8) + [32, 32, 32, 32]
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    static func fourccString(_ v: UInt32) -> String {
        String(decoding: [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)], as: UTF8.self)
    }

    private func fail(_ what: String) -> CameraError {
        CameraError(device: device, message: "\(what): \(String(cString: strerror(errno)))")
    }

    private func xioctl(_ request: UInt, _ arg: UnsafeMutableRawPointer) -> Int32 {
        var r: Int32
        repeat { r = rk_v4l2_ioctl(fd, request, arg) } while r == -1 && errno == EINTR
        return r
    }

    private func open() throws {
        fd = rk_v4l2_open(device, O_RDWR | O_NONBLOCK)
        guard fd >= 0 else { throw fail("cannot open") }
        var cap = v4l2_capability()
        guard xioctl(rk_vidioc_querycap(), &cap) == 0 else { let e = fail("not a V4L2 device (VIDIOC_QUERYCAP)"); close(); throw e }
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        guard caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0, caps & UInt32(V4L2_CAP_STREAMING) != 0 else {
            close()
            throw CameraError(device: device, message: "not a streaming video capture device (capabilities 0x\(String(caps, radix: 16)))")
        }
        // 1. The native format: ask for the requested FOURCC and size, read back what the driver granted.
        var f = v4l2_format()
        f.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        f.fmt.pix.width = UInt32(requested.width)
        f.fmt.pix.height = UInt32(requested.height)
        f.fmt.pix.pixelformat = Self.fourcc(requested.fourcc)
        f.fmt.pix.field = UInt32(V4L2_FIELD_ANY.rawValue)
        guard xioctl(rk_vidioc_s_fmt(), &f) == 0 else { let e = fail("VIDIOC_S_FMT \(requested.width)x\(requested.height) \(requested.fourcc)"); close(); throw e }
        let native = Self.fourccString(f.fmt.pix.pixelformat)
        // 2. RGB24 at the granted size: libv4l2 converts from the native format.
        var rgb = v4l2_format()
        rgb.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        rgb.fmt.pix.width = f.fmt.pix.width
        rgb.fmt.pix.height = f.fmt.pix.height
        rgb.fmt.pix.pixelformat = Self.fourcc("RGB3")
        rgb.fmt.pix.field = UInt32(V4L2_FIELD_ANY.rawValue)
        guard xioctl(rk_vidioc_s_fmt(), &rgb) == 0, rgb.fmt.pix.pixelformat == Self.fourcc("RGB3") else {
            let e = fail("RGB24 conversion from \(native) not available"); close(); throw e
        }
        // Frame rate: ask, read back.
        var parm = v4l2_streamparm()
        parm.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        parm.parm.capture.timeperframe = v4l2_fract(numerator: 1, denominator: UInt32(requested.fps))
        let fps: Double = xioctl(rk_vidioc_s_parm(), &parm) == 0 && parm.parm.capture.timeperframe.numerator > 0
            ? Double(parm.parm.capture.timeperframe.denominator) / Double(parm.parm.capture.timeperframe.numerator) : 0
        // Buffers.
        var req = v4l2_requestbuffers()
        req.count = UInt32(requested.buffers)
        req.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        req.memory = UInt32(V4L2_MEMORY_MMAP.rawValue)
        guard xioctl(rk_vidioc_reqbufs(), &req) == 0, req.count >= 1 else { let e = fail("VIDIOC_REQBUFS \(requested.buffers) × MMAP"); close(); throw e }
        for i in 0..<req.count {
            var b = v4l2_buffer()
            b.type = req.type
            b.memory = req.memory
            b.index = i
            guard xioctl(rk_vidioc_querybuf(), &b) == 0 else { let e = fail("VIDIOC_QUERYBUF \(i)"); close(); throw e }
            guard let p = v4l2_mmap(nil, Int(b.length), PROT_READ | PROT_WRITE, MAP_SHARED, fd, Int64(b.m.offset)), p != MAP_FAILED else {
                let e = fail("mmap buffer \(i)"); close(); throw e
            }
            maps.append((p, Int(b.length)))
            guard xioctl(rk_vidioc_qbuf(), &b) == 0 else { let e = fail("VIDIOC_QBUF \(i)"); close(); throw e }
        }
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        guard xioctl(rk_vidioc_streamon(), &type) == 0 else { let e = fail("VIDIOC_STREAMON"); close(); throw e }
        format = CameraFormat(width: Int(rgb.fmt.pix.width), height: Int(rgb.fmt.pix.height), nativeFourCC: native, fps: fps, buffers: Int(req.count))
        lost = false
    }

    private func close() {
        if fd >= 0 {
            var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            _ = rk_v4l2_ioctl(fd, rk_vidioc_streamoff(), &type)
        }
        for (p, n) in maps { v4l2_munmap(p, n) }
        maps = []
        if fd >= 0 { v4l2_close(fd) }
        fd = -1
    }

    /// Dequeues one frame if one is ready within `timeoutMs`; nil on timeout. Throws when the device is gone.
    public func grab(timeoutMs: Int32) throws -> CameraFrame? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, timeoutMs)
        if r < 0 { if errno == EINTR { return nil }; throw fail("poll") }
        if r == 0 { return nil }
        if p.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 && p.revents & Int16(POLLIN) == 0 {
            throw CameraError(device: device, message: "device error (disconnected?)")
        }
        var b = v4l2_buffer()
        b.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        b.memory = UInt32(V4L2_MEMORY_MMAP.rawValue)
        if xioctl(rk_vidioc_dqbuf(), &b) != 0 {
            if errno == EAGAIN { return nil }
            throw fail("VIDIOC_DQBUF")
        }
        defer { _ = xioctl(rk_vidioc_qbuf(), &b) }
        let w = format.width, h = format.height
        let need = w * h * 3
        guard Int(b.index) < maps.count, Int(b.bytesused) >= need else {
            throw CameraError(device: device, message: "short frame: \(b.bytesused) bytes for \(w)x\(h) RGB24")
        }
        let pixels = [UInt8](UnsafeRawBufferPointer(start: maps[Int(b.index)].0, count: need))
        // Monotonic buffer timestamps share CLOCK_MONOTONIC with monotonicSeconds(); others get "now".
        let monotonic = b.flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK) == UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
        let ts = monotonic ? Double(b.timestamp.tv_sec) + Double(b.timestamp.tv_usec) * 1e-6 : monotonicSeconds()
        return CameraFrame(image: try RGBImage(width: w, height: h, pixels: pixels), timestamp: ts, sequence: Int(b.sequence))
    }

    /// Starts the capture thread (newest frame kept, older ones dropped; reconnects with backoff).
    public func start() {
        lock.lock(); running = true; lock.unlock()
        let t = Thread { [weak self] in self?.captureLoop() }
        t.name = "reflex-capture"
        thread = t
        t.start()
    }

    public func stop() {
        lock.lock(); running = false; lock.unlock()
        while thread?.isExecuting == true { usleep(1000) }
        thread = nil
    }

    private var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    private func captureLoop() {
        var backoff = 0.1
        while isRunning {
            if fd < 0 {
                do {
                    try open()
                    reconnects += 1
                    backoff = 0.1
                } catch {
                    usleep(UInt32(backoff * 1e6))
                    backoff = min(backoff * 2, 2)
                    continue
                }
            }
            do {
                if let f = try grab(timeoutMs: 100) {
                    lock.lock(); newest = f; lock.unlock()
                }
            } catch {
                lock.lock(); newest = nil; lost = true; lock.unlock()
                close()
            }
        }
    }

    /// The newest frame (nil before the first one and while the device is lost).
    public func latest() throws -> CameraFrame? {
        lock.lock(); defer { lock.unlock() }
        return newest
    }
}
