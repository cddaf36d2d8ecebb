import BridgeProtocol
import Foundation

/// firmware-bridge/vectors.txt, parsed: `kind name hex…` lines.
struct GoldenVectors {
    struct Line { let kind: String; let name: String; let fields: [[UInt8]] }
    let lines: [Line]

    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../firmware-bridge/vectors.txt").standardized.path

    static func load() throws -> GoldenVectors {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines: [Line] = []
        for raw in text.split(separator: "\n") where !raw.hasPrefix("#") {
            let parts = raw.split(separator: " ").map(String.init)
            guard parts.count >= 3 else { continue }
            lines.append(Line(kind: parts[0], name: parts[1], fields: try parts[2...].map(hexBytes)))
        }
        return GoldenVectors(lines: lines)
    }

    func all(_ kind: String) -> [Line] { lines.filter { $0.kind == kind } }

    func frame(_ name: String) -> (raw: [UInt8], wire: [UInt8])? {
        guard let l = lines.first(where: { $0.kind == "frame" && $0.name == name }) else { return nil }
        return (l.fields[0], l.fields[1])
    }
}

struct HexError: Error { let text: String }

func hexBytes(_ s: String) throws -> [UInt8] {
    if s == "-" { return [] }
    guard s.count % 2 == 0 else { throw HexError(text: s) }
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        guard let b = UInt8(s[i..<j], radix: 16) else { throw HexError(text: s) }
        out.append(b)
        i = j
    }
    return out
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// What each named frame vector means (PROTOCOL.md, section Vectors).
let expectedFrames: [String: Frame] = {
    var status = Status()
    status.flags = StatusFlags(rawValue: 0x13)  // configured, torque enabled, positions measured
    status.watchdog = .armed
    status.firmwareMajor = 2
    status.uptimeMs = 123_456
    status.feedAgeMs = 20
    status.lastRxSeq = 5
    status.rxFrames = 42
    status.crcErrors = 1
    status.badFrames = 2
    status.nacks = 3
    status.seqGaps = 4
    status.watchdogTrips = 5
    status.clampedTargets = 6
    status.applied = JointValues([2048, 1000, 3000])
    status.measuredAgeMs = 30
    status.measuredMask = 0b111
    status.measured = MeasuredValues([2040, 1010, 2990])
    var unmeasured = Status()
    unmeasured.flags = .configured
    unmeasured.firmwareMajor = 2
    unmeasured.uptimeMs = 5000
    unmeasured.feedAgeMs = 5000
    unmeasured.lastRxSeq = 2
    unmeasured.rxFrames = 3
    unmeasured.measuredAgeMs = 60
    unmeasured.measuredMask = 0b101  // servo 2 did not answer
    unmeasured.measured = MeasuredValues([2048, 0, -5])
    return [
        "heartbeat": Frame(seq: 0, message: .heartbeat),
        "status_request": Frame(seq: 1, message: .statusRequest),
        "configure3": Frame(seq: 2, message: .configure(Configuration(
            ids: ServoIDs([1, 2, 3]), minimum: JointValues([0, 500, 1000]), maximum: JointValues([4095, 3500, 3000]),
            watchdogMs: 500, action: .holdThenTorqueOff, torqueOffDelayMs: 1000))),
        "torque_on": Frame(seq: 3, message: .torque(enable: true)),
        "torque_off": Frame(seq: 4, message: .torque(enable: false)),
        "targets3": Frame(seq: 5, message: .targets(JointValues([2048, 1000, 3000]))),
        "hold": Frame(seq: 6, message: .hold),
        "estop": Frame(seq: 7, message: .estop),
        "targets_zero_bytes": Frame(seq: 0, message: .targets(JointValues([0, 256]))),
        "status3": Frame(seq: 9, message: .status(status)),
        "status_unmeasured": Frame(seq: 12, message: .status(unmeasured)),
        "nack_out_of_limits": Frame(seq: 13, message: .nack(Nack(type: .torque, seq: 3, reason: .positionOutOfLimits))),
        "ack_targets": Frame(seq: 10, message: .ack(Ack(type: .targets, seq: 5, detail: 1))),
        "nack_tripped": Frame(seq: 11, message: .nack(Nack(type: .targets, seq: 5, reason: .watchdogTripped))),
    ]
}()
