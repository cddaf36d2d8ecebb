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

    func run() throws {
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
}

func fmt(_ x: Double) -> String { String(format: "%.2f", x) }
