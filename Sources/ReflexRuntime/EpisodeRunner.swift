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
        /// `async` without `realTime` runs in simulated time: one simulator step per control tick at `rateHz`, a
        /// VLA result available `vlaLatencyMs` of simulated time after its frame. With `realTime` the VLA runs on
        /// its own thread and ticks are paced on the monotonic clock, as on a board.
        public var mode = ExecutionMode.sync
        /// nil: the inference's own measured time.
        public var vlaLatencyMs: Double? = 0
        public var maxActionAgeMs = Double.infinity

        public init(realTime: Bool = false, rateHz: Double = 10, frameBudgetMs: Double = .infinity,
                    limits: SafetyStage.Limits? = nil, scheduler: SchedulerSettings = SchedulerSettings(),
                    mode: ExecutionMode = .sync, vlaLatencyMs: Double? = 0, maxActionAgeMs: Double = .infinity) {
            self.realTime = realTime
            self.rateHz = rateHz
            self.frameBudgetMs = frameBudgetMs
            self.limits = limits
            self.scheduler = scheduler
            self.mode = mode
            self.vlaLatencyMs = vlaLatencyMs
            self.maxActionAgeMs = maxActionAgeMs
        }
    }

    /// What one episode produced.
    public struct Outcome {
        public var success: Bool
        public var steps: Int
        public var instruction: String
        public var loop: ControlLoop.Stats
        /// async: VLA inferences launched, and results dropped as too old.
        public var vlaLaunches = 0
        public var staleResults = 0
        /// What the effective action rate divides by: simulated seconds (async in simulated time), wall seconds
        /// (real time), or VLA + generator compute seconds (sync, back to back).
        public var seconds = 0.0
        /// Why the loop ran its stop path before the episode ended (e.g. 10 policy errors in a row: a policy
        /// that emits no action for the same state again and again); nil when the episode ran to its end.
        /// Such an episode is a failure; the next one starts afresh.
        public var stoppedBy: String?
    }

    public let options: Options
    public let vla: InstructableVLA
    /// Un-normalizes the generator's actions (nil: the VLA's normalized units are the robot's).
    public let statistics: ActionStatistics?
    private let limits: SafetyStage.Limits

    public init(vla: InstructableVLA, statistics: ActionStatistics?, options: Options) throws {
        if let p = options.scheduler.problem { throw SchedulerSettingsError(key: p.key, message: p.message) }
        self.vla = vla
        self.statistics = statistics
        self.options = options
        limits = try options.limits ?? Self.simLimits()
    }

    /// Episodes of a loaded checkpoint.
    public convenience init(policy: VLAPolicy, options: Options) throws {
        try self.init(vla: InstructedPolicy(policy, instruction: ""), statistics: policy.statistics, options: options)
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
        let virtual = options.mode == .async && !options.realTime
        let clock = SimulatedClock()
        let now: () -> Double
        if virtual { now = { clock.now } } else { now = monotonicSeconds }
        let rig = SimRig(family: family, seed: seed, clock: now)
        vla.instruction = rig.sim.task.instruction
        (vla as? ExpertVLA)?.rig = rig
        let latency = options.vlaLatencyMs.map { $0 / 1000 }
        let actions = ActionSourceFactory.make(
            BoardProfile.Scheduler(mode: options.mode, settings: options.scheduler, maxActionAgeMs: options.maxActionAgeMs),
            vla: vla, statistics: statistics,
            executor: { virtual ? VirtualVLAExecutor(vla: $0, latency: latency) as VLAExecutor : ThreadedVLAExecutor(vla: $0) })
        defer { actions.shutdown() }
        let async = actions as? AsyncActionSource
        let loop = ControlLoop(source: rig, actuator: rig, mapping: ActionMapping(robot: BoardProfile.Robot(kind: .cartesian)), limits: limits,
                               frameBudgetMs: options.realTime ? options.frameBudgetMs : .infinity,
                               maxFrameAgeMs: options.realTime ? 1000 / options.rateHz : .infinity,
                               maxActionAgeMs: options.maxActionAgeMs, historyCapacity: options.scheduler.historyCapacity, clock: now, actions: actions)
        try loop.resynchronize()
        var pacer = Pacer(rateHz: options.rateHz)
        let started = monotonicSeconds()
        var stoppedBy: String?
        while !rig.sim.done {
            do {
                try loop.tick()
            } catch let failure as ControlLoopFailure {
                stoppedBy = failure.description
                break
            }
            try onTick(rig, loop)
            if options.realTime { pacer.wait() }
            clock.now += 1 / options.rateHz
        }
        let st = loop.stats
        let compute = (st.vlaMs.values.reduce(0, +) + st.generatorMs.values.reduce(0, +)) / 1000
        return Outcome(success: stoppedBy == nil && rig.sim.success, steps: rig.sim.steps, instruction: rig.sim.task.instruction, loop: st,
                       vlaLaunches: async?.launches ?? st.vlaActions, staleResults: async?.staleResults ?? 0,
                       seconds: virtual ? clock.now : options.realTime ? monotonicSeconds() - started : compute, stoppedBy: stoppedBy)
    }
}

/// Simulated seconds: one control period per tick.
final class SimulatedClock {
    var now = 0.0
}

/// A scheduler parameter out of range, by its profile key.
public struct SchedulerSettingsError: Error, CustomStringConvertible {
    public let key: String
    public let message: String
    public var description: String { "scheduler \(key): \(message)" }
}
