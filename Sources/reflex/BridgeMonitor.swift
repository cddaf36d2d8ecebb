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
        guard duration.isFinite, duration >= 0 else { throw ValidationError("--duration must be 0 or more seconds, got \(duration)") }
    }

    func run() throws {
        if options.isFeetech { return try monitorFeetech() }
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

    /// Prints each servo status packet seen on the bus as one JSON line.
    func monitorFeetech() throws {
        let bus = try options.connectFeetech()
        var parser = FeetechStatusParser()
        let start = monotonicSeconds()
        try bridgeRuntime {
            while duration == 0 || monotonicSeconds() - start < duration {
                for b in try bus.port.read(timeoutMs: 200) {
                    guard let s = parser.feed(b) else { continue }
                    var o: [String: Any] = ["t": monotonicSeconds() - start, "id": Int(s.id), "error": Int(s.error),
                                            "data": (0..<s.data.count).map { Int(s.data[$0]) }]
                    if s.data.count == 2 { o["position"] = Feetech.decodePosition(lo: s.data[0], hi: s.data[1]) }
                    writeJSONLine(try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]))
                }
            }
        }
    }
}
