import ArgumentParser
import Foundation
import ReflexCore
import ReflexIO
import ReflexModels
import ReflexRuntime
import ReflexSim

/// `reflex eval`: closed-loop success in the simulator, through the real runtime stack.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Closed-loop task success of a policy in the simulator (LIBERO-style).",
        discussion: """
            Each step renders the camera frame, runs the policy (preprocess → vision → projector → language \
            model → action decoding → un-normalization), maps the action to an end-effector command, passes it \
            through the safety stage (finite check, step limit, workspace clamp) and applies it. An episode \
            succeeds when the task's success test holds before its step limit. Seeds default to 1000000 and \
            up, never used for training demonstrations. Reports per task the success rate with a 95% Wilson \
            interval, mean episode length and per-step policy latency percentiles.
            """
    )

    @Option(help: "Task family (pick_place, push, reach) or all.")
    var task: String = "all"

    @Option(help: "Checkpoint directory (default: the committed trained policy), or 'expert': the scripted expert in the VLA's seat, reading the simulator when its frame is captured — what a scheduler reaches with a perfect policy.")
    var model: String = defaultSimModel

    static let expertModel = "expert"

    @Option(help: "Episodes per task family.")
    var episodes: Int = 20

    @Option(help: "First episode seed (held-out seeds start at 1000000).")
    var seed: UInt64 = 1_000_000

    @Option(help: "Linear-layer precision: fp32 or int8.")
    var quant: Precision = .fp32

    @Option(name: .customLong("min-success"), help: "Exit 1 if any task's success rate is below this (CI guard).")
    var minSuccess: Double?

    @Option(help: "sync: each tick is a VLA call or a generator step, run back to back (the papers' setting). async: ticks at --rate in simulated time, the VLA's result arriving --vla-latency-ms after its frame (a board's setting).")
    var mode: ExecutionMode = .sync

    @Option(help: "Control rate in async mode, Hz.")
    var rate: Double = 10

    @Option(name: .customLong("vla-latency-ms"), help: "async: simulated VLA latency, ms, or 'measured' (each inference's own time on this machine).")
    var vlaLatency: VLALatency = .fixed(0)

    @Option(name: .customLong("max-action-age-ms"), help: "async: an action whose frame is older than this is never applied (default: 2 × latency + one period, so the generator can bridge one VLA interval; 1000 for 'measured').")
    var maxActionAgeMs: Double?

    @OptionGroup(title: "Scheduler") var schedulerOptions: SchedulerOptions

    @OptionGroup(title: "Pruning") var pruning: PruningOptions

    @Flag(help: "Print one JSON object on stdout.")
    var json = false

    func validate() throws {
        _ = try taskFamilies(task)
        guard episodes > 0 else { throw ValidationError("--episodes must be positive, got \(episodes)") }
        try validateSeeds(seed, episodes)
        guard rate.isFinite, (0.1...1000).contains(rate) else { throw ValidationError("--rate must be 0.1…1000 Hz, got \(rate)") }
        if mode == .sync {
            if case .fixed(let l) = vlaLatency, l != 0 { throw ValidationError("--vla-latency-ms needs --mode async (sync runs each VLA call inline)") }
            if maxActionAgeMs != nil { throw ValidationError("--max-action-age-ms needs --mode async") }
        }
        if let m = maxActionAgeMs, !(m.isFinite && m >= 1000 / rate) {
            throw ValidationError("--max-action-age-ms must be at least one control period (\(1000 / rate) ms), got \(m)")
        }
        if let minSuccess, !(minSuccess.isFinite && (0...1).contains(minSuccess)) {
            throw ValidationError("--min-success must be a rate in 0…1, got \(minSuccess)")
        }
    }

    func run() throws {
        let families = try taskFamilies(task)
        // `expert`: the scripted expert in the VLA's seat — the ceiling a scheduler reaches with a perfect policy.
        let policy = model == Self.expertModel ? nil : try loadSimPolicy(model, precision: quant, options: VLAPolicy.Options(pruning: try pruning.settings))
        let precision = policy?.precision.rawValue ?? "none"
        let latencyMs: Double? = { if case .fixed(let l) = vlaLatency { return l } else { return nil } }()
        let maxAge = mode == .sync ? Double.infinity : (maxActionAgeMs ?? latencyMs.map { 2 * $0 + 1000 / rate } ?? 1000)
        let options = EpisodeRunner.Options(rateHz: rate, scheduler: schedulerOptions.settings, mode: mode, vlaLatencyMs: latencyMs, maxActionAgeMs: maxAge)
        let runner = try policy.map { try EpisodeRunner(policy: $0, options: options) }
            ?? EpisodeRunner(vla: ExpertVLA(), statistics: ExpertVLA.statistics, options: options)
        var results: [TaskResult] = []
        let t0 = monotonicSeconds()
        let instructed = runner.vla as? InstructedPolicy
        for family in families {
            var tally = EvalTally()
            let (keptBefore, inferencesBefore) = (instructed?.keptPatchesSum ?? 0, instructed?.inferences ?? 0)
            for i in 0..<episodes {
                let s = seed + UInt64(i)
                let outcome = try runner.run(family: family, seed: s)
                tally.add(outcome)
                if let why = outcome.stoppedBy { log.warning("\(family.rawValue) seed \(s): the loop stopped the episode at step \(outcome.steps): \(why)") }
                log.info("\(family.rawValue) \(i + 1)/\(episodes) seed \(s): \(outcome.success ? "success" : "fail") in \(outcome.steps) steps (\(outcome.loop.generatorActions) generated) — \(tally.successes)/\(i + 1) so far (\(String(format: "%.0f", monotonicSeconds() - t0)) s)")
            }
            var result = tally.result(task: family.rawValue)
            if let instructed, instructed.inferences > inferencesBefore {
                result.meanKeptPatches = Double(instructed.keptPatchesSum - keptBefore) / Double(instructed.inferences - inferencesBefore)
                result.totalPatches = instructed.totalPatches
            }
            results.append(result)
        }
        let overall = Double(results.map(\.successes).reduce(0, +)) / Double(results.count * episodes)
        let config = EvalConfig(model: model, precision: precision, prune: pruning.prune.rawValue, pruningSettings: PruningSettingsJSON(try pruning.settings), mode: mode.rawValue,
                                scheduler: schedulerOptions.scheduler.rawValue, rateHz: Nullable(mode == .async ? rate : nil),
                                vlaLatencyMs: latencyMs.map { .number($0) } ?? .text("measured"),
                                maxActionAgeMs: Nullable(mode == .async ? maxAge : nil), schedulerSettings: SchedulerSettingsJSON(schedulerOptions.settings))
        if json {
            try printJSON(EvalOutput(tasks: results.map { Merged($0, $0.figures) }, overallSuccessRate: overall, model: model, precision: precision,
                                     firstSeed: seed, seconds: monotonicSeconds() - t0, config: config))
        } else {
            print("task         episodes  success  95% CI           mean steps  VLA share  actions/s  policy ms p50/p95/p99")
            for r in results {
                print(r.task.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: " %8d  %6.1f%%  [%5.1f%%, %5.1f%%]  %10.1f  %8.1f%%  %9.1f  %.1f / %.1f / %.1f", r.episodes,
                             100 * r.successRate, 100 * r.ci95[0], 100 * r.ci95[1], r.meanSteps, 100 * r.figures.vlaShare, r.figures.effectiveActionsPerS,
                             r.latencyMs.p50, r.latencyMs.p95, r.latencyMs.p99))
            }
            print(String(format: "overall success %.1f%% (%@, %@, scheduler %@)", 100 * overall, model, precision, schedulerOptions.scheduler.rawValue))
        }
        if let minSuccess, let worst = results.min(by: { $0.successRate < $1.successRate }), worst.successRate < minSuccess {
            throw CLIError.runtime(String(format: "%@ success %.1f%% is below --min-success %.1f%%", worst.task, 100 * worst.successRate, 100 * minSuccess))
        }
    }

    struct Latency: Encodable {
        var p50, p95, p99: Double
        init(_ samples: [Double]) { p50 = percentile(samples, 50); p95 = percentile(samples, 95); p99 = percentile(samples, 99) }
    }

    /// One task family's episodes, accumulated.
    struct EvalTally {
        var seconds = 0.0, staleResults = 0, launches = 0, stopped = 0
        var episodes = 0, successes = 0, steps = 0
        var vla = 0, generator = 0, holds = 0, switches = 0
        var vlaMs: [Double] = [], generatorMs: [Double] = [], actionAgeMs: [Double] = []
        var episodeSuccess: [Bool] = []

        mutating func add(_ o: EpisodeRunner.Outcome) {
            episodes += 1
            if o.success { successes += 1 }
            episodeSuccess.append(o.success)
            steps += o.steps
            vla += o.loop.vlaActions
            generator += o.loop.generatorActions
            holds += o.loop.holds
            switches += o.loop.switches
            vlaMs += o.loop.vlaMs.values
            generatorMs += o.loop.generatorMs.values
            actionAgeMs += o.loop.actionAgeMs.values
            seconds += o.seconds
            staleResults += o.staleResults
            launches += o.vlaLaunches
            if o.stoppedBy != nil { stopped += 1 }
        }

        func result(task: String) -> TaskResult {
            let ci = wilsonInterval(successes: successes, trials: episodes)
            // Acting ticks over the episodes' seconds: sync, the compute they cost (VLA + generator, simulator
            // rendering excluded); async, simulated seconds (`EpisodeRunner.Outcome.seconds`).
            return TaskResult(task: task, episodes: episodes, successes: successes, successRate: Double(successes) / Double(episodes),
                              ci95: [ci.lower, ci.upper], meanSteps: Double(steps) / Double(episodes), latencyMs: Latency(vlaMs),
                              vlaCalls: launches, staleResults: staleResults, stoppedEpisodes: stopped, episodeSuccess: episodeSuccess,
                              figures: OriginFigures(vla: vla, generator: generator, holds: holds, switches: switches, vlaMs: vlaMs,
                                                     generatorMs: generatorMs, actionAgeMs: actionAgeMs, seconds: seconds))
        }
    }

    struct TaskResult: Encodable {
        var task: String
        var episodes: Int
        var successes: Int
        var successRate: Double
        var ci95: [Double]
        var meanSteps: Double
        /// VLA inference per call (kept under its old name: the policy's latency).
        var latencyMs: Latency
        var vlaCalls: Int
        /// async: VLA results dropped because their frame was older than the action-age limit.
        var staleResults: Int
        /// Episodes the loop's stop path ended early (e.g. 10 policy errors in a row); each counts as a failure.
        var stoppedEpisodes: Int
        /// Patches the language model read per VLA inference, on average, out of `totalPatches`.
        var meanKeptPatches: Double?
        var totalPatches: Int?
        /// Per episode, in seed order: what a paired comparison of two configurations needs.
        var episodeSuccess: [Bool]
        /// Encoded beside the keys above (`EvalOutput` merges them).
        var figures: OriginFigures
        enum CodingKeys: String, CodingKey {
            case task, episodes, successes, ci95
            case successRate = "success_rate", meanSteps = "mean_steps", latencyMs = "latency_ms", vlaCalls = "vla_calls", staleResults = "stale_results"
            case stoppedEpisodes = "stopped_episodes", meanKeptPatches = "mean_kept_patches", totalPatches = "total_patches"
            case episodeSuccess = "episode_success"
        }
    }

    /// What was evaluated, for tables that combine runs (`reflex tune`).
    struct EvalConfig: Encodable {
        var model: String
        var precision: String
        var prune: String
        var pruningSettings: PruningSettingsJSON
        var mode: String
        var scheduler: String
        /// null in sync mode (ticks run back to back), like `max_action_age_ms`.
        var rateHz: Nullable<Double>
        var vlaLatencyMs: NumberOrText
        var maxActionAgeMs: Nullable<Double>
        var schedulerSettings: SchedulerSettingsJSON
        enum CodingKeys: String, CodingKey {
            case model, precision, prune, mode, scheduler
            case pruningSettings = "pruning_settings"
            case rateHz = "rate_hz", vlaLatencyMs = "vla_latency_ms", maxActionAgeMs = "max_action_age_ms", schedulerSettings = "scheduler_settings"
        }
    }

    enum NumberOrText: Encodable {
        case number(Double), text(String)
        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .number(let v): try c.encode(v)
            case .text(let t): try c.encode(t)
            }
        }
    }

    /// The scheduler's parameters under their profile keys.
    struct SchedulerSettingsJSON: Encodable {
        var buffer: Int, tau: Double, motionTest: String, stepSkip: Int, zXYRatio: Double, zMax: Double, vMin: Double, vMax: Double
        var gain: Double, maxGenerated: Int, saturationFactor: Double, transitOnly: Bool
        init(_ s: SchedulerSettings) {
            buffer = s.buffer; tau = s.tau; motionTest = s.motionTest.rawValue; stepSkip = s.stepSkip
            zXYRatio = s.zXYRatio; zMax = s.zMax; vMin = s.vMin; vMax = s.vMax; gain = s.gain; maxGenerated = s.maxGenerated; saturationFactor = s.saturationFactor; transitOnly = s.transitOnly
        }
        enum CodingKeys: String, CodingKey {
            case buffer, tau, gain
            case motionTest = "motion_test", stepSkip = "step_skip", zXYRatio = "z_xy_ratio", zMax = "z_max", vMin = "v_min", vMax = "v_max"
            case maxGenerated = "max_generated", saturationFactor = "saturation_factor", transitOnly = "transit_only"
        }
    }

    struct EvalOutput: Encodable {
        var tasks: [Merged<TaskResult, OriginFigures>]
        var overallSuccessRate: Double
        var model: String
        var precision: String
        var firstSeed: UInt64
        var seconds: Double
        var config: EvalConfig
        enum CodingKeys: String, CodingKey {
            case tasks, model, precision, seconds, config
            case overallSuccessRate = "overall_success_rate", firstSeed = "first_seed"
        }
    }
}

/// `--vla-latency-ms`: milliseconds, or `measured`.
enum VLALatency: ExpressibleByArgument {
    case fixed(Double), measured
    init?(argument: String) {
        if argument == "measured" { self = .measured; return }
        guard let v = Double(argument), v.isFinite, (0...600_000).contains(v) else { return nil }
        self = .fixed(v)
    }
}

extension ExecutionMode: ExpressibleByArgument {}

/// The 95% Wilson score interval for a binomial proportion (sound at 0% and 100%, unlike the
/// normal approximation).
func wilsonInterval(successes: Int, trials: Int, z: Double = 1.959964) -> (lower: Double, upper: Double) {
    guard trials > 0 else { return (0, 1) }
    let n = Double(trials), p = Double(successes) / n
    let denom = 1 + z * z / n
    let centre = (p + z * z / (2 * n)) / denom
    let half = z * (p * (1 - p) / n + z * z / (4 * n * n)).squareRoot() / denom
    return (max(0, centre - half), min(1, centre + half))
}

/// The committed trained policy: `models/reflex-sim-tiny` under the current directory, or next to
/// the repository the binary was built in.
let defaultSimModel: String = {
    let local = "models/reflex-sim-tiny"
    if FileManager.default.fileExists(atPath: local + "/config.json") { return local }
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let repo = exe.deletingLastPathComponent().appendingPathComponent("../../" + local).standardized.path
    return FileManager.default.fileExists(atPath: repo + "/config.json") ? repo : local
}()

/// Loads a simulator policy with its single dataset's statistics.
func loadSimPolicy(_ dir: String, precision: Precision, options: VLAPolicy.Options = VLAPolicy.Options()) throws -> VLAPolicy {
    guard FileManager.default.fileExists(atPath: dir + "/config.json") else {
        throw CLIError.invalidInput("\(dir)/config.json: no checkpoint there (train one with tools/train_sim_policy.py)")
    }
    let t0 = monotonicSeconds()
    let p = try VLAPolicy(directory: dir, precision: precision, options: options)
    let pruning = options.pruning.method == .none ? "" : ", pruning \(options.pruning.summary)"
    log.info("loaded \(dir) (\(p.precision.rawValue)\(pruning)) in \(String(format: "%.0f", (monotonicSeconds() - t0) * 1000)) ms")
    return p
}

/// Episode seeds are `seed`, `seed + 1`, …, `seed + episodes − 1`: all of them must be valid seeds.
func validateSeeds(_ seed: UInt64, _ episodes: Int) throws {
    guard episodes <= 10_000_000 else { throw ValidationError("--episodes must be at most 10000000, got \(episodes)") }
    guard seed <= UInt64.max - UInt64(episodes) else {
        throw ValidationError("--seed \(seed) + \(episodes) episodes passes the largest seed (\(UInt64.max)): choose a smaller --seed")
    }
}
