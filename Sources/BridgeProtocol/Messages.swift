// Messages of the Reflex bridge protocol (firmware-bridge/PROTOCOL.md). Fixed-size value types only:
// no classes, no existentials, no allocation, so the firmware uses them as they are.

/// Message type codes (byte 1 of a frame).
public enum MessageType: UInt8, Sendable {
    case heartbeat = 0x01
    case statusRequest = 0x02
    case configure = 0x10
    case torque = 0x11
    case targets = 0x12
    case hold = 0x13
    case estop = 0x14
    case status = 0x80
    case ack = 0x81
    case nack = 0x82
}

/// Up to `BridgeWire.maxJoints` integers in fixed storage (no allocation): one per joint.
public struct BoundedList<Element: FixedWidthInteger & Sendable>: Equatable, Sendable {
    public private(set) var count: Int
    var storage: InlineArray<16, Element>

    public init() { count = 0; storage = InlineArray(repeating: .zero) }

    /// `count` entries (clamped to the capacity), all `value`.
    public init(count: Int, value: Element) {
        self.init()
        for _ in 0..<min(max(count, 0), BridgeWire.maxJoints) { append(value) }
    }

    public subscript(i: Int) -> Element {
        get { storage[i] }
        set { storage[i] = newValue }
    }

    /// Appends a value; returns false when full.
    @discardableResult
    public mutating func append(_ v: Element) -> Bool {
        guard count < BridgeWire.maxJoints else { return false }
        storage[count] = v
        count += 1
        return true
    }

    public static func == (a: BoundedList, b: BoundedList) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a.storage[i] != b.storage[i] { return false }
        return true
    }
}

/// 16-bit values, one per joint (positions or limits, servo units).
public typealias JointValues = BoundedList<UInt16>
/// Servo bus IDs, one per joint.
public typealias ServoIDs = BoundedList<UInt8>
/// Measured positions, one per joint (signed servo units).
public typealias MeasuredValues = BoundedList<Int16>

extension BoundedList where Element == UInt8 {
    /// IDs 1...count.
    public init(sequentialCount count: Int) {
        self.init()
        for i in 0..<min(max(count, 0), BridgeWire.maxJoints) { append(UInt8(i + 1)) }
    }
}

/// What the watchdog does when it trips.
public enum WatchdogAction: UInt8, Sendable {
    /// Hold the last applied position, then torque off after `torqueOffDelayMs`.
    case holdThenTorqueOff = 0
    /// Torque off at once.
    case torqueOff = 1
}

/// CONFIGURE body.
public struct Configuration: Equatable, Sendable {
    public var ids: ServoIDs
    public var minimum: JointValues
    public var maximum: JointValues
    public var watchdogMs: UInt16
    public var action: WatchdogAction
    public var torqueOffDelayMs: UInt16

    public var jointCount: Int { ids.count }

    public static let defaultWatchdogMs: UInt16 = 500
    public static let defaultTorqueOffDelayMs: UInt16 = 1000

    public init(ids: ServoIDs, minimum: JointValues, maximum: JointValues,
                watchdogMs: UInt16 = Configuration.defaultWatchdogMs,
                action: WatchdogAction = .holdThenTorqueOff,
                torqueOffDelayMs: UInt16 = Configuration.defaultTorqueOffDelayMs) {
        self.ids = ids
        self.minimum = minimum
        self.maximum = maximum
        self.watchdogMs = watchdogMs
        self.action = action
        self.torqueOffDelayMs = torqueOffDelayMs
    }

    /// Default limits (0...4095, the full STS turn), watchdog 500 ms, hold then torque off after 1 s.
    public init(ids: ServoIDs) {
        self.init(ids: ids, minimum: JointValues(count: ids.count, value: 0),
                  maximum: JointValues(count: ids.count, value: 4095))
    }
}

/// Watchdog state reported in STATUS.
public enum WatchdogState: UInt8, Sendable {
    /// Torque is off by command (or never enabled): nothing to watch.
    case disarmed = 0
    /// Torque on, fed in time.
    case armed = 1
    /// Tripped: holding the last applied position.
    case holding = 2
    /// Tripped: torque cut.
    case torqueOff = 3
}

/// STATUS flags (bit set).
public struct StatusFlags: Equatable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let configured = StatusFlags(rawValue: 1 << 0)
    public static let torqueEnabled = StatusFlags(rawValue: 1 << 1)
    public static let estopped = StatusFlags(rawValue: 1 << 2)
    public static let holdCommanded = StatusFlags(rawValue: 1 << 3)
    /// Every configured servo answered the latest completed Present_Position read: `measured` is the
    /// arm's pose (protocol version 2).
    public static let positionsMeasured = StatusFlags(rawValue: 1 << 4)
    public func contains(_ f: StatusFlags) -> Bool { rawValue & f.rawValue == f.rawValue }
    public mutating func insert(_ f: StatusFlags) { rawValue |= f.rawValue }
    public mutating func remove(_ f: StatusFlags) { rawValue &= ~f.rawValue }
}

/// STATUS body: the controller's state and its error counters.
public struct Status: Equatable, Sendable {
    public var flags = StatusFlags(rawValue: 0)
    public var watchdog = WatchdogState.disarmed
    public var firmwareMajor: UInt8 = 0
    public var firmwareMinor: UInt8 = 0
    public var firmwarePatch: UInt8 = 0
    public var uptimeMs: UInt32 = 0
    /// Milliseconds since the watchdog was last fed (saturates).
    public var feedAgeMs: UInt32 = 0
    /// Sequence number of the last valid frame received.
    public var lastRxSeq: UInt8 = 0
    /// Valid frames received.
    public var rxFrames: UInt32 = 0
    public var crcErrors: UInt32 = 0
    /// COBS errors, short frames, wrong version, unknown type, malformed body.
    public var badFrames: UInt32 = 0
    /// Runs longer than the maximum frame, dropped.
    public var oversize: UInt32 = 0
    public var nacks: UInt32 = 0
    public var seqGaps: UInt32 = 0
    public var watchdogTrips: UInt32 = 0
    /// Target values the controller clamped to the configured limits.
    public var clampedTargets: UInt32 = 0
    /// The goal positions last written to the servos (count = configured joints, 0 before any).
    public var applied = JointValues()
    /// Milliseconds since the latest completed Present_Position read (saturates at 65535, which also
    /// means "never read since configure").
    public var measuredAgeMs: UInt16 = 0xFFFF
    /// Bit i set: joint i's servo answered the latest completed read.
    public var measuredMask: UInt16 = 0
    /// Present_Position of each configured joint from the latest completed read (count = configured
    /// joints, 0 before configure; an entry whose mask bit is clear is 0 and meaningless). Signed:
    /// the STS register is sign-magnitude, decoded by the controller.
    public var measured = MeasuredValues()

    public init() {}
}

/// Why a command was refused.
public enum NackReason: UInt8, Sendable {
    case notConfigured = 1
    case torqueOff = 2
    case jointCountMismatch = 3
    case invalidLimits = 4
    case invalidIDs = 5
    case invalidWatchdog = 6
    case torqueEnabled = 7
    case watchdogTripped = 8
    case unsupported = 9
    /// TORQUE on refused: not every configured servo answered the latest position read (version 2).
    case positionsUnknown = 10
    /// TORQUE on refused: a joint's measured position is outside its configured limits (version 2).
    case positionOutOfLimits = 11
}

/// ACK body: which frame it answers, plus a type-specific detail (TARGETS: joints clamped).
public struct Ack: Equatable, Sendable {
    public var type: MessageType
    public var seq: UInt8
    public var detail: UInt8
    public init(type: MessageType, seq: UInt8, detail: UInt8 = 0) { self.type = type; self.seq = seq; self.detail = detail }
}

/// NACK body.
public struct Nack: Equatable, Sendable {
    public var type: MessageType
    public var seq: UInt8
    public var reason: NackReason
    public init(type: MessageType, seq: UInt8, reason: NackReason) { self.type = type; self.seq = seq; self.reason = reason }
}

/// One protocol message.
public enum Message: Equatable, Sendable {
    case heartbeat
    case statusRequest
    case configure(Configuration)
    case torque(enable: Bool)
    case targets(JointValues)
    case hold
    case estop
    case status(Status)
    case ack(Ack)
    case nack(Nack)

    public var type: MessageType {
        switch self {
        case .heartbeat: .heartbeat
        case .statusRequest: .statusRequest
        case .configure: .configure
        case .torque: .torque
        case .targets: .targets
        case .hold: .hold
        case .estop: .estop
        case .status: .status
        case .ack: .ack
        case .nack: .nack
        }
    }
}

/// A decoded frame: sequence number and message.
public struct Frame: Equatable, Sendable {
    public var seq: UInt8
    public var message: Message
    public init(seq: UInt8, message: Message) { self.seq = seq; self.message = message }
}
