#if canImport(Glibc)
import Glibc
#endif
import ReflexCore
import ReflexIO
import ReflexSim
import Testing
@testable import ReflexRuntime

/// A VLA whose action is a hash of the frame it sees: which frame an applied action came from shows in the
/// trajectory. Actions stay well inside the step limit so the safety stage never changes them.
final class FrameHashVLA: InstructableVLA {
    var instruction = ""
    var calls = 0
    let delay: Double
    init(delay: Double = 0) { self.delay = delay }
    func infer(_ frame: CameraFrame) throws -> VLAOutput {
        calls += 1
        if delay > 0 { usleep(UInt32(delay * 1e6)) }
        var h: UInt64 = 14_695_981_039_346_656_037
        for i in stride(from: 0, to: frame.image.pixels.count, by: 7) { h = (h ^ UInt64(frame.image.pixels[i])) &* 1_099_511_628_211 }
        let a: [Float] = [Float(Int(h % 21) - 10) / 400, Float(Int((h >> 8) % 21) - 10) / 400, Float(Int((h >> 16) % 9) - 4) / 2000, 0, 0, 0, 1]
        return VLAOutput(action: a, normalized: a.map { $0 * 10 }, seconds: delay)
    }
}

@Suite struct AsyncVirtualTimeTests {
    /// Runs one episode and records the gripper's position after every tick.
    func episode(_ options: EpisodeRunner.Options, seed: UInt64 = 7) throws -> (EpisodeRunner.Outcome, [[Float]], FrameHashVLA) {
        let vla = FrameHashVLA()
        let runner = try EpisodeRunner(vla: vla, statistics: ActionStatistics(q01: [Float](repeating: -0.1, count: 7), q99: [Float](repeating: 0.1, count: 7), mask: nil), options: options)
        var path: [[Float]] = []
        let outcome = try runner.run(family: .push, seed: seed) { rig, _ in path.append([rig.sim.gripper.x, rig.sim.gripper.y, rig.sim.gripper.z]) }
        return (outcome, path, vla)
    }

    /// `async` with no scheduler at zero latency is `sync` VLA-only: the same actions on the same frames.
    @Test func asyncAtZeroLatencyEqualsSync() throws {
        let (sync, syncPath, syncVLA) = try episode(.init(mode: .sync))
        let (async, asyncPath, asyncVLA) = try episode(.init(mode: .async, vlaLatencyMs: 0))
        #expect(sync.steps == async.steps && syncPath == asyncPath && syncVLA.calls == asyncVLA.calls)
        #expect(async.loop.holds == 0 && async.loop.vlaActions == async.steps && async.loop.actionAgeMs.values.allSatisfy { $0 == 0 })
    }

    /// One period of latency: the first tick holds, then every tick applies the action of the previous tick's
    /// frame (100 ms old).
    @Test func oneTickOfLatencyShiftsActionsByOneFrame() throws {
        let (sync, syncPath, _) = try episode(.init(mode: .sync))
        let (late, latePath, _) = try episode(.init(mode: .async, vlaLatencyMs: 100, maxActionAgeMs: 1000))
        #expect(late.loop.holds == 1 && late.loop.vlaActions == late.steps - 1)
        #expect(late.loop.actionAgeMs.values.allSatisfy { abs($0 - 100) < 1e-6 })
        // Tick 0 held: the arm is where the episode put it; the sync run moved at once.
        let g = TabletopSim(family: .push, seed: 7).gripper
        let start: [Float] = [g.x, g.y, g.z]
        #expect(latePath[0] == start && syncPath[0] != start && sync.steps > 1)
        #expect(syncPath != latePath)
    }

    /// 250 ms at 10 Hz: a result every third tick, 300 ms old when applied; holds in between.
    @Test func slowerVLAHoldsBetweenResults() throws {
        let (o, _, vla) = try episode(.init(mode: .async, vlaLatencyMs: 250, maxActionAgeMs: 1000))
        #expect(o.loop.vlaActions == o.steps / 3 && o.loop.holds == o.steps - o.steps / 3 && o.loop.generatorActions == 0)
        #expect(o.loop.actionAgeMs.values.allSatisfy { abs($0 - 300) < 1e-6 })
        #expect(vla.calls == o.vlaLaunches && o.vlaLaunches == (o.steps + 2) / 3)
        #expect(abs(o.seconds - Double(o.steps) * 0.1) < 1e-9)  // simulated seconds: one period per tick
    }

    /// An action older than max_action_age_ms is never applied: with the limit below the latency every tick holds.
    @Test func neverAppliesAnActionOlderThanAllowed() throws {
        let (o, path, _) = try episode(.init(scheduler: SchedulerSettings(policy: .spvla), mode: .async, vlaLatencyMs: 400, maxActionAgeMs: 300))
        #expect(o.loop.sent == 0 && o.loop.holds == o.steps && o.staleResults > 0)
        #expect(Set(path.map { "\($0)" }).count == 1)  // the arm never moved
    }

    /// With the scheduler the generator fills the ticks between results; no applied action's information is
    /// older than the limit.
    @Test func generatorFillsBetweenResultsWithinTheAgeLimit() throws {
        let (o, _, _) = try episode(.init(scheduler: SchedulerSettings(policy: .spvla, zXYRatio: 100, zMax: 100), mode: .async,
                                          vlaLatencyMs: 400, maxActionAgeMs: 900))
        #expect(o.loop.generatorActions > o.loop.vlaActions && o.loop.vlaActions > 0)
        #expect(o.loop.actionAgeMs.values.allSatisfy { $0 <= 900 + 1e-6 })
        #expect(o.loop.actionAgeMs.values.max()! > 400)
    }
}

@Suite struct AsyncThreadTests {
    func loop(vla: FrameHashVLA, settings: SchedulerSettings, maxActionAgeMs: Double) throws -> (ControlLoop, AsyncActionSource) {
        let limits = try SafetyStage.Limits(lower: [-1, -1, 0, 0], upper: [1, 1, 1, 1], maxStep: [0.1, 0.1, 0.1, 1])
        let source = AsyncActionSource(executor: ThreadedVLAExecutor(vla: vla), scheduler: SPVLAScheduler(settings: settings),
                                       statistics: nil, maxActionAgeMs: maxActionAgeMs)
        let loop = ControlLoop(source: FreshFrames(), actuator: CommandLog(), mapping: ActionMapping(robot: .init(kind: .cartesian)),
                               limits: limits, frameBudgetMs: 5, maxFrameAgeMs: 100, maxActionAgeMs: maxActionAgeMs,
                               historyCapacity: settings.buffer, actions: source)
        try loop.resynchronize()
        return (loop, source)
    }

    /// A 30 ms VLA under 2 ms ticks: no tick waits for it (none overruns its 5 ms budget), results are applied as
    /// they arrive and the ticks between them hold.
    @Test func theTickNeverWaitsForASlowVLA() throws {
        let vla = FrameHashVLA(delay: 0.03)
        let (loop, source) = try loop(vla: vla, settings: SchedulerSettings(), maxActionAgeMs: 1000)
        let end = monotonicSeconds() + 0.4
        while monotonicSeconds() < end {
            try loop.tick()
            usleep(2000)
        }
        let st = loop.stats
        #expect(st.overruns == 0 && st.ticks > 60)
        #expect(st.vlaActions >= 4 && st.vlaActions <= 14 && st.holds == st.ticks - st.vlaActions && source.launches >= st.vlaActions)
        #expect(st.actionAgeMs.values.allSatisfy { $0 >= 30 })
        source.shutdown()
    }

    @Test func resultsOlderThanTheLimitAreDropped() throws {
        let vla = FrameHashVLA(delay: 0.03)
        let (loop, source) = try loop(vla: vla, settings: SchedulerSettings(policy: .spvla), maxActionAgeMs: 20)
        let end = monotonicSeconds() + 0.25
        while monotonicSeconds() < end {
            try loop.tick()
            usleep(2000)
        }
        #expect(loop.stats.sent == 0 && source.staleResults >= 3 && loop.stats.noAction == loop.stats.ticks)
        source.shutdown()
    }
}
