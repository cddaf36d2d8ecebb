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

    /// Bytes arriving on the servo bus (replies, or the half-duplex echo of what was sent).
    mutating func feedServo(_ bytes: [UInt8]) {
        for b in bytes { c.receiveServo(b, now: now) }
        drain()
    }

    /// Runs the clock until the controller has a Present_Position read on the bus, answers it for the
    /// given (id, position) pairs like the servos would (echo of the request first, as on a
    /// half-duplex line), and returns the request bytes.
    @discardableResult
    mutating func answerRead(_ positions: [(UInt8, Int)]) -> [UInt8] {
        var n = 0
        while !c.reading && n < 1000 { now += 1; c.tick(now: now); drain(); n += 1 }
        let request = takeServo()
        feedServo(request)
        for (id, p) in positions { feedServo(positionReply(id, p)) }
        return request
    }

    /// Measures config3's servos inside their limits and enables torque; returns the reply.
    @discardableResult
    mutating func measureAndEnable(_ positions: [Int] = [2048, 1000, 2000]) -> Message? {
        answerRead(zip([UInt8(1), 2, 3], positions).map { ($0, $1) })
        let reply = send(.torque(enable: true))
        _ = takeServo()
        return reply
    }
}

/// A servo's status packet answering a Present_Position read (sign-magnitude, as the STS register).
func positionReply(_ id: UInt8, _ position: Int) -> [UInt8] {
    var data = ByteBuffer<2>()
    data.appendLE16(position < 0 ? UInt16(0x8000 | -position) : UInt16(position))
    var out = ByteBuffer<16>()
    Feetech.packet(id: id, instruction: 0, params: data, into: &out)
    return out.array
}

func syncGoal(_ ids: [UInt8], _ positions: [UInt16]) -> [UInt8] {
    var out = ByteBuffer<64>()
    Feetech.syncWriteGoalPosition(ids: ServoIDs(ids), positions: JointValues(positions), into: &out)
    return out.array
}

/// Splits servo-bus bytes into packets by their LEN byte (well-formed input only).
func servoPackets(_ bytes: [UInt8]) -> [[UInt8]] {
    var out: [[UInt8]] = [], i = 0
    while i + 4 <= bytes.count { let end = i + 4 + Int(bytes[i + 3]); out.append(Array(bytes[i..<min(end, bytes.count)])); i = end }
    return out
}

extension Rig {

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
        // Nothing but position reads reached the bus: no servo answers, so one every 40 + 100 ms.
        let v = try! loadVectors()
        let packets = servoPackets(r.takeServo())
        #expect(packets.count == 15 && packets.allSatisfy { $0 == v["servo sync_read3"]![0] })
        let s = r.lastStatus!
        #expect(s.flags.contains(.configured) && !s.flags.contains(.torqueEnabled) && !s.flags.contains(.positionsMeasured))
        #expect(s.measuredMask == 0 && s.measured == MeasuredValues([0, 0, 0]))
        // Without a measured pose torque stays off.
        #expect(r.send(.torque(enable: true)) == .nack(Nack(type: .torque, seq: 4, reason: .positionsUnknown)))
        #expect(r.servo.isEmpty && !r.c.torqueOn)
        #expect(s.watchdog == .disarmed && s.nacks == 3 && s.watchdogTrips == 0)
    }

    @Test func goldenFramesProduceGoldenServoPackets() throws {
        let v = try loadVectors()
        var r = Rig()
        r.feed(v["frame configure3"]![1])
        #expect(r.host.last?.message == .ack(Ack(type: .configure, seq: 2)))
        // The next tick reads the pose; the servos answer with the golden replies (after the echo).
        r.advance(to: r.now + 1)
        let request = r.takeServo()
        #expect(request == v["servo sync_read3"]![0])
        r.feedServo(request)
        for name in ["reply_position_id1_2040", "reply_position_id2_1010", "reply_position_id3_2990"] { r.feedServo(v["servo " + name]![0]) }
        #expect(!r.c.reading && r.c.measured == MeasuredValues([2040, 1010, 2990]) && r.c.measuredMask == 0b111)
        r.feed(v["frame torque_on"]![1])
        #expect(r.host.last?.message == .ack(Ack(type: .torque, seq: 3)))
        // Goals set to the measured pose first, then torque on: enabling does not move the arm.
        let torqueOn = r.takeServo()
        #expect(torqueOn.count == 17 + 24)
        #expect(Array(torqueOn.prefix(17)) == syncGoal([1, 2, 3], [2040, 1010, 2990]))
        #expect(Array(torqueOn[17..<25]) == v["servo torque_on_id1"]![0])
        #expect(r.c.applied == JointValues([2040, 1010, 2990]))
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
        #expect(s.firmwareMajor == 2 && s.rxFrames == 6)
        #expect(s.measured.count == 0 && !s.flags.contains(.positionsMeasured))  // e-stop drops the configuration and the pose
        #expect(s.lastRxSeq == 1 && s.seqGaps == 2)  // 2→3 ok, 3→5 gap, 7→0 new session, 0→1 ok... 5→7 gap
    }

    @Test func clampsToConfiguredLimits() {
        var r = Rig()
        r.send(.configure(config3))
        #expect(r.measureAndEnable() == .ack(Ack(type: .torque, seq: 1)))
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
        #expect(r.measureAndEnable() == .ack(Ack(type: .torque, seq: 6)))
        #expect(r.send(.configure(config3)) == .nack(Nack(type: .configure, seq: 7, reason: .torqueEnabled)))
    }

    @Test func watchdogHoldsThenCutsTorqueAtTheConfiguredTimes() throws {
        let v = try loadVectors()
        var r = Rig(now: 10_000)
        r.send(.configure(config3))
        r.measureAndEnable()
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
        // Nothing but position reads reaches the bus while silent (torque is off again, so the pose is read).
        #expect(servoPackets(r.takeServo()).allSatisfy { $0 == v["servo sync_read3"]![0] })
        let s = try #require(r.lastStatus)
        #expect(s.watchdogTrips == 1 && s.watchdog == .torqueOff && !s.flags.contains(.torqueEnabled))
        // Re-enable from the pose measured now (the arm sagged while torque was off): goals first, then torque.
        r.answerRead([(1, 2000), (2, 1100), (3, 2900)])
        #expect(r.send(.torque(enable: true)) == .ack(Ack(type: .torque, seq: 5)))
        let on = r.takeServo()
        #expect(on.count == 17 + 24 && Array(on.prefix(17)) == syncGoal([1, 2, 3], [2000, 1100, 2900]))
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
        r.measureAndEnable()
        let fed = r.now
        r.advance(to: fed + 200)
        #expect(r.servo.isEmpty)  // no reads while torque is on
        r.advance(to: fed + 201)
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

    @Test func refusesTorqueWhenAJointIsOutsideItsLimits() throws {
        let v = try loadVectors()
        var r = Rig()
        r.send(.configure(config3))
        r.answerRead([(1, 2040), (2, 3900), (3, 2990)])  // joint 2's limits are 500…3500
        let s = try #require({ r.send(.statusRequest) }().flatMap { m -> Status? in if case .status(let s) = m { s } else { nil } })
        #expect(s.flags.contains(.positionsMeasured) && s.measured == MeasuredValues([2040, 3900, 2990]) && s.measuredMask == 0b111)
        #expect(s.measuredAgeMs == 0)
        #expect(r.send(.torque(enable: true)) == .nack(Nack(type: .torque, seq: 2, reason: .positionOutOfLimits)))
        #expect(r.servo.isEmpty && !r.c.torqueOn && r.c.applied.count == 0)  // no goal, no torque written
        // A negative reading (sign-magnitude bit 15) is decoded and is outside too.
        r.answerRead([(1, 2040), (2, 1010)])
        r.feedServo(v["servo reply_position_id3_minus5"]![0])
        #expect(r.c.measured == MeasuredValues([2040, 1010, -5]))
        #expect(r.send(.torque(enable: true)) == .nack(Nack(type: .torque, seq: 3, reason: .positionOutOfLimits)))
        // Moved by hand into range: the next read lets torque on.
        r.answerRead([(1, 2040), (2, 1010), (3, 2990)])
        #expect(r.send(.torque(enable: true)) == .ack(Ack(type: .torque, seq: 4)))
    }

    @Test func aSilentServoLeavesThePoseUnknown() {
        var r = Rig()
        r.send(.configure(config3))
        r.answerRead([(1, 2048), (3, 2048)])
        #expect(r.c.reading)  // still waiting for servo 2
        r.advance(to: r.now + 40)  // the read times out
        #expect(!r.c.reading && r.c.measuredMask == 0b101)
        r.send(.statusRequest)
        let s = r.lastStatus!
        #expect(!s.flags.contains(.positionsMeasured) && s.measuredMask == 0b101 && s.measured == MeasuredValues([2048, 0, 2048]))
        #expect(r.send(.torque(enable: true)) == .nack(Nack(type: .torque, seq: 2, reason: .positionsUnknown)))
        #expect(r.servo.isEmpty)
    }

    @Test func aHostCommandAbandonsAReadInFlightAndLateRepliesAreIgnored() {
        var r = Rig()
        r.send(.configure(config3))
        r.answerRead([(1, 2048)])
        #expect(r.c.reading)
        r.send(.configure(config3))  // writes nothing, but a command for the bus ends the read
        #expect(!r.c.reading)
        r.feedServo(positionReply(2, 2048) + positionReply(3, 2048))
        #expect(r.c.measuredMask == 0 && !r.c.positionsMeasured)
        // A reply from an ID that is not configured, or with the wrong length, does not count either.
        r.answerRead([(1, 2048), (2, 2048), (9, 2048)])
        var bad = ByteBuffer<16>(); var data = ByteBuffer<3>(); data.append(0); data.append(8); data.append(0)
        Feetech.packet(id: 3, instruction: 0, params: data, into: &bad)
        r.feedServo(bad.array)
        #expect(r.c.reading && !r.c.positionsMeasured)
        r.feedServo(positionReply(3, 2100))
        #expect(!r.c.reading && r.c.positionsMeasured && r.c.measured == MeasuredValues([2048, 2048, 2100]))
    }

    @Test func positionsAreReadEveryPeriodWithTorqueOffAndNeverWithTorqueOn() {
        var r = Rig()
        r.send(.configure(config3))
        let first = r.answerRead([(1, 2048), (2, 1000), (3, 2000)])
        let t = r.now
        r.advance(to: t + 99)
        #expect(r.servo.isEmpty)
        r.advance(to: t + 100)
        #expect(r.takeServo() == first)  // the next read, 100 ms after the last one completed
        r.feedServo(positionReply(1, 2049) + positionReply(2, 1001) + positionReply(3, 2001))
        #expect(r.send(.torque(enable: true)) == .ack(Ack(type: .torque, seq: 1)))
        #expect(Array(r.takeServo().prefix(17)) == syncGoal([1, 2, 3], [2049, 1001, 2001]))
        for _ in 0..<5 { r.advance(to: r.now + 100); r.send(.heartbeat) }
        #expect(r.servo.isEmpty)
        let s = r.send(.statusRequest)
        if case .status(let st) = s { #expect(st.measuredAgeMs == 500 && st.flags.contains(.positionsMeasured)) } else { Issue.record("no status") }
        #expect(r.send(.torque(enable: false)) == .ack(Ack(type: .torque, seq: 8)))
        #expect(r.takeServo().count == 24)
        r.advance(to: r.now + 1)
        #expect(r.takeServo() == first)  // torque off: reading again
    }
}
