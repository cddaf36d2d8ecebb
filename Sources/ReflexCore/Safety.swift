/// The safety stage every command passes before it reaches a motor (or the simulator).
///
/// It works on absolute commands in the robot's command space — end-effector pose + gripper for a
/// Cartesian arm, joint targets + gripper for a servo bus — so that limits mean the same thing
/// whatever the policy emitted. In order: e-stop latch → finite check (any NaN/Inf → hold) → per-tick
/// step limit relative to the last command that went out → gripper rate limit → clamp to limits.
/// A hold means "send nothing new": the previous command stays in force.
public struct SafetyStage: Sendable {
    /// Limits for one command space.
    public struct Limits: Sendable, Equatable {
        /// Absolute lower/upper bound per command component.
        public var lower: [Float]
        public var upper: [Float]
        /// Largest change per tick per component (the gripper's entry is its rate limit).
        public var maxStep: [Float]

        public init(lower: [Float], upper: [Float], maxStep: [Float]) throws {
            guard !lower.isEmpty, lower.count == upper.count, lower.count == maxStep.count else {
                throw TensorError.invalidArgument("SafetyStage.Limits: lower/upper/maxStep need one entry per component (\(lower.count)/\(upper.count)/\(maxStep.count))")
            }
            for i in lower.indices {
                guard lower[i].isFinite, upper[i].isFinite, lower[i] <= upper[i] else {
                    throw TensorError.invalidArgument("SafetyStage.Limits: component \(i): lower \(lower[i]) must be ≤ upper \(upper[i]), both finite")
                }
                guard maxStep[i].isFinite, maxStep[i] >= 0 else {
                    throw TensorError.invalidArgument("SafetyStage.Limits: component \(i): maxStep \(maxStep[i]) must be finite and ≥ 0")
                }
            }
            self.lower = lower
            self.upper = upper
            self.maxStep = maxStep
        }
    }

    /// Why a command was held.
    public enum HoldReason: String, Sendable, Codable {
        case nonFinite = "non-finite action"
        case estop = "e-stop"
        case fault = "fault"
        case noReference = "no reference command"
    }

    /// What the stage decided for one tick.
    public enum Decision: Sendable, Equatable {
        /// Send this (limited) command.
        case send([Float])
        /// Send nothing new; keep the previous command.
        case hold(HoldReason)
    }

    /// Counters for status lines and summaries.
    public struct Counters: Sendable, Equatable, Codable {
        public var sent = 0
        public var held = 0
        /// Commands changed by the step limit or the clamp.
        public var limited = 0
        public var nonFinite = 0
    }

    public let limits: Limits
    public private(set) var counters = Counters()
    public private(set) var estopped = false
    /// The last command that went out (the reference for the step limit).
    public private(set) var last: [Float]?

    public init(limits: Limits, initial: [Float]? = nil) {
        self.limits = limits
        self.last = initial
    }

    /// Sets the reference command (e.g. the measured position at start-up or after a reconnect).
    public mutating func reset(to command: [Float]) { last = command.map { $0 } }  // own storage

    /// Latches the e-stop: every later tick holds until `releaseEStop()`.
    public mutating func estop() { estopped = true }
    public mutating func releaseEStop() { estopped = false }

    /// Records a hold for a fault detected elsewhere (camera lost, late inference, link down).
    @discardableResult
    public mutating func hold(_ reason: HoldReason) -> Decision {
        counters.held += 1
        return .hold(reason)
    }

    /// Filters one desired absolute command.
    public mutating func filter(_ desired: [Float]) -> Decision {
        var out = desired
        if let reason = limit(&out) { return .hold(reason) }
        return .send(out)
    }

    /// The control loop's allocation-free form of `filter`: limits `command` in place and returns nil
    /// when it may be sent, or why the tick holds (then `command` is unspecified and must not be sent).
    public mutating func limit(_ command: inout [Float]) -> HoldReason? {
        precondition(command.count == limits.lower.count, "SafetyStage: \(command.count) components, limits have \(limits.lower.count)")
        if estopped { hold(.estop); return .estop }
        for v in command where !v.isFinite {
            counters.nonFinite += 1
            hold(.nonFinite)
            return .nonFinite
        }
        guard last != nil else { hold(.noReference); return .noReference }
        var changed = false
        for i in command.indices {
            let ref = last![i]
            var v = min(max(command[i], ref - limits.maxStep[i]), ref + limits.maxStep[i])
            v = min(max(v, limits.lower[i]), limits.upper[i])
            if v != command[i] { changed = true }
            command[i] = v
            last![i] = v  // element-wise: `last` keeps its own storage
        }
        if changed { counters.limited += 1 }
        counters.sent += 1
        return nil
    }
}
