import ArgumentParser
import BridgeProtocol
import Foundation
import ReflexIO

/// `reflex bridge monitor`: print the controller's periodic status reports.
struct BridgeMonitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Print the controller's status reports as they arrive (sends nothing; the watchdog is not fed)."
    )

    @OptionGroup var options: BridgeOptions

    @Option(help: "Seconds to listen (0: until interrupted).")
    var duration: Double = 0

    func validate() throws {
        guard duration >= 0 else { throw ValidationError("--duration must not be negative") }
    }

    func run() throws {
        let client = try options.connect()
        let start = monotonicSeconds()
        var lastRx = start
        var records: [[String: Any]] = []
        try bridgeRuntime {
            while duration == 0 || monotonicSeconds() - start < duration {
                let left = duration == 0 ? 1.0 : max(0, duration - (monotonicSeconds() - start))
                for f in try client.receive(timeout: min(left, 1.0)) {
                    lastRx = monotonicSeconds()
                    guard case .status(let s) = f.message else { continue }
                    if options.json {
                        var o = s.jsonObject
                        o["t"] = lastRx
                        records.append(o)
                    } else {
                        FileHandle.standardOutput.write(Data((String(format: "%.3f ", lastRx - start) + s.line + "\n").utf8))
                    }
                }
                if monotonicSeconds() - lastRx > max(options.timeout, 0.5) {
                    throw BridgeError.timeout("no status report for \(Int((monotonicSeconds() - lastRx) * 1000)) ms")
                }
            }
        }
        let c = client.decoder.counters
        if c.dropped > 0 { log.warning("dropped \(c.dropped) bad frames from the controller") }
        if options.json {
            try printJSON(["port": options.port, "start": start, "count": records.count, "statuses": records,
                           "host_dropped_frames": c.dropped])
        }
    }
}
