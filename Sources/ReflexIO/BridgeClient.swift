import BridgeProtocol

/// Errors talking to the motor controller.
public enum BridgeError: Error, CustomStringConvertible {
    case timeout(String)
    case refused(MessageType, NackReason)

    public var description: String {
        switch self {
        case .timeout(let what): "no reply from the motor controller: \(what)"
        case .refused(let t, let r): "the motor controller refused \(t): \(r) (\(r.explanation))"
        }
    }
}

extension NackReason {
    /// What the refusal means, for error messages (PROTOCOL.md, NACK reasons).
    public var explanation: String {
        switch self {
        case .notConfigured: "not configured"
        case .torqueOff: "torque is off"
        case .jointCountMismatch: "joint count differs from the configuration"
        case .invalidLimits: "invalid limits"
        case .invalidIDs: "invalid servo IDs"
        case .invalidWatchdog: "invalid watchdog settings"
        case .torqueEnabled: "torque is on: configure needs torque off"
        case .watchdogTripped: "the watchdog tripped: enable torque again first"
        case .unsupported: "not a host-to-controller message"
        case .positionsUnknown: "not every servo answered the controller's position read: check power, cables, IDs"
        case .positionOutOfLimits: "a joint's measured position is outside its configured limits: move it by hand into range"
        }
    }
}

/// The host side of the bridge (firmware-bridge/PROTOCOL.md) over a serial port: numbered requests,
/// ACK/NACK matching, STATUS collection.
public final class BridgeClient {
    public let port: SerialPort
    public private(set) var decoder = FrameDecoder()
    /// Next sequence number. A new client starts at 0 (the controller treats 0 as a new session).
    public private(set) var seq: UInt8 = 0
    /// Every STATUS received, with its CLOCK_MONOTONIC arrival time.
    public private(set) var statuses: [(status: Status, time: Double)] = []
    var pending: [Frame] = []

    public init(port: SerialPort) throws {
        self.port = port
        // A lone delimiter ends whatever partial frame the controller may hold.
        try port.write([0])
    }

    /// Sends one message; returns its sequence number.
    @discardableResult
    public func send(_ message: Message) throws -> UInt8 {
        let s = seq
        try port.write(message.wireFrame(seq: s))  // from the fixed-capacity frame: no heap allocation
        seq &+= 1
        return s
    }

    /// Reads for up to `timeout` seconds (returns as soon as some frames arrived).
    public func receive(timeout: Double) throws -> [Frame] {
        let deadline = monotonicSeconds() + timeout
        while true {
            let left = deadline - monotonicSeconds()
            let bytes = try port.read(timeoutMs: Int32(max(0, min(left, 1.0)) * 1000))
            let now = monotonicSeconds()
            var frames: [Frame] = []
            for b in bytes {
                if let f = decoder.feed(b) {
                    if case .status(let s) = f.message { statuses.append((s, now)) }
                    frames.append(f)
                }
            }
            if !frames.isEmpty || now >= deadline { return frames }
        }
    }

    /// Sends `message` and waits for the ACK or NACK that names its sequence number.
    /// Returns the ACK; a NACK throws `BridgeError.refused`.
    @discardableResult
    public func request(_ message: Message, timeout: Double = 1.0) throws -> Ack {
        let s = try send(message)
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            for f in try receive(timeout: deadline - monotonicSeconds()) {
                switch f.message {
                case .ack(let a) where a.seq == s && a.type == message.type: return a
                case .nack(let n) where n.seq == s && n.type == message.type: throw BridgeError.refused(n.type, n.reason)
                default: continue
                }
            }
        }
        throw BridgeError.timeout("\(message.type) (seq \(s)) not acknowledged within \(Int(timeout * 1000)) ms" + versionHint)
    }

    /// Asks for a STATUS and returns it with the round-trip time in seconds (request written →
    /// STATUS decoded). The reply is the first STATUS that arrives after the request and reports
    /// the request's sequence number as the last one received.
    public func requestStatus(timeout: Double = 1.0) throws -> (status: Status, roundTrip: Double) {
        let t0 = monotonicSeconds()
        let s = try send(.statusRequest)
        let deadline = t0 + timeout
        while monotonicSeconds() < deadline {
            for f in try receive(timeout: deadline - monotonicSeconds()) {
                if case .status(let st) = f.message, st.lastRxSeq == s, st.rxFrames > 0 {
                    return (st, monotonicSeconds() - t0)
                }
            }
        }
        throw BridgeError.timeout("no STATUS within \(Int(timeout * 1000)) ms of a status request" + versionHint)
    }

    /// Frames from a controller that speaks another protocol version are dropped by the decoder; say so
    /// in a timeout, since that is the likely cause.
    var versionHint: String {
        let n = decoder.counters.versionErrors
        return n == 0 ? "" : " (\(n) frames of another protocol version were dropped: host and firmware must both speak version \(BridgeWire.version); flash the matching firmware)"
    }

    /// The newest STATUS carrying a measured pose of `jointCount` joints (the `positionsMeasured` flag)
    /// no older than `maxAgeMs`, asking for one every 50 ms until `timeout`. Nil when statuses came
    /// but none had such a pose (then `statuses.last` says which servos answered); a timeout error
    /// when no STATUS came at all.
    public func awaitMeasuredPose(jointCount: Int, timeout: Double = 1.0, maxAgeMs: UInt16 = 300) throws -> Status? {
        let deadline = monotonicSeconds() + timeout
        var nextAsk = 0.0
        var sawStatus = false
        while true {
            let now = monotonicSeconds()
            if now >= deadline { break }
            if now >= nextAsk { try send(.statusRequest); nextAsk = now + 0.05 }
            for f in try receive(timeout: min(deadline, nextAsk) - now) {
                guard case .status(let st) = f.message else { continue }
                sawStatus = true
                if st.flags.contains(.positionsMeasured) && st.measured.count == jointCount && st.measuredAgeMs <= maxAgeMs { return st }
            }
        }
        if !sawStatus { throw BridgeError.timeout("no STATUS within \(Int(timeout * 1000)) ms" + versionHint) }
        return nil
    }

    /// Waits for the next periodic STATUS.
    public func nextStatus(timeout: Double = 1.0) throws -> Status {
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            for f in try receive(timeout: deadline - monotonicSeconds()) {
                if case .status(let st) = f.message { return st }
            }
        }
        throw BridgeError.timeout("no STATUS within \(Int(timeout * 1000)) ms")
    }
}
