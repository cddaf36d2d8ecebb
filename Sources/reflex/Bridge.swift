import ArgumentParser
import BridgeProtocol
import Foundation
import ReflexIO

/// `reflex bridge …`: talk to the motor controller over its serial link (firmware-bridge/PROTOCOL.md).
struct Bridge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to the motor controller (ping, send targets, monitor status).",
        discussion: "Protocol: firmware-bridge/PROTOCOL.md. Exit codes: 0 success, 1 device or controller failure, 2 bad flags.",
        subcommands: [BridgePing.self, BridgeSend.self, BridgeMonitor.self]
    )
}

/// Options every `bridge` subcommand takes.
struct BridgeOptions: ParsableArguments {
    @Option(help: "Wire protocol: reflex (the Reflex motor-controller firmware) or feetech (a direct STS3215 bus).")
    var `protocol`: String = "reflex"

    @Option(help: "Serial device of the motor controller (e.g. /dev/ttyACM0, or the pty qemu prints).")
    var port: String

    @Option(help: "Baud rate (any standard rate; 1000000 by default).")
    var baud: Int = 1_000_000

    @Option(name: .customLong("timeout-ms"), help: "How long to wait for each reply.")
    var timeoutMs: Int = 1000

    @Flag(help: "Print one JSON object on stdout (logs stay on stderr).")
    var json = false

    func validate() throws {
        guard ["reflex", "feetech"].contains(`protocol`) else {
            throw ValidationError("--protocol: unknown protocol '\(`protocol`)' (supported: reflex, feetech)")
        }
        guard SerialPort.standardBauds[baud] != nil else {
            throw ValidationError("--baud: \(SerialError.unsupportedBaud(baud).description)")
        }
        guard timeoutMs > 0 else { throw ValidationError("--timeout-ms must be positive, got \(timeoutMs)") }
    }

    var timeout: Double { Double(timeoutMs) / 1000 }

    var isFeetech: Bool { `protocol` == "feetech" }

    /// Opens the port for a direct Feetech bus; device problems are runtime failures (exit 1).
    func connectFeetech() throws -> FeetechBus {
        do {
            return FeetechBus(port: try SerialPort(path: port, baud: baud))
        } catch let e as SerialError {
            throw CLIError.runtime(e.description)
        }
    }

    /// Opens the port and the client; device problems are runtime failures (exit 1).
    func connect() throws -> BridgeClient {
        do {
            let port = try SerialPort(path: port, baud: baud)
            log.debug("opened \(port.path) at \(baud) baud")
            return try BridgeClient(port: port)
        } catch let e as SerialError {
            throw CLIError.runtime(e.description)
        }
    }
}

/// Runs bridge work, turning serial and controller errors into runtime failures (exit 1).
func bridgeRuntime<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as SerialError {
        throw CLIError.runtime(e.description)
    } catch let e as BridgeError {
        throw CLIError.runtime(e.description)
    } catch let e as PoseError {
        throw CLIError.runtime(e.description)
    }
}

extension Status {
    var jsonObject: [String: Any] {
        [
            "configured": flags.contains(.configured),
            "torque_enabled": flags.contains(.torqueEnabled),
            "estopped": flags.contains(.estopped),
            "hold_commanded": flags.contains(.holdCommanded),
            "watchdog": watchdogName,
            "firmware_version": "\(firmwareMajor).\(firmwareMinor).\(firmwarePatch)",
            "uptime_ms": uptimeMs,
            "feed_age_ms": feedAgeMs,
            "last_rx_seq": lastRxSeq,
            "rx_frames": rxFrames,
            "crc_errors": crcErrors,
            "bad_frames": badFrames,
            "oversize": oversize,
            "nacks": nacks,
            "seq_gaps": seqGaps,
            "watchdog_trips": watchdogTrips,
            "clamped_targets": clampedTargets,
            "applied": applied.array.map(Int.init),
            "positions_measured": flags.contains(.positionsMeasured),
            "measured": measured.array.map(Int.init),
            "measured_mask": measuredMask,
            "measured_age_ms": measuredAgeMs,
        ]
    }

    var watchdogName: String {
        switch watchdog {
        case .disarmed: "disarmed"
        case .armed: "armed"
        case .holding: "holding"
        case .torqueOff: "torque_off"
        }
    }

    var line: String {
        "fw \(firmwareMajor).\(firmwareMinor).\(firmwarePatch) up \(uptimeMs) ms"
            + " configured=\(flags.contains(.configured)) torque=\(flags.contains(.torqueEnabled))"
            + (flags.contains(.estopped) ? " ESTOP" : "")
            + " watchdog=\(watchdogName) fed \(feedAgeMs) ms ago trips=\(watchdogTrips)"
            + " applied=\(applied.array.map(String.init).joined(separator: ","))"
            + " measured=" + (0..<measured.count).map { measuredMask & (1 << UInt16($0)) != 0 ? String(measured[$0]) : "?" }.joined(separator: ",")
            + (measuredAgeMs == 0xFFFF ? "" : " (\(measuredAgeMs) ms ago)")
            + " rx=\(rxFrames) crc_err=\(crcErrors) bad=\(badFrames) oversize=\(oversize) nacks=\(nacks) clamped=\(clampedTargets)"
    }
}

/// Prints one JSON object on stdout.
func printJSON(_ object: [String: Any]) throws {
    writeJSONLine(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
}
