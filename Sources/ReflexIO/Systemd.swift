#if canImport(Glibc)
import Glibc
#endif

/// systemd's notify protocol (`Type=notify`): datagrams to the socket named by `$NOTIFY_SOCKET`
/// ("READY=1" once devices and model are up, "WATCHDOG=1" pings at half of `$WATCHDOG_USEC`,
/// "STOPPING=1", "STATUS=…"). A no-op when not started by systemd.
public final class SystemdNotifier {
    private let socketPath: String?
    /// Interval at which to send WATCHDOG=1 (half the configured watchdog), if any.
    public let watchdogInterval: Double?

    public init(environment: [String: String]) {
        socketPath = environment["NOTIFY_SOCKET"]
        watchdogInterval = environment["WATCHDOG_USEC"].flatMap(Double.init).map { $0 / 2e6 }
    }

    public var isActive: Bool { socketPath != nil }

    /// Sends one notification; returns false if there is no socket or sending failed.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard var path = socketPath, !path.isEmpty else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        if path.hasPrefix("@") { path = "\0" + path.dropFirst() }  // abstract namespace
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { dst in
            for (i, b) in bytes.enumerated() { dst[i] = b }
        }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let msg = Array(state.utf8)
        let sent = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                msg.withUnsafeBytes { sendto(fd, $0.baseAddress, msg.count, Int32(MSG_NOSIGNAL), sa, len) }
            }
        }
        return sent == msg.count
    }
}

/// SIGTERM/SIGINT → a flag the control loop polls (handlers only set an atomic flag).
public enum StopSignal {
    nonisolated(unsafe) private static var flag: sig_atomic_t = 0

    /// Installs handlers for SIGTERM and SIGINT.
    public static func install() {
        signal(SIGTERM) { _ in StopSignal.flag = 1 }
        signal(SIGINT) { _ in StopSignal.flag = 1 }
    }

    public static var requested: Bool { flag != 0 }
}
