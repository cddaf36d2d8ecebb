#if canImport(Glibc)
import Glibc
#endif
import ReflexIO

/// Paces a loop at a fixed rate on the monotonic clock: `wait()` sleeps until the next tick is due. A tick
/// that ran late is not made up for: the schedule restarts from now (no bursts of catch-up ticks).
public struct Pacer {
    public let period: Double
    private var next: Double

    public init(rateHz: Double) {
        period = 1 / rateHz
        next = monotonicSeconds()
    }

    /// Sleeps until one period after the previous tick was due.
    public mutating func wait() {
        next += period
        let wait = next - monotonicSeconds()
        if wait > 0 { usleep(UInt32(wait * 1e6)) } else { next = monotonicSeconds() }
    }
}
