import ArgumentParser
import BridgeProtocol
import Foundation
import ReflexIO

/// `reflex bridge send`: configure and enable when needed, then send goal positions.
struct BridgeSend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send goal positions (servo units) to the controller.",
        discussion: """
            When the controller's status says it is not configured, it is configured first (joint count = \
            number of targets, servo IDs from --ids or 1..N, limits from --limits or 0:4095, watchdog \
            from --watchdog-ms / --watchdog-action / --torque-off-delay-ms); when torque is off it is \
            enabled once the controller reports every servo's measured position (it refuses a pose outside \
            its limits, and sets the goals to the pose first). Then the targets are sent (once, or --count times every --interval-ms) and the \
            command exits. The controller clamps targets to its configured limits itself.
            """
    )

    @OptionGroup var options: BridgeOptions

    @Option(help: "Comma-separated goal positions, one per joint (reflex: 0...65535, the controller clamps to its limits and reports it; feetech: 0...4095, the servo's range).")
    var targets: String

    @Option(help: "Comma-separated servo IDs (default 1..N).")
    var ids: String?

    @Option(help: "Joint limits MIN:MAX in servo units for every joint, used when configuring (default 0:4095).")
    var limits: String = "0:4095"

    @Option(name: .customLong("watchdog-ms"), help: "Watchdog window, used when configuring.")
    var watchdogMs: Int = Int(Configuration.defaultWatchdogMs)

    @Option(name: .customLong("watchdog-action"), help: "hold (hold, then torque off after the delay) or torque-off.")
    var watchdogAction: String = "hold"

    @Option(name: .customLong("torque-off-delay-ms"), help: "Hold time before torque off, used when configuring.")
    var torqueOffDelayMs: Int = Int(Configuration.defaultTorqueOffDelayMs)

    @Option(help: "How many times to send the targets.")
    var count: Int = 1

    @Option(name: .customLong("interval-ms"), help: "Time between repeated sends.")
    var intervalMs: Int = 20

    func validate() throws {
        _ = try parsed()
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
        guard intervalMs >= 0 else { throw ValidationError("--interval-ms must not be negative") }
    }

    /// The targets and the configuration the flags describe.
    func parsed() throws -> (targets: JointValues, config: Configuration) {
        func list(_ text: String, _ flag: String, max: Int) throws -> [Int] {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            return try parts.map { p in
                guard let v = Int(p.trimmingCharacters(in: .whitespaces)), v >= 0, v <= max else {
                    throw ValidationError("\(flag): '\(p)' is not an integer in 0...\(max)")
                }
                return v
            }
        }
        // A direct bus has no controller to clamp and report: a value the servo cannot take is refused
        // here rather than silently clamped on the wire.
        let t = try list(targets, "--targets", max: options.isFeetech ? 4095 : 65535)
        guard (1...BridgeWire.maxJoints).contains(t.count) else {
            throw ValidationError("--targets: \(t.count) values; the controller takes 1...\(BridgeWire.maxJoints) joints")
        }
        let idList = try ids.map { try list($0, "--ids", max: 253) } ?? Array(1...t.count)
        guard idList.count == t.count else {
            throw ValidationError("--ids: \(idList.count) IDs for \(t.count) targets")
        }
        guard Set(idList).count == idList.count else { throw ValidationError("--ids: duplicate servo ID") }
        let lim = limits.split(separator: ":").map { Int($0) }
        guard lim.count == 2, let lo = lim[0], let hi = lim[1], lo >= 0, lo <= hi, hi <= 4095 else {
            throw ValidationError("--limits: '\(limits)' is not MIN:MAX with 0 <= MIN <= MAX <= 4095")
        }
        guard (20...60_000).contains(watchdogMs) else { throw ValidationError("--watchdog-ms: \(watchdogMs) is not in 20...60000") }
        guard (0...60_000).contains(torqueOffDelayMs) else {
            throw ValidationError("--torque-off-delay-ms: \(torqueOffDelayMs) is not in 0...60000")
        }
        let action: WatchdogAction
        switch watchdogAction {
        case "hold": action = .holdThenTorqueOff
        case "torque-off": action = .torqueOff
        default: throw ValidationError("--watchdog-action: '\(watchdogAction)' (expected hold or torque-off)")
        }
        let config = Configuration(
            ids: ServoIDs(idList.map { UInt8($0) }),
            minimum: JointValues(count: t.count, value: UInt16(lo)),
            maximum: JointValues(count: t.count, value: UInt16(hi)),
            watchdogMs: UInt16(watchdogMs), action: action, torqueOffDelayMs: UInt16(torqueOffDelayMs))
        return (JointValues(t.map { UInt16($0) }), config)
    }

    func run() throws {
        let (targets, config) = try parsed()
        if options.isFeetech {
            // A direct bus: exactly one SYNC_WRITE of Goal_Position per send, nothing else.
            let bus = try options.connectFeetech()
            let ids = (0..<config.ids.count).map { config.ids[$0] }
            let positions = (0..<targets.count).map { Int(targets[$0]) }  // 0...4095, checked in parsed()
            try bridgeRuntime {
                for i in 0..<count {
                    if i > 0 { usleep(UInt32(intervalMs) * 1000) }
                    try bus.syncWriteGoalPosition(ids: ids, positions: positions)
                }
            }
            log.info("sent \(count) SYNC_WRITE Goal_Position to IDs \(ids) on \(options.port)")
            if options.json { try printJSON(["protocol": "feetech", "ids": ids.map(Int.init), "targets": positions, "count": count] as [String: Any]) }
            return
        }
        let client = try options.connect()
        var configured = false, enabled = false
        var clamped = 0
        var ackedAt = 0.0
        let final: Status = try bridgeRuntime {
            let (status, _) = try client.requestStatus(timeout: options.timeout)
            if !status.flags.contains(.configured) {
                try client.request(.configure(config), timeout: options.timeout)
                configured = true
                log.info("configured \(config.jointCount) joints, IDs \(config.ids.array), watchdog \(config.watchdogMs) ms")
            } else if status.applied.count != 0 && status.applied.count != targets.count {
                throw CLIError.invalidInput("--targets: \(targets.count) values, but the controller is configured for \(status.applied.count) joints")
            }
            if !status.flags.contains(.torqueEnabled) || status.watchdog != .armed || configured {
                if !status.flags.contains(.torqueEnabled) {
                    // The controller enables torque only from a measured pose (protocol v2): wait until it
                    // has read every servo. It refuses a pose outside its limits itself (NACK 11).
                    guard let pose = try client.awaitMeasuredPose(jointCount: targets.count, timeout: options.timeout) else {
                        let s = client.statuses.last?.status
                        let missing = (0..<targets.count).filter { i in s.map { $0.measuredMask & (1 << UInt16(i)) == 0 } ?? true }
                        throw CLIError.runtime("the controller did not report the position of servo(s) \(missing.map { Int(config.ids[$0]) }) within \(options.timeoutMs) ms; torque not enabled")
                    }
                    log.info("measured pose \(pose.measured.array.map(Int.init))")
                }
                try client.request(.torque(enable: true), timeout: options.timeout)
                enabled = true
                log.info("torque enabled")
            }
            for i in 0..<count {
                if i > 0 { usleep(useconds_t(intervalMs * 1000)) }
                let ack = try client.request(.targets(targets), timeout: options.timeout)
                ackedAt = monotonicSeconds()
                clamped = Int(ack.detail)
            }
            if clamped > 0 { log.warning("the controller clamped \(clamped) of \(targets.count) targets to its limits") }
            return try client.requestStatus(timeout: options.timeout).status
        }
        if options.json {
            try printJSON([
                "port": options.port,
                "configured": configured,
                "enabled": enabled,
                "targets": targets.array.map(Int.init),
                "sent": count,
                "clamped": clamped,
                "acked_at": ackedAt,
                "status": final.jsonObject,
            ])
        } else {
            print("sent \(targets.array.map(String.init).joined(separator: ",")) ×\(count)"
                  + (configured ? " (configured)" : "") + (enabled ? " (torque enabled)" : "")
                  + (clamped > 0 ? " clamped \(clamped)" : ""))
            print(final.line)
        }
    }
}
