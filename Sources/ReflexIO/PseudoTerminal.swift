#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal pair: `slavePath` is a real tty device for `SerialPort` (termios applies to it),
/// `master` is the other end of the wire. For tests and benchmarks of the serial paths without hardware.
public final class PseudoTerminal: @unchecked Sendable {
    public let master: Int32
    public let slavePath: String

    public init() throws {
        // posix_openpt/unlockpt/ptsname by hand (Glibc's module does not export them):
        // TIOCSPTLCK = _IOW('T', 0x31, int), TIOCGPTN = _IOR('T', 0x30, unsigned int).
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard master >= 0, ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else {
            throw SerialError.open(path: "/dev/ptmx", errno: errno)
        }
        slavePath = "/dev/pts/\(number)"
        let flags = fcntl(master, F_GETFL)
        _ = fcntl(master, F_SETFL, flags | O_NONBLOCK)
    }

    private var closed = false

    deinit { close() }

    /// Closes the master end (the device "unplugs": the slave side sees a hang-up). Idempotent.
    public func close() {
        if closed { return }
        closed = true
        Glibc.close(master)
    }

    public func write(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.write(master, $0.baseAddress, $0.count) } }

    /// Everything readable within `ms`.
    public func read(ms: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        var buf = [UInt8](repeating: 0, count: 4096)
        while poll(&p, 1, out.isEmpty ? ms : 20) > 0 {
            let n = buf.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress, 4096) }
            if n <= 0 { break }
            out += buf.prefix(n)
        }
        return out
    }
}
