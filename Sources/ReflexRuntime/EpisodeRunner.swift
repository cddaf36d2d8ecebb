import ReflexCore
import ReflexIO
import ReflexModels
import ReflexSim

/// Runs simulated episodes through the real control loop: frame → action source (VLA or generator) →
/// mapping → safety stage → simulator. What `reflex eval`, `reflex run` on the sim board and the tests
/// share.
public final class EpisodeRunner {
    /// How episodes are run.
    public struct Options {
        /// Pace ticks at `rateHz` in real time and apply the frame budget (`run`); otherwise ticks run back
        /// to back with no budget (accuracy evaluation).
        public var realTime = false
        public var rateHz = 10.0
        public var frameBudgetMs = Double.infinity
        /// The safety limits (default: the simulated arm's, `EpisodeRunner.simLimits()`).
        public var limits: SafetyStage.Limits?
        public var scheduler = SchedulerSettings()

        public init(realTime: Bool = false, rateHz: Double = 10, frameBudgetMs: Double = .infinity,
                    limits: SafetyStage.Limits? = nil, scheduler: SchedulerSettings = SchedulerSettings()) {
            self.realTime = realTime
            self.rateHz = rateHz
            self.frameBudgetMs = frameBudgetMs
            self.limits = limits
            self.scheduler = scheduler
        }
    }

    /// What one episode produced.
    public struct Outcome {
        public var success: Bool
        public var steps: Int
        public var instruction: String
        public var loop: ControlLoop.Stats
    }

    public let policy: VLAPolicy
    public let options: Options
    private let vla: InstructedPolicy
    private let limits: SafetyStage.Limits

    public init(policy: VLAPolicy, options: Options) throws {
        if let p = options.scheduler.problem { throw SchedulerSettingsError(key: p.key, message: p.message) }
        self.policy = policy
        self.options = options
        vla = InstructedPolicy(policy, instruction: "")
        limits = try options.limits ?? Self.simLimits()
    }

    /// The safety limits of the simulated arm (ReflexSim's workspace and step limits, gripper free).
    public static func simLimits() throws -> SafetyStage.Limits {
        try SafetyStage.Limits(lower: [World.workspaceMin.x, World.workspaceMin.y, World.workspaceMin.z, 0],
                               upper: [World.workspaceMax.x, World.workspaceMax.y, World.workspaceMax.z, 1],
                               maxStep: [World.maxStep, World.maxStep, World.maxStep, 1])
    }

    /// Runs one episode to its end (success or step limit). `onTick` sees the rig and loop after every tick
    /// and may throw to stop early.
    public func run(family: TaskFamily, seed: UInt64, onTick: (SimRig, ControlLoop) throws -> Void = { _, _ in }) throws -> Outcome {
        let rig = SimRig(family: family, seed: seed)
        vla.instruction = rig.sim.task.instruction
        let source = SyncActionSource(vla: vla, scheduler: SPVLAScheduler(settings: options.scheduler), statistics: policy.statistics)
        let loop = ControlLoop(source: rig, actuator: rig, mapping: ActionMapping(robot: BoardProfile.Robot(kind: .cartesian)), limits: limits,
                               frameBudgetMs: options.realTime ? options.frameBudgetMs : .infinity,
                               maxFrameAgeMs: options.realTime ? 1000 / options.rateHz : .infinity,
                               historyCapacity: options.scheduler.buffer, actions: source)
        try loop.resynchronize()
        var pacer = Pacer(rateHz: options.rateHz)
        while !rig.sim.done {
            try loop.tick()
            try onTick(rig, loop)
            if options.realTime { pacer.wait() }
        }
        return Outcome(success: rig.sim.success, steps: rig.sim.steps, instruction: rig.sim.task.instruction, loop: loop.stats)
    }
}

/// A scheduler parameter out of range, by its profile key.
public struct SchedulerSettingsError: Error, CustomStringConvertible {
    public let key: String
    public let message: String
    public var description: String { "scheduler \(key): \(message)" }
}
