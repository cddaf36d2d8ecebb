import BridgeProtocol
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a serial port could not be used. The message names the device and the failing call.
public enum SerialError: Error, CustomStringConvertible, Equatable {
    case open(path: String, errno: Int32)
    case unsupportedBaud(Int)
    case configure(path: String, call: String, errno: Int32)
    case io(path: String, call: String, errno: Int32)
    case closed(path: String)

    public var description: String {
        switch self {
        case .open(let p, let e): "cannot open serial port \(p): \(String(cString: strerror(e)))"
        case .unsupportedBaud(let b):
            "unsupported baud rate \(b) (standard rates: \(SerialPort.standardBauds.keys.sorted().map(String.init).joined(separator: ", ")))"
        case .configure(let p, let c, let e): "cannot configure serial port \(p): \(c): \(String(cString: strerror(e)))"
        case .io(let p, let c, let e): "serial port \(p): \(c) failed: \(String(cString: strerror(e)))"
        case .closed(let p): "serial port \(p) was closed (device gone?)"
        }
    }
}

/// A serial port in raw mode (termios): 8N1, no flow control, no echo, no line discipline;
/// non-blocking I/O with poll(2) for timeouts.
public final class SerialPort {
    public let path: String
    public let baud: Int
    public let fd: Int32

    /// The standard termios rates, up to 4 Mbaud (Feetech buses run at 1 000 000).
    public static let standardBauds: [Int: speed_t] = {
        var m: [Int: speed_t] = [
            1200: speed_t(B1200), 2400: speed_t(B2400), 4800: speed_t(B4800), 9600: speed_t(B9600),
            19200: speed_t(B19200), 38400: speed_t(B38400), 57600: speed_t(B57600), 115200: speed_t(B115200),
            230400: speed_t(B230400),
        ]
        #if os(Linux)
        m[460800] = speed_t(B460800); m[500000] = speed_t(B500000); m[576000] = speed_t(B576000)
        m[921600] = speed_t(B921600); m[1_000_000] = speed_t(B1000000); m[1_152_000] = speed_t(B1152000)
        m[1_500_000] = speed_t(B1500000); m[2_000_000] = speed_t(B2000000); m[2_500_000] = speed_t(B2500000)
        m[3_000_000] = speed_t(B3000000); m[3_500_000] = speed_t(B3500000); m[4_000_000] = speed_t(B4000000)
        #endif
        return m
    }()

    public init(path: String, baud: Int = 1_000_000) throws {
        guard let speed = SerialPort.standardBauds[baud] else { throw SerialError.unsupportedBaud(baud) }
        self.path = path
        self.baud = baud
        let fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw SerialError.open(path: path, errno: errno) }
        self.fd = fd
        var t = termios()
        guard tcgetattr(fd, &t) == 0 else {
            let e = errno; close(fd); throw SerialError.configure(path: path, call: "tcgetattr (not a terminal?)", errno: e)
        }
        cfmakeraw(&t)
        t.c_cflag |= tcflag_t(CLOCAL) | tcflag_t(CREAD)
        t.c_cflag &= ~(tcflag_t(CSTOPB) | tcflag_t(PARENB) | tcflag_t(CRTSCTS))
        t.c_iflag &= ~(tcflag_t(IXON) | tcflag_t(IXOFF) | tcflag_t(IXANY))
        withUnsafeMutableBytes(of: &t.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        guard cfsetispeed(&t, speed) == 0, cfsetospeed(&t, speed) == 0 else {
            let e = errno; close(fd); throw SerialError.configure(path: path, call: "cfsetspeed \(baud)", errno: e)
        }
        guard tcsetattr(fd, TCSANOW, &t) == 0 else {
            let e = errno; close(fd); throw SerialError.configure(path: path, call: "tcsetattr", errno: e)
        }
        tcflush(fd, TCIOFLUSH)
    }

    deinit { close(fd) }

    /// The output speed the driver reports (termios), in baud.
    public var configuredBaud: Int? {
        var t = termios()
        guard tcgetattr(fd, &t) == 0 else { return nil }
        let s = cfgetospeed(&t)
        return SerialPort.standardBauds.first { $0.value == s }?.key
    }

    /// Writes everything, waiting (poll) while the driver's buffer is full, up to `timeoutMs`.
    public func write(_ bytes: [UInt8], timeoutMs: Int32 = 1000) throws {
        try bytes.withUnsafeBytes { try write($0, timeoutMs: timeoutMs) }
    }

    /// Writes a packet built in a fixed-capacity buffer (no heap allocation: the control loop's path).
    public func write<let n: Int>(_ buffer: ByteBuffer<n>, timeoutMs: Int32 = 1000) throws {
        var copy = buffer
        let count = copy.count
        try withUnsafeBytes(of: &copy.storage) { try write(UnsafeRawBufferPointer(rebasing: $0.prefix(count)), timeoutMs: timeoutMs) }
    }

    /// Writes `bytes` completely.
    public func write(_ bytes: UnsafeRawBufferPointer, timeoutMs: Int32 = 1000) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 { offset += n; continue }
            if n < 0 && errno != EAGAIN && errno != EINTR { throw SerialError.io(path: path, call: "write", errno: errno) }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let r = poll(&p, 1, timeoutMs)
            if r == 0 { throw SerialError.io(path: path, call: "write (timed out)", errno: ETIMEDOUT) }
            if r < 0 && errno != EINTR { throw SerialError.io(path: path, call: "poll", errno: errno) }
        }
    }

    /// Waits up to `timeoutMs` for data, then returns what is available (possibly nothing).
    public func read(maxBytes: Int = 4096, timeoutMs: Int32) throws -> [UInt8] {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, timeoutMs)
        if r < 0 {
            if errno == EINTR { return [] }
            throw SerialError.io(path: path, call: "poll", errno: errno)
        }
        if r == 0 { return [] }
        var buf = [UInt8](repeating: 0, count: maxBytes)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, maxBytes) }
        if n > 0 { return Array(buf.prefix(n)) }
        if n == 0 || (p.revents & Int16(POLLHUP)) != 0 { throw SerialError.closed(path: path) }
        if errno == EAGAIN || errno == EINTR { return [] }
        throw SerialError.io(path: path, call: "read", errno: errno)
    }
}

/// Seconds on CLOCK_MONOTONIC (the same clock Python's time.monotonic() reads on Linux).
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
