import ReflexCore
import ReflexIO
import ReflexSim
import Testing
@testable import ReflexRuntime

/// The scripted expert, failing on demand (a wrapper: the runner attaches rigs only to an `ExpertVLA` itself).
final class FailingExpertVLA: InstructableVLA {
    let expert = ExpertVLA()
    var failing = false
    var instruction: String { get { expert.instruction } set { expert.instruction = newValue } }
    func infer(_ frame: CameraFrame) throws -> VLAOutput {
        if failing { throw NoAction() }
        return try expert.infer(frame)
    }
    struct NoAction: Error, CustomStringConvertible { var description: String { "no action" } }
}

@Suite struct EpisodeRunnerTests {
    static let statistics = ExpertVLA.statistics

    /// A policy that keeps emitting no action ends its episode through the loop's stop path (a failure, with
    /// the reason); the runner's next episode starts afresh.
    @Test func aStoppedEpisodeFailsAndTheNextRuns() throws {
        let vla = FailingExpertVLA()
        let runner = try EpisodeRunner(vla: vla, statistics: Self.statistics, options: .init(mode: .sync))
        vla.failing = true
        let stopped = try runner.run(family: .reach, seed: 3)
        #expect(!stopped.success && stopped.steps == 10 && stopped.stoppedBy?.contains("10 policy errors in a row") == true)
        vla.failing = false
        let next = try runner.run(family: .reach, seed: 3) { rig, _ in vla.expert.rig = rig }  // from the second tick on
        #expect(next.stoppedBy == nil && next.loop.policyErrors == 0 && next.success)
    }

    /// Reach with the expert behind 400 ms of latency at 10 Hz: hold-only applies one action in four; the
    /// Smith predictor's corrected steps between results reach the target in fewer ticks.
    @Test func smithPredictorBridgesFourPeriodsOfLatency() throws {
        func run(_ policy: SchedulerSettings.Policy) throws -> (successes: Int, steps: Int) {
            var successes = 0, steps = 0
            for seed in UInt64(1)...8 {
                let vla = ExpertVLA()
                let runner = try EpisodeRunner(vla: vla, statistics: Self.statistics, options: .init(
                    scheduler: SchedulerSettings(policy: policy, buffer: 12, zXYRatio: 100, zMax: 100), mode: .async,
                    vlaLatencyMs: 400, maxActionAgeMs: 900))
                let o = try runner.run(family: .reach, seed: seed)
                if o.success { successes += 1 }
                steps += o.steps
            }
            return (successes, steps)
        }
        let hold = try run(.none), smith = try run(.smith)
        print("reach at 400 ms: hold-only \(hold), smith \(smith)")
        #expect(smith.successes >= hold.successes && smith.steps < hold.steps)
    }
}
