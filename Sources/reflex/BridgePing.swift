import ArgumentParser
import BridgeProtocol
import Foundation
import ReflexIO

/// `reflex bridge ping`: status requests, round-trip times, the controller's state.
struct BridgePing: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Ask the controller for its status N times; print round-trip times and the status."
    )

    @OptionGroup var options: BridgeOptions

    @Option(help: "Number of status requests.")
    var count: Int = 5

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
    }

    @Option(help: "feetech: comma-separated servo IDs to ping (default 1).")
    var ids: String = "1"

    func run() throws {
        if options.isFeetech { return try pingFeetech() }
        let client = try options.connect()
        var rtts: [Double] = []
        var last = Status()
        try bridgeRuntime {
            for _ in 0..<count {
                let (s, rtt) = try client.requestStatus(timeout: options.timeout)
                rtts.append(rtt * 1000)
                last = s
            }
        }
        let sorted = rtts.sorted()
        let median = sorted[sorted.count / 2]
        log.info("ping \(options.port): \(count) round trips, min \(fmt(sorted.first!)) ms, median \(fmt(median)) ms, max \(fmt(sorted.last!)) ms")
        if options.json {
            try printJSON([
                "port": options.port,
                "count": count,
                "rtt_ms": ["min": sorted.first!, "median": median, "max": sorted.last!, "all": rtts],
                "status": last.jsonObject,
            ])
        } else {
            print("rtt ms: min \(fmt(sorted.first!)) median \(fmt(median)) max \(fmt(sorted.last!))")
            print(last.line)
        }
    }

    /// Pings each servo `count` times; exit 1 when one never answers.
    func pingFeetech() throws {
        let list = try ids.split(separator: ",").map { p -> UInt8 in
            guard let v = UInt8(p.trimmingCharacters(in: .whitespaces)), v < 0xFE else {
                throw CLIError.invalidInput("--ids: '\(p)' is not a servo ID (0...253)")
            }
            return v
        }
        let bus = try options.connectFeetech()
        var result: [String: Any] = [:]
        var missing: [UInt8] = []
        try bridgeRuntime {
            for id in list {
                var rtts: [Double] = []
                for _ in 0..<count { if let r = try bus.ping(id: id, timeout: options.timeout) { rtts.append(r * 1000) } }
                if rtts.isEmpty { missing.append(id) }
                result[String(id)] = ["replies": rtts.count, "rtt_ms": rtts]
                let median = rtts.isEmpty ? "" : ", median \(fmt(rtts.sorted()[rtts.count / 2])) ms"
                log.info("servo \(id): \(rtts.count)/\(count) replies\(median)")
            }
        }
        if options.json { try printJSON(["port": options.port, "protocol": "feetech", "servos": result] as [String: Any]) }
        if !missing.isEmpty { throw CLIError.runtime("no reply from servo(s) \(missing.map(String.init).joined(separator: ", ")) on \(options.port)") }
    }
}

func fmt(_ x: Double) -> String { String(format: "%.2f", x) }
