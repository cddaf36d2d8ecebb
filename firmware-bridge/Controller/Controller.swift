// The motor controller's logic: protocol handling, limits, watchdog, status. Hardware-free: the
// firmware feeds it bytes and a millisecond clock and drains its two output buffers (host link and
// servo bus); the host unit tests do the same with an injected clock. No allocation anywhere.
import BridgeProtocol

public struct Controller {
    public static let firmwareVersion: (major: UInt8, minor: UInt8, patch: UInt8) = (2, 0, 0)
    /// STATUS is sent every `statusPeriodMs`, whatever the state.
    public static let statusPeriodMs: UInt32 = 100
    /// While configured with torque off, Present_Position is read (one SYNC_READ) every `readPeriodMs`.
    public static let readPeriodMs: UInt32 = 100
    /// A read ends when every servo answered or after `readTimeoutMs`.
    public static let readTimeoutMs: UInt32 = 40

    /// Frames for the host (USART1). Drain after every `receive`/`tick`.
    public var hostOut = ByteBuffer<512>()
    /// Packets for the servo bus (USART2). Drain after every `receive`/`tick`.
    public var servoOut = ByteBuffer<512>()

    public private(set) var decoder = FrameDecoder()
    public private(set) var configuration: Configuration? = nil
    public private(set) var torqueOn = false
    public private(set) var estopped = false
    public private(set) var holdCommanded = false
    public private(set) var watchdog = WatchdogState.disarmed
    public private(set) var applied = JointValues()
    /// Present_Position per configured joint from the latest completed read.
    public private(set) var measured = MeasuredValues()
    /// Bit i: joint i answered the latest completed read.
    public private(set) var measuredMask: UInt16 = 0
    /// A SYNC_READ is on the bus, waiting for the servos' replies.
    public private(set) var reading = false

    var bootMs: UInt32
    var lastFeedMs: UInt32
    var tripMs: UInt32 = 0
    var nextStatusMs: UInt32
    var txSeq: UInt8 = 0
    var lastRxSeq: UInt8 = 0
    var haveRx = false
    var nacks: UInt32 = 0
    var seqGaps: UInt32 = 0
    var watchdogTrips: UInt32 = 0
    var clampedTargets: UInt32 = 0
    var haveMeasurement = false
    var measuredAtMs: UInt32 = 0
    var nextReadMs: UInt32 = 0
    var readStartMs: UInt32 = 0
    var readMask: UInt16 = 0
    var readValues = MeasuredValues()
    var servoParser = FeetechStatusParser()

    public init(now: UInt32) {
        bootMs = now
        lastFeedMs = now
        nextStatusMs = now &+ Controller.statusPeriodMs
    }

    // MARK: inputs

    /// One byte from the host link.
    public mutating func receive(_ byte: UInt8, now: UInt32) {
        guard let frame = decoder.feed(byte) else { return }
        if haveRx && frame.seq != lastRxSeq &+ 1 && frame.seq != 0 { seqGaps &+= 1 }
        haveRx = true
        lastRxSeq = frame.seq
        handle(frame, now: now)
    }

    /// One byte from the servo bus (USART2). Only replies to a read in flight are used: a status
    /// packet from a configured ID with exactly 2 data bytes. The echo of our own SYNC_READ (ID 0xFE)
    /// on a half-duplex line is ignored, and no other packet is sent while a read is in flight.
    public mutating func receiveServo(_ byte: UInt8, now: UInt32) {
        guard reading, let config = configuration else { return }
        guard let reply = servoParser.feed(byte), let position = Feetech.presentPosition(reply) else { return }
        for i in 0..<config.ids.count where config.ids[i] == reply.id {
            readValues[i] = Int16(clamping: position)
            readMask |= 1 << UInt16(i)
        }
        if readMask == Controller.fullMask(config.jointCount) { finishRead(now: now) }
    }

    /// Time passes: position reads, watchdog and periodic status.
    public mutating func tick(now: UInt32) {
        if reading && now &- readStartMs >= Controller.readTimeoutMs { finishRead(now: now) }
        // Reads only with torque off (before enabling, after a trip): with torque on the bus carries
        // the goal writes, and a read must never share the half-duplex line with another packet.
        if let config = configuration, !torqueOn, !reading, servoOut.isEmpty, Int32(bitPattern: now &- nextReadMs) >= 0 {
            reading = true
            readStartMs = now
            readMask = 0
            readValues = MeasuredValues(count: config.jointCount, value: 0)
            servoParser = FeetechStatusParser()
            Feetech.syncReadPresentPosition(ids: config.ids, into: &servoOut)
        }
        if let config = configuration, torqueOn {
            let age = now &- lastFeedMs
            switch watchdog {
            case .armed where age > UInt32(config.watchdogMs):
                watchdogTrips &+= 1
                tripMs = now
                if config.action == .torqueOff {
                    cutTorque()
                } else {
                    watchdog = .holding
                    if applied.count > 0 { Feetech.syncWriteGoalPosition(ids: config.ids, positions: applied, into: &servoOut) }
                }
            case .holding where now &- tripMs >= UInt32(config.torqueOffDelayMs):
                cutTorque()
            default:
                break
            }
        }
        // Signed distance so a late tick does not wait a whole clock wrap.
        if Int32(bitPattern: now &- nextStatusMs) >= 0 {
            sendStatus(now: now)
            // Drift-free: the next report is due one period after this one was due, so a loop that
            // runs a millisecond late does not shift every later report; after a longer stall the
            // schedule restarts from now instead of bursting to catch up.
            nextStatusMs = nextStatusMs &+ Controller.statusPeriodMs
            if Int32(bitPattern: now &- nextStatusMs) >= 0 { nextStatusMs = now &+ Controller.statusPeriodMs }
        }
    }

    // MARK: state

    public func status(now: UInt32) -> Status {
        var s = Status()
        if configuration != nil { s.flags.insert(.configured) }
        if torqueOn { s.flags.insert(.torqueEnabled) }
        if estopped { s.flags.insert(.estopped) }
        if holdCommanded { s.flags.insert(.holdCommanded) }
        s.watchdog = watchdog
        s.firmwareMajor = Controller.firmwareVersion.major
        s.firmwareMinor = Controller.firmwareVersion.minor
        s.firmwarePatch = Controller.firmwareVersion.patch
        s.uptimeMs = now &- bootMs
        s.feedAgeMs = now &- lastFeedMs
        s.lastRxSeq = lastRxSeq
        let c = decoder.counters
        s.rxFrames = c.frames
        s.crcErrors = c.crcErrors
        s.badFrames = c.badFrames
        s.oversize = c.oversize
        s.nacks = nacks
        s.seqGaps = seqGaps
        s.watchdogTrips = watchdogTrips
        s.clampedTargets = clampedTargets
        s.applied = applied
        if let config = configuration {
            s.measured = measured
            s.measuredMask = measuredMask
            if haveMeasurement {
                s.measuredAgeMs = UInt16(truncatingIfNeeded: min(now &- measuredAtMs, 0xFFFF))
                if measuredMask == Controller.fullMask(config.jointCount) { s.flags.insert(.positionsMeasured) }
            }
        }
        return s
    }

    /// True when every configured joint answered the latest completed read.
    public var positionsMeasured: Bool {
        guard let config = configuration, haveMeasurement else { return false }
        return measuredMask == Controller.fullMask(config.jointCount)
    }

    static func fullMask(_ n: Int) -> UInt16 { n >= 16 ? 0xFFFF : (1 << UInt16(n)) - 1 }

    mutating func finishRead(now: UInt32) {
        reading = false
        measured = readValues
        measuredMask = readMask
        measuredAtMs = now
        haveMeasurement = true
        nextReadMs = now &+ Controller.readPeriodMs
    }

    /// A host command is about to write to the servo bus: a read in flight is abandoned (its replies
    /// would collide with the write) and retried on the next tick.
    mutating func cancelRead(now: UInt32) {
        if reading { reading = false; nextReadMs = now }
    }

    // MARK: handling

    mutating func handle(_ frame: Frame, now: UInt32) {
        let type = frame.message.type
        switch frame.message {
        case .configure, .torque, .hold, .estop: cancelRead(now: now)
        default: break
        }
        switch frame.message {
        case .heartbeat:
            if watchdog == .armed { lastFeedMs = now }
            ack(type, frame.seq)
        case .statusRequest:
            sendStatus(now: now)
        case .configure(let c):
            if torqueOn { return nack(type, frame.seq, .torqueEnabled) }
            if let reason = Controller.validate(c) { return nack(type, frame.seq, reason) }
            configuration = c
            applied = JointValues()
            // New servos: the pose is unknown until they answer a read (the next tick starts one).
            measured = MeasuredValues(count: c.jointCount, value: 0)
            measuredMask = 0
            haveMeasurement = false
            nextReadMs = now
            estopped = false
            holdCommanded = false
            watchdog = .disarmed
            ack(type, frame.seq)
        case .torque(let enable):
            guard let config = configuration else { return nack(type, frame.seq, .notConfigured) }
            if enable {
                if !torqueOn {
                    // From torque off: only with a measured pose inside the limits, and the goals set
                    // to that pose first, so enabling torque holds the arm where it is.
                    guard positionsMeasured else { return nack(type, frame.seq, .positionsUnknown) }
                    var goals = JointValues()
                    for i in 0..<config.jointCount {
                        let p = Int(measured[i])
                        if p < Int(config.minimum[i]) || p > Int(config.maximum[i]) { return nack(type, frame.seq, .positionOutOfLimits) }
                        goals.append(UInt16(p))
                    }
                    applied = goals
                    Feetech.syncWriteGoalPosition(ids: config.ids, positions: applied, into: &servoOut)
                }
                if !torqueOn || watchdog != .armed {
                    for i in 0..<config.ids.count { Feetech.writeTorqueEnable(id: config.ids[i], enable: true, into: &servoOut) }
                }
                torqueOn = true
                watchdog = .armed
                lastFeedMs = now
            } else {
                for i in 0..<config.ids.count { Feetech.writeTorqueEnable(id: config.ids[i], enable: false, into: &servoOut) }
                torqueOn = false
                watchdog = .disarmed
            }
            holdCommanded = false
            ack(type, frame.seq)
        case .targets(let targets):
            guard let config = configuration else { return nack(type, frame.seq, .notConfigured) }
            if watchdog == .holding || watchdog == .torqueOff { return nack(type, frame.seq, .watchdogTripped) }
            guard torqueOn else { return nack(type, frame.seq, .torqueOff) }
            guard targets.count == config.jointCount else { return nack(type, frame.seq, .jointCountMismatch) }
            var clamped = targets
            var n: UInt8 = 0
            for i in 0..<clamped.count {
                let v = min(max(clamped[i], config.minimum[i]), config.maximum[i])
                if v != clamped[i] { n &+= 1; clamped[i] = v }
            }
            clampedTargets &+= UInt32(n)
            applied = clamped
            holdCommanded = false
            lastFeedMs = now
            Feetech.syncWriteGoalPosition(ids: config.ids, positions: applied, into: &servoOut)
            ack(type, frame.seq, detail: n)
        case .hold:
            guard let config = configuration else { return nack(type, frame.seq, .notConfigured) }
            guard torqueOn else { return nack(type, frame.seq, .torqueOff) }
            holdCommanded = true
            if applied.count > 0 { Feetech.syncWriteGoalPosition(ids: config.ids, positions: applied, into: &servoOut) }
            ack(type, frame.seq)
        case .estop:
            // Broadcast: every servo on the bus, configured or not.
            Feetech.writeTorqueEnable(id: Feetech.broadcastID, enable: false, into: &servoOut)
            torqueOn = false
            watchdog = .disarmed
            configuration = nil
            measured = MeasuredValues()
            measuredMask = 0
            haveMeasurement = false
            estopped = true
            holdCommanded = false
            ack(type, frame.seq)
        case .status, .ack, .nack:
            nack(type, frame.seq, .unsupported)
        }
    }

    /// Nil when the configuration is acceptable, else the reason.
    public static func validate(_ c: Configuration) -> NackReason? {
        let n = c.jointCount
        guard n >= 1, n <= BridgeWire.maxJoints, c.minimum.count == n, c.maximum.count == n else { return .invalidLimits }
        for i in 0..<n {
            let id = c.ids[i]
            if id > 0xFD { return .invalidIDs }
            for j in 0..<i where c.ids[j] == id { return .invalidIDs }
            if c.minimum[i] > c.maximum[i] || c.maximum[i] > 4095 { return .invalidLimits }
        }
        if c.watchdogMs < 20 || c.watchdogMs > 60_000 || c.torqueOffDelayMs > 60_000 { return .invalidWatchdog }
        return nil
    }

    mutating func cutTorque() {
        if let config = configuration {
            for i in 0..<config.ids.count { Feetech.writeTorqueEnable(id: config.ids[i], enable: false, into: &servoOut) }
        }
        torqueOn = false
        watchdog = .torqueOff
    }

    mutating func send(_ message: Message) {
        let wire = message.wireFrame(seq: txSeq)
        txSeq &+= 1
        hostOut.append(contentsOf: wire)
    }

    mutating func sendStatus(now: UInt32) { send(.status(status(now: now))) }

    mutating func ack(_ type: MessageType, _ seq: UInt8, detail: UInt8 = 0) {
        send(.ack(Ack(type: type, seq: seq, detail: detail)))
    }

    mutating func nack(_ type: MessageType, _ seq: UInt8, _ reason: NackReason) {
        nacks &+= 1
        send(.nack(Nack(type: type, seq: seq, reason: reason)))
    }
}
