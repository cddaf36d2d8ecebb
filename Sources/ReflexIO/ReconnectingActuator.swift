import BridgeProtocol

/// Thrown by an actuator whose link is down: the control loop counts the tick as a hold.
public struct ActuatorUnavailable: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "actuator unavailable: \(reason)" }
}

/// An actuator on a link that can drop (serial unplug, USB reset, MCU reboot). On an I/O error it
/// drops the link and reports `ActuatorUnavailable` — the loop holds, sending nothing — and reopens
/// it through `connect` with exponential backoff (0.1 s doubling to 2 s). A reconnect re-runs the
/// actuator's set-up (configure and torque for the bridge, torque for a Feetech bus); commands then
/// continue from the last command the safety stage let through, which the servos still hold.
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

    public func reference() throws -> [Float] { try link().reference() }
    public func send(_ command: [Float]) throws { try use { try $0.send(command) } }
    public func hold() throws { try use { try $0.hold() } }

    private func link() throws -> Actuator {
        if let inner { return inner }
        let now = monotonicSeconds()
        guard now >= nextAttempt else { throw ActuatorUnavailable(reason: lastError ?? "link down") }
        do {
            let a = try connect()
            inner = a
            reconnects += 1
            backoff = 0.1
            onEvent?("link restored (reconnect \(reconnects))")
            return a
        } catch {
            lastError = "\(error)"
            nextAttempt = now + backoff
            backoff = min(backoff * 2, 2)
            throw ActuatorUnavailable(reason: lastError!)
        }
    }

    private func use(_ body: (Actuator) throws -> Void) throws {
        let a = try link()
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
