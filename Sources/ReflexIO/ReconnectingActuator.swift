import BridgeProtocol

/// Thrown by an actuator whose link is down: the control loop counts the tick as a hold.
public struct ActuatorUnavailable: Error, CustomStringConvertible {
    public let reason: String
    /// The link has just come back and the arm's pose was measured again: the command of this tick was
    /// not sent, and the loop must take `reference()` as its new reference before the next one.
    public var referenceChanged = false
    public init(reason: String, referenceChanged: Bool = false) {
        self.reason = reason
        self.referenceChanged = referenceChanged
    }
    public var description: String { "actuator unavailable: \(reason)" }
}

/// An actuator on a link that can drop (serial unplug, USB reset, MCU reboot). On an I/O error it
/// drops the link and reports `ActuatorUnavailable` — the loop holds, sending nothing — and reopens
/// it through `connect` with exponential backoff (0.1 s doubling to 2 s). A reconnect re-runs the
/// actuator's set-up, which measures the arm's pose again before enabling torque (the arm may have
/// sagged or been moved while the link was down; a pose outside the limits keeps the link down, with
/// the reason logged, until someone moves the arm back). The command of the tick that reconnected is
/// not sent: that tick reports `ActuatorUnavailable` with `referenceChanged`, and the loop takes the
/// new `reference()` — the measured pose — so the next command starts there, limited by max_step.
public final class ReconnectingActuator: Actuator {
    private let connect: () throws -> Actuator
    public private(set) var inner: Actuator?
    private var nextAttempt = 0.0
    private var backoff = 0.1
    public private(set) var disconnects = 0
    public private(set) var reconnects = 0
    public private(set) var lastError: String?
    /// Called with a message when the link drops or comes back (logging).
    public var onEvent: ((String) -> Void)?

    public init(connect: @escaping () throws -> Actuator) throws {
        self.connect = connect
        inner = try connect()
    }

    public var isConnected: Bool { inner != nil }

    /// The inner actuator's reference (the pose measured at its set-up); reconnects first if needed.
    public func reference() throws -> [Float] { try link().actuator.reference() }
    public func send(_ command: [Float]) throws { try use { try $0.send(command) } }
    public func hold() throws { try use { try $0.hold() } }

    private func link() throws -> (actuator: Actuator, reconnected: Bool) {
        if let inner { return (inner, false) }
        let now = monotonicSeconds()
        guard now >= nextAttempt else { throw ActuatorUnavailable(reason: lastError ?? "link down") }
        let a: Actuator
        do {
            a = try connect()
        } catch {
            let reason = "\(error)"
            if reason != lastError { onEvent?("reconnect failed: \(reason)") }  // once per distinct reason
            lastError = reason
            nextAttempt = now + backoff
            backoff = min(backoff * 2, 2)
            throw ActuatorUnavailable(reason: reason)
        }
        inner = a
        reconnects += 1
        backoff = 0.1
        lastError = nil
        onEvent?("link restored (reconnect \(reconnects)); pose measured again, resuming from it")
        return (a, true)
    }

    private func use(_ body: (Actuator) throws -> Void) throws {
        let (a, reconnected) = try link()
        // The command in hand was made from the old reference: not sent; the loop resynchronizes.
        if reconnected { throw ActuatorUnavailable(reason: "link restored: resynchronizing to the measured pose", referenceChanged: true) }
        do {
            try body(a)
        } catch let e where e is SerialError || e is BridgeError {
            inner = nil
            disconnects += 1
            lastError = "\(e)"
            nextAttempt = monotonicSeconds() + backoff
            onEvent?("link lost: \(e); holding and reconnecting")
            throw ActuatorUnavailable(reason: lastError!)
        }
    }
}
