import BridgeFirmware
import BridgeProtocol
import Foundation
import Testing

/// firmware-bridge/vectors.txt, as `kind name → hex fields`.
func loadVectors() throws -> [String: [[UInt8]]] {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../vectors.txt").path
    var out: [String: [[UInt8]]] = [:]
    for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
        let p = line.split(separator: " ").map(String.init)
        guard p.count >= 3 else { continue }
        out["\(p[0]) \(p[1])"] = p[2...].map { s in
            s == "-" ? [] : stride(from: 0, to: s.count, by: 2).map {
                UInt8(s[s.index(s.startIndex, offsetBy: $0)..<s.index(s.startIndex, offsetBy: $0 + 2)], radix: 16)!
            }
        }
    }
    return out
}

/// Drives a Controller with an injected clock and collects what it sends.
struct Rig {
    var c: Controller
    var now: UInt32
    var hostDecoder = FrameDecoder()
    var host: [Frame] = []
    var servo: [UInt8] = []
    var seq: UInt8 = 0

    init(now: UInt32 = 0) { self.now = now; c = Controller(now: now) }

    mutating func drain() {
        host += hostDecoder.feed(c.hostOut.array)
        servo += c.servoOut.array
        c.hostOut.removeAll()
        c.servoOut.removeAll()
    }

    mutating func feed(_ bytes: [UInt8]) {
        for b in bytes { c.receive(b, now: now) }
        drain()
    }

    /// Sends a message and returns the reply (ACK/NACK/STATUS) it produced.
    @discardableResult
    mutating func send(_ m: Message) -> Message? {
        let before = host.count
        feed(m.wireFrame(seq: seq).array)
        seq &+= 1
        return host.count > before ? host.last!.message : nil
    }

    /// Advances the clock 1 ms at a time, ticking each millisecond as the firmware loop does.
    mutating func advance(to t: UInt32) {
        while now < t { now += 1; c.tick(now: now); drain() }
    }

    mutating func takeServo() -> [UInt8] { defer { servo = [] }; return servo }

    var lastStatus: Status? {
        for f in host.reversed() { if case .status(let s) = f.message { return s } }
        return nil
    }
}

let config3 = Configuration(ids: ServoIDs([1, 2, 3]), minimum: JointValues([0, 500, 1000]),
                            maximum: JointValues([4095, 3500, 3000]))

@Suite struct ControllerTests {
    @Test func startsSafeAndRefusesMotionUntilConfiguredAndEnabled() {
        var r = Rig()
        #expect(r.send(.targets(JointValues([2048, 1000, 3000]))) == .nack(Nack(type: .targets, seq: 0, reason: .notConfigured)))
        #expect(r.send(.torque(enable: true)) == .nack(Nack(type: .torque, seq: 1, reason: .notConfigured)))
        #expect(r.send(.configure(config3)) == .ack(Ack(type: .configure, seq: 2)))
        #expect(r.send(.targets(JointValues([2048, 1000, 3000]))) == .nack(Nack(type: .targets, seq: 3, reason: .torqueOff)))
        r.advance(to: 2000)
        #expect(r.servo.isEmpty)  // nothing ever reached the bus
        let s = r.lastStatus!
        #expect(s.flags.contains(.configured) && !s.flags.contains(.torqueEnabled))
        #expect(s.watchdog == .disarmed && s.nacks == 3 && s.watchdogTrips == 0)
    }

    @Test func goldenFramesProduceGoldenServoPackets() throws {
        let v = try loadVectors()
        var r = Rig()
        r.feed(v["frame configure3"]![1])
        #expect(r.host.last?.message == .ack(Ack(type: .configure, seq: 2)))
        r.feed(v["frame torque_on"]![1])
        #expect(r.host.last?.message == .ack(Ack(type: .torque, seq: 3)))
        let torqueOn = r.takeServo()
        #expect(torqueOn.count == 24)
        #expect(Array(torqueOn.prefix(8)) == v["servo torque_on_id1"]![0])
        r.feed(v["frame targets3"]![1])
        #expect(r.host.last?.message == .ack(Ack(type: .targets, seq: 5, detail: 0)))
        #expect(r.takeServo() == v["servo sync_goal3"]![0])
        r.feed(v["frame estop"]![1])
        #expect(r.takeServo() == v["servo torque_off_broadcast"]![0])
        #expect(r.send(.torque(enable: true)) == .nack(Nack(type: .torque, seq: 0, reason: .notConfigured)))
        // The controller's own STATUS frames decode to what it reports, and match the vector layout.
        r.feed(v["frame status_request"]![1])
        guard case .status(let s) = r.host.last?.message else { Issue.record("no status"); return }
        #expect(s.flags.contains(.estopped) && !s.flags.contains(.configured))
        #expect(s.firmwareMajor == 1 && s.rxFrames == 6)
        #expect(s.lastRxSeq == 1 && s.seqGaps == 2)  // 2→3 ok, 3→5 gap, 7→0 new session, 0→1 ok... 5→7 gap
    }

    @Test func clampsToConfiguredLimits() {
        var r = Rig()
        r.send(.configure(config3))
        r.send(.torque(enable: true))
        _ = r.takeServo()
        #expect(r.send(.targets(JointValues([5000, 100, 2000]))) == .ack(Ack(type: .targets, seq: 2, detail: 2)))
        // FF FF FE 0D 83 2A 02 | 01 FF 0F | 02 F4 01 | 03 D0 07 | CHK
        let sum = 0xFE + 0x0D + 0x83 + 0x2A + 0x02 + 0x01 + 0xFF + 0x0F + 0x02 + 0xF4 + 0x01 + 0x03 + 0xD0 + 0x07
        #expect(r.takeServo() == [0xFF, 0xFF, 0xFE, 0x0D, 0x83, 0x2A, 0x02, 0x01, 0xFF, 0x0F, 0x02, 0xF4, 0x01,
                                  0x03, 0xD0, 0x07, UInt8(~sum & 0xFF)])
        #expect(r.c.applied == JointValues([4095, 500, 2000]))
        #expect(r.send(.targets(JointValues([1, 2]))) == .nack(Nack(type: .targets, seq: 3, reason: .jointCountMismatch)))
        #expect(r.send(.statusRequest).map { m -> UInt32 in if case .status(let s) = m { s.clampedTargets } else { 0 } } == 2)
    }

    @Test func rejectsBadConfigurations() {
        var r = Rig()
        var c = config3
        c.minimum = JointValues([0, 3600, 1000])  // min > max
        #expect(r.send(.configure(c)) == .nack(Nack(type: .configure, seq: 0, reason: .invalidLimits)))
        c = config3
        c.maximum = JointValues([4096, 3500, 3000])
        #expect(r.send(.configure(c)) == .nack(Nack(type: .configure, seq: 1, reason: .invalidLimits)))
        c = Configuration(ids: ServoIDs([1, 1]))
        #expect(r.send(.configure(c)) == .nack(Nack(type: .configure, seq: 2, reason: .invalidIDs)))
        c = Configuration(ids: ServoIDs([0xFE]))
        #expect(r.send(.configure(c)) == .nack(Nack(type: .configure, seq: 3, reason: .invalidIDs)))
        c = config3
        c.watchdogMs = 5
        #expect(r.send(.configure(c)) == .nack(Nack(type: .configure, seq: 4, reason: .invalidWatchdog)))
        #expect(r.c.configuration == nil)
        r.send(.configure(config3))
        r.send(.torque(enable: true))
        #expect(r.send(.configure(config3)) == .nack(Nack(type: .configure, seq: 7, reason: .torqueEnabled)))
    }

    @Test func watchdogHoldsThenCutsTorqueAtTheConfiguredTimes() throws {
        let v = try loadVectors()
        var r = Rig(now: 10_000)
        r.send(.configure(config3))
        r.send(.torque(enable: true))
        r.send(.targets(JointValues([2048, 1000, 3000])))
        let goal = r.takeServo().suffix(17)
        #expect(Array(goal) == v["servo sync_goal3"]![0])
        // Fed at 10 000. Heartbeats keep it alive.
        r.advance(to: 10_400)
        #expect(r.send(.heartbeat) == .ack(Ack(type: .heartbeat, seq: 3)))
        r.advance(to: 10_900)
        #expect(r.c.watchdog == .armed && r.servo.isEmpty)
        // Window 500 ms after the heartbeat at 10 400: armed at exactly 500 ms, tripped at 501.
        r.advance(to: 10_901)
        #expect(r.c.watchdog == .holding)
        #expect(r.takeServo() == v["servo sync_goal3"]![0])  // hold = re-assert the last applied goal
        #expect(r.send(.targets(JointValues([100, 1000, 3000]))) == .nack(Nack(type: .targets, seq: 4, reason: .watchdogTripped)))
        // Torque off 1000 ms after the trip, to every servo.
        r.advance(to: 10_901 + 999)
        #expect(r.servo.isEmpty && r.c.torqueOn)
        r.advance(to: 10_901 + 1000)
        let off = r.takeServo()
        #expect(off.count == 24)
        #expect(off[0..<8] == [0xFF, 0xFF, 0x01, 0x04, 0x03, 0x28, 0x00, 0xCF])
        #expect(Array(off.suffix(8)) == v["servo torque_off_id3"]![0])
        #expect(r.c.watchdog == .torqueOff && !r.c.torqueOn)
        r.advance(to: 15_000)
        #expect(r.servo.isEmpty)  // nothing more reaches the bus while silent
        let s = try #require(r.lastStatus)
        #expect(s.watchdogTrips == 1 && s.watchdog == .torqueOff && !s.flags.contains(.torqueEnabled))
        // Re-enable: torque-on writes, streaming resumes.
        #expect(r.send(.torque(enable: true)) == .ack(Ack(type: .torque, seq: 5)))
        #expect(r.takeServo().count == 24)
        #expect(r.send(.targets(JointValues([2048, 1000, 3000]))) == .ack(Ack(type: .targets, seq: 6)))
        #expect(r.takeServo() == v["servo sync_goal3"]![0])
        #expect(r.c.watchdog == .armed)
    }

    @Test func torqueOffActionCutsAtTheTrip() {
        var r = Rig()
        var c = config3
        c.watchdogMs = 200
        c.action = .torqueOff
        r.send(.configure(c))
        r.send(.torque(enable: true))
        _ = r.takeServo()
        r.advance(to: 200)
        #expect(r.servo.isEmpty)
        r.advance(to: 201)
        #expect(r.takeServo().count == 24)
        #expect(r.c.watchdog == .torqueOff)
    }

    @Test func statusEveryHundredMillisecondsAndCountsCorruptFrames() throws {
        let v = try loadVectors()
        var r = Rig()
        var bad = v["frame targets3"]![1]
        bad[7] ^= 0x01  // a body byte (index 5 is a COBS code byte)
        r.feed(bad)
        r.feed([UInt8](repeating: 0x41, count: 300) + [0])
        r.feed([0x02, 0x01, 0x00])
        r.advance(to: 1000)
        let statuses = r.host.compactMap { f -> Status? in if case .status(let s) = f.message { s } else { nil } }
        #expect(statuses.count == 10)
        #expect(statuses.map(\.uptimeMs) == [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000])
        #expect(statuses.last!.crcErrors == 1 && statuses.last!.oversize == 1 && statuses.last!.badFrames == 1)
        #expect(statuses.last!.rxFrames == 0)
        // Host frames carry consecutive sequence numbers.
        #expect(r.host.map(\.seq) == (0..<10).map { UInt8($0) })
    }

    @Test func lateLoopDoesNotShiftTheStatusSchedule() {
        var r = Rig()
        // A tick 3 ms late does not push the next report to 203: it stays due at 200 (drift-free).
        for t: UInt32 in [103, 200, 300] { r.now = t; r.c.tick(now: t); r.drain() }
        // A stall of more than a period restarts the schedule from now: one report, no burst.
        r.now = 650; r.c.tick(now: 650); r.drain()
        r.now = 700; r.c.tick(now: 700); r.drain()
        r.now = 750; r.c.tick(now: 750); r.drain()
        let ups = r.host.compactMap { f -> UInt32? in if case .status(let s) = f.message { s.uptimeMs } else { nil } }
        #expect(ups == [103, 200, 300, 650, 750])
    }
}
