import ReflexCore

/// A camera frame and when it was captured (monotonic seconds, the clock `monotonicSeconds()` reads).
public struct CameraFrame: Sendable {
    public var image: RGBImage
    public var timestamp: Double
    public var sequence: Int
    /// Where the end effector appears in the image, as fractions of its width and height (0…1), when the source
    /// knows it (the simulator does); what SQAP-VLA's robot-aware pruning protects.
    public var endEffector: (u: Double, v: Double)?
    public init(image: RGBImage, timestamp: Double, sequence: Int, endEffector: (u: Double, v: Double)? = nil) {
        self.image = image
        self.timestamp = timestamp
        self.sequence = sequence
        self.endEffector = endEffector
    }
}

/// Where frames come from: a V4L2 camera, a replay folder, the simulator. `latest()` never
/// blocks for long: it returns the newest frame (nil when there is none yet or the device is lost).
/// It throws for a frame that cannot be used (a corrupt or truncated file in a replay, a decode
/// error): the control loop holds that tick and counts it as a bad frame; the next call may succeed.
public protocol FrameSource: AnyObject {
    func latest() throws -> CameraFrame?
}

/// The loop cannot go on: the actuator's owner runs the stop sequence (hold, torque off when the
/// profile says so, close) and the service exits 1.
public struct ControlLoopFailure: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Where safe commands go: the bridge to the motor controller, a Feetech bus, the simulator.
/// Commands are absolute, in the robot's command space (see `BoardProfile.safetyLimits()`).
public protocol Actuator: AnyObject {
    /// The measured (or last commanded) position, used as the reference for the first command.
    func reference() throws -> [Float]
    func send(_ command: [Float]) throws
    /// Keep the previous command in force (and keep the link alive).
    func hold() throws
}

/// Turns the model's 7-D action (robot units, after un-normalization) into an absolute command.
public struct ActionMapping: Sendable {
    public let robot: BoardProfile.Robot

    public init(robot: BoardProfile.Robot) { self.robot = robot }

    /// Components of a command: cartesian x, y, z, gripper; joints one per joint, gripper.
    public var commandCount: Int { robot.kind == .cartesian ? 4 : robot.joints.count + 1 }

    /// The fewest action components a command can be made from (cartesian: dx, dy, dz).
    public var requiredActionCount: Int { robot.kind == .cartesian ? 3 : 0 }

    /// cartesian: reference xyz + (dx, dy, dz), gripper command; joints: reference joint + action ×
    /// units_per_action for each joint, gripper command. Rotations are not used by either mapping.
    public func command(for action: [Float], reference: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: commandCount)
        command(for: action, reference: reference, into: &out)
        return out
    }

    /// The same, written into `out` (`commandCount` entries): no allocation on the tick path.
    public func command(for action: [Float], reference: [Float], into out: inout [Float]) {
        let gripper = action.count > 6 ? action[6] : reference[reference.count - 1]
        switch robot.kind {
        case .cartesian:
            for i in 0..<3 { out[i] = reference[i] + action[i] }
            out[3] = gripper
        case .joints:
            for (i, j) in robot.joints.enumerated() {
                out[i] = reference[i] + (i < action.count - 1 ? action[i] : 0) * Float(j.unitsPerAction)
            }
            out[robot.joints.count] = gripper
        }
    }
}

/// The frame-budget control loop: each tick takes the newest frame, asks the action source (the VLA,
/// the scheduler's generator, or nothing), and sends a safe command — or holds. It never applies a late
/// action: a frame older than `max_frame_age_ms`, a tick whose own work overruns the frame budget, an
/// action computed from a frame older than `max_action_age_ms`, a policy error or an unsafe action all
/// hold. It keeps the scheduler's `ActionHistory` of executed actions and clears it on every hold,
/// safety limit, reconnect, resynchronization and e-stop.
public final class ControlLoop {
    public typealias Policy = (RGBImage) throws -> [Float]

    /// Tick outcome counters and latency samples.
    public struct Stats: Sendable, Codable {
        public var ticks = 0
        public var sent = 0
        public var holds = 0
        public var overruns = 0
        public var staleFrames = 0
        public var noFrame = 0
        public var policyErrors = 0
        public var unsafe = 0
        /// Ticks held because the actuator's link was down.
        public var linkDown = 0
        /// Ticks held because the frame source failed (a corrupt frame, a decode error).
        public var badFrames = 0
        /// Sent actions by origin.
        public var vlaActions = 0
        public var generatorActions = 0
        /// Ticks the action source had nothing for (no fresh VLA result, generator not allowed).
        public var noAction = 0
        /// Actions held because their frame was older than `max_action_age_ms` when they arrived.
        public var lateActions = 0
        /// Sent commands the safety stage changed (step limit or clamp); each clears the history.
        public var limited = 0
        /// Origin changes (VLA ↔ generator) between consecutive sent actions.
        public var switches = 0
        /// Whole tick (frame → command sent), ms (the newest 65536 ticks).
        public var tickMs = SampleWindow()
        /// Everything but VLA inference, ms.
        public var overheadMs = SampleWindow()
        /// Frame age when the tick took it, ms.
        public var frameAgeMs = SampleWindow()
        /// Compute time of each sent action, by origin, ms.
        public var vlaMs = SampleWindow()
        public var generatorMs = SampleWindow()
        /// Age of each sent action's frame when the command went out, ms.
        public var actionAgeMs = SampleWindow()

        public init() {}
    }

    public let source: FrameSource
    public let actuator: Actuator
    public let mapping: ActionMapping
    public private(set) var safety: SafetyStage
    public let budget: Double
    public let maxFrameAge: Double
    /// Actions whose frame is older than this (seconds) when they would be applied are held.
    public let maxActionAge: Double
    /// Consecutive bad frames after which `tick()` throws ``ControlLoopFailure``.
    public let maxBadFrames: Int
    /// Consecutive policy errors (the VLA threw, or gave an unusable action) after which `tick()` throws
    /// ``ControlLoopFailure``.
    public let maxPolicyErrors: Int
    /// Policy errors in a row so far.
    public private(set) var consecutivePolicyErrors = 0
    public var actions: ActionSource
    /// Called with each bad frame's error (logging); the tick holds.
    public var onBadFrame: ((Error) -> Void)?
    /// Bad frames in a row so far.
    public private(set) var consecutiveBadFrames = 0
    public private(set) var stats = Stats()
    /// The executed actions the scheduler may extrapolate from.
    public private(set) var history: ActionHistory
    /// The newest tick's origin (`.hold` when it held).
    public private(set) var lastOrigin: ActionOrigin = .hold
    public private(set) var lastHold: String?
    /// The loop's clock: monotonic seconds, or simulated time in a virtual-time eval.
    public let clock: () -> Double
    /// The newest sent action's origin, for counting switches.
    private var previousSentOrigin: ActionOrigin?
    /// Where the action source writes (preallocated: the tick path allocates nothing).
    private var slot = ActionSlot()
    /// The command being built this tick (preallocated).
    private var commandBuffer: [Float]

    public init(source: FrameSource, actuator: Actuator, mapping: ActionMapping, limits: SafetyStage.Limits,
                frameBudgetMs: Double, maxFrameAgeMs: Double, maxActionAgeMs: Double = .infinity, maxBadFrames: Int = 50,
                maxPolicyErrors: Int = 10, historyCapacity: Int = 6, clock: @escaping () -> Double = monotonicSeconds,
                actions: ActionSource) {
        self.source = source
        self.actuator = actuator
        self.mapping = mapping
        self.safety = SafetyStage(limits: limits)
        self.budget = frameBudgetMs / 1000
        self.maxFrameAge = maxFrameAgeMs / 1000
        self.maxActionAge = maxActionAgeMs / 1000
        self.maxBadFrames = max(1, maxBadFrames)
        self.maxPolicyErrors = max(1, maxPolicyErrors)
        self.history = ActionHistory(capacity: max(1, historyCapacity))
        self.clock = clock
        self.actions = actions
        commandBuffer = [Float](repeating: 0, count: mapping.commandCount)
    }

    /// A loop whose every acting tick is `policy(frame)` (no scheduler): tests and fixed-action benches.
    public convenience init(source: FrameSource, actuator: Actuator, mapping: ActionMapping, limits: SafetyStage.Limits,
                            frameBudgetMs: Double, maxFrameAgeMs: Double, maxBadFrames: Int = 50, policy: @escaping Policy) {
        self.init(source: source, actuator: actuator, mapping: mapping, limits: limits, frameBudgetMs: frameBudgetMs,
                  maxFrameAgeMs: maxFrameAgeMs, maxBadFrames: maxBadFrames, actions: FunctionActionSource(policy))
    }

    /// The newest sent action (robot units), for status lines; nil after a hold.
    public var lastAction: [Float]? { lastOrigin == .hold ? nil : slot.action }

    /// Re-reads the actuator's position as the safety reference (start-up, after reconnects, after
    /// the simulator resets); the history starts over.
    public func resynchronize() throws {
        safety.reset(to: try actuator.reference())
        history.clear()
        previousSentOrigin = nil
        actions.reset()
    }

    /// Clears the counters and latency windows (e.g. after warm-up).
    public func resetStats() { stats = Stats() }

    public func estop() {
        safety.estop()
        history.clear()
    }

    /// Runs one tick now. A bad frame holds; ``ControlLoopFailure`` after `maxBadFrames` of them in a
    /// row (the tick has held first). Errors from the actuator other than a dropped link propagate.
    public func tick() throws {
        let t0 = clock()
        stats.ticks += 1
        let latest: CameraFrame?
        do {
            latest = try source.latest()
            consecutiveBadFrames = 0
        } catch {
            consecutiveBadFrames += 1
            onBadFrame?(error)
            try hold("bad frame", \.badFrames, t0, inference: 0)
            if consecutiveBadFrames >= maxBadFrames {
                throw ControlLoopFailure(description: "\(consecutiveBadFrames) bad frames in a row (camera.max_bad_frames is \(maxBadFrames)); the last: \(error)")
            }
            return
        }
        guard let frame = latest else { return try hold("no frame", \.noFrame, t0, inference: 0) }
        let age = t0 - frame.timestamp
        stats.frameAgeMs.append(age * 1000)
        guard age <= maxFrameAge else { return try hold("stale frame", \.staleFrames, t0, inference: 0) }
        let t1 = clock()
        let origin: ActionOrigin
        do {
            // The context lives only for this call: no binding of the frame or the reference outlives it.
            let context = TickContext(now: t1, budgetLeft: budget - (t1 - t0), frame: frame, frameAge: age, tick: stats.ticks - 1)
            origin = try actions.nextAction(context, history: history, into: &slot)
        } catch {
            return try policyError("\(error)", t0, inference: clock() - t1)
        }
        let t2 = clock()
        // VLA inference is what the overhead excludes; a generator step counts as loop overhead.
        let inference = origin == .vla ? t2 - t1 : 0
        if origin == .hold { return try hold("no action", \.noAction, t0, inference: inference) }
        guard slot.action.count >= mapping.requiredActionCount else {
            return try policyError("\(slot.action.count)-component action", t0, inference: inference)
        }
        consecutivePolicyErrors = 0
        if t2 - t0 > budget { return try hold("overrun", \.overruns, t0, inference: inference) }
        let actionAge = t2 - slot.frameTimestamp
        if actionAge > maxActionAge { return try hold("late action", \.lateActions, t0, inference: inference) }
        guard safety.last != nil else { return try hold("no reference", \.unsafe, t0, inference: inference) }
        // No binding of the reference outlives this call: `safety.limit` then updates its own storage in
        // place instead of copying it (a copy-on-write allocation every tick).
        mapping.command(for: slot.action, reference: safety.last!, into: &commandBuffer)
        let limitedBefore = safety.counters.limited
        if let reason = safety.limit(&commandBuffer) {
            return try hold(reason.rawValue, \.unsafe, t0, inference: inference, counted: true)
        }
        do {
            try actuator.send(commandBuffer)
        } catch let e as ActuatorUnavailable {
            if e.referenceChanged { try resynchronize() }  // link back, pose re-measured: start from it
            history.clear()
            stats.linkDown += 1
            stats.holds += 1
            lastHold = "link down"
            lastOrigin = .hold
            record(t0, inference: inference)
            return
        }
        // What the history may extrapolate from: only actions that went out as the source meant them.
        if safety.counters.limited != limitedBefore {
            stats.limited += 1
            history.clear()
        } else if slot.normalized.count >= ActionHistory.width {
            history.append(slot.normalized, origin: origin, frameTimestamp: slot.frameTimestamp, executedAt: t2)
        } else {
            history.clear()
        }
        if let previous = previousSentOrigin, previous != origin { stats.switches += 1 }
        previousSentOrigin = origin
        lastHold = nil
        lastOrigin = origin
        stats.sent += 1
        if origin == .vla {
            stats.vlaActions += 1
            stats.vlaMs.append(slot.computeSeconds * 1000)
        } else {
            stats.generatorActions += 1
            stats.generatorMs.append(slot.computeSeconds * 1000)
        }
        stats.actionAgeMs.append(actionAge * 1000)
        record(t0, inference: inference)
    }

    /// A held tick for a policy error; ``ControlLoopFailure`` after `maxPolicyErrors` in a row.
    private func policyError(_ why: String, _ t0: Double, inference: Double) throws {
        consecutivePolicyErrors += 1
        try hold("policy error: " + why, \.policyErrors, t0, inference: inference)
        if consecutivePolicyErrors >= maxPolicyErrors {
            throw ControlLoopFailure(description: "\(consecutivePolicyErrors) policy errors in a row; the last: \(why)")
        }
    }

    private func hold(_ why: String, _ counter: WritableKeyPath<Stats, Int>, _ t0: Double, inference: Double, counted: Bool = false) throws {
        if !counted { safety.hold(.fault) }
        history.clear()
        stats[keyPath: counter] += 1
        stats.holds += 1
        lastHold = why
        lastOrigin = .hold
        do { try actuator.hold() } catch let e as ActuatorUnavailable {
            if e.referenceChanged { try resynchronize() }  // link back, pose re-measured: start from it
            stats.linkDown += 1
        }
        record(t0, inference: inference)
    }

    private func record(_ t0: Double, inference: Double) {
        let total = clock() - t0
        stats.tickMs.append(total * 1000)
        stats.overheadMs.append((total - inference) * 1000)
    }
}

/// A fixed-capacity window of the newest latency samples: memory stays bounded however long the
/// service runs, and appending never allocates once the window is full.
public struct SampleWindow: Sendable, Codable {
    public let capacity: Int
    private var storage: [Double] = []
    /// Samples appended so far (including the ones the window no longer holds).
    public private(set) var total = 0

    public init(capacity: Int = 1 << 16) {
        self.capacity = capacity
        storage.reserveCapacity(capacity)
    }

    public mutating func append(_ v: Double) {
        if storage.count < capacity { storage.append(v) } else { storage[total % capacity] = v }
        total += 1
    }

    /// The samples held (oldest overwritten first once full; order not preserved).
    public var values: [Double] { storage }
    public var last: Double? { total == 0 ? nil : storage[(total - 1) % capacity] }
}

/// Percentile (nearest rank) of unsorted samples; 0 when empty.
public func percentile(_ samples: [Double], _ p: Double) -> Double {
    guard !samples.isEmpty else { return 0 }
    let s = samples.sorted()
    let rank = Int((p / 100 * Double(s.count)).rounded(.up)) - 1
    return s[min(max(rank, 0), s.count - 1)]
}
