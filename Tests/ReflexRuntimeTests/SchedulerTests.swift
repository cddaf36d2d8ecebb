import ReflexCore
import ReflexIO
import Testing
@testable import ReflexRuntime

/// A frame source whose frames are always fresh.
final class FreshFrames: FrameSource {
    var sequence = 0
    func latest() throws -> CameraFrame? {
        sequence += 1
        return CameraFrame(image: try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 0, count: 12)),
                           timestamp: monotonicSeconds(), sequence: sequence)
    }
}

/// An actuator that records every command.
final class CommandLog: Actuator {
    var sent: [[Float]] = []
    var holds = 0
    func reference() throws -> [Float] { [0, 0, 0.5, 1] }
    func send(_ command: [Float]) throws { sent.append(command) }
    func hold() throws { holds += 1 }
}

/// A VLA that plays a script of actions (normalized = robot units) and counts its calls.
final class ScriptedVLA: VLA {
    var script: [[Float]]
    var calls = 0
    init(_ script: [[Float]]) { self.script = script }
    func infer(_ frame: CameraFrame) throws -> VLAOutput {
        let a = script[min(calls, script.count - 1)]
        calls += 1
        return VLAOutput(action: a, normalized: a, seconds: 0.001)
    }
}

@Suite struct SyncSchedulerTests {
    func loop(_ vla: VLA, _ settings: SchedulerSettings, maxStep: Float = 0.1) throws -> (ControlLoop, CommandLog) {
        let limits = try SafetyStage.Limits(lower: [-1, -1, 0, 0], upper: [1, 1, 1, 1], maxStep: [maxStep, maxStep, maxStep, 1])
        let log = CommandLog()
        let source = SyncActionSource(vla: vla, scheduler: SPVLAScheduler(settings: settings), statistics: nil)
        let loop = ControlLoop(source: FreshFrames(), actuator: log, mapping: ActionMapping(robot: .init(kind: .cartesian)), limits: limits,
                               frameBudgetMs: 1000, maxFrameAgeMs: 1000, historyCapacity: settings.buffer, actions: source)
        try loop.resynchronize()
        return (loop, log)
    }

    /// A steady planar motion: after six VLA steps the released rule (4 of 6 VLA) serves runs of generator steps,
    /// and every VLA share stays at or above τ.
    @Test func steadyMotionAlternatesVLAAndGenerator() throws {
        let vla = ScriptedVLA([[0.02, 0.01, 0.004, 0, 0, 0, 1]])
        let (loop, log) = try loop(vla, SchedulerSettings(policy: .spvla))
        var origins: [ActionOrigin] = []
        for _ in 0..<30 {
            try loop.tick()
            origins.append(loop.lastOrigin)
            #expect(loop.history.vlaCount * 6 >= 3 * loop.history.count)  // never below 3 of 6 after a step
        }
        #expect(Array(origins.prefix(9)) == [.vla, .vla, .vla, .vla, .vla, .vla, .generator, .generator, .generator])
        #expect(origins[9] == .vla)
        #expect(vla.calls == loop.stats.vlaActions && loop.stats.generatorActions > 8 && loop.stats.holds == 0)
        #expect(log.sent.count == 30 && loop.stats.switches > 4)
        // A constant action extrapolates to itself: every command advances by the same delta.
        for (a, b) in zip(log.sent, log.sent.dropFirst()) { #expect(abs((b[0] - a[0]) - 0.02) < 1e-5) }
    }

    @Test func schedulerNoneAlwaysRunsTheVLA() throws {
        let vla = ScriptedVLA([[0.05, 0.02, 0.01, 0, 0, 0, 1]])
        let (loop, _) = try loop(vla, SchedulerSettings(policy: .none))
        for _ in 0..<12 { try loop.tick() }
        #expect(vla.calls == 12 && loop.stats.generatorActions == 0 && loop.stats.vlaActions == 12)
    }

    /// A generated step beyond max_step is limited by the same safety stage as the VLA's, and the history
    /// starts over (nothing is extrapolated across a clamp).
    @Test func safetyStageClampsAGeneratedStep() throws {
        let ramp: [[Float]] = [0.02, 0.04, 0.06, 0.08, 0.09, 0.095].map { [$0, 0.01, 0, 0, 0, 0, 1] }
        let vla = ScriptedVLA(ramp + [[0.01, 0, 0, 0, 0, 0, 1]])
        let (loop, log) = try loop(vla, SchedulerSettings(policy: .spvla))
        for _ in 0..<6 { try loop.tick() }
        #expect(loop.history.count == 6 && loop.stats.limited == 0)
        try loop.tick()  // the generator extrapolates the ramp: 0.095 + 0.02 > max_step 0.1
        #expect(loop.lastOrigin == .generator && loop.stats.limited == 1)
        #expect(abs((log.sent[6][0] - log.sent[5][0]) - 0.1) < 1e-6)  // limited to max_step
        #expect(loop.history.isEmpty)
        try loop.tick()
        #expect(loop.lastOrigin == .vla && vla.calls == 7)
    }

    /// Holds, e-stops and resynchronizations clear the history: the generator never bridges them.
    @Test func historyStartsOverAfterAHoldAnEStopOrAResync() throws {
        let vla = ScriptedVLA([[0.05, 0.02, 0.01, 0, 0, 0, 1]])
        let (loop, _) = try loop(vla, SchedulerSettings(policy: .spvla))
        for _ in 0..<6 { try loop.tick() }
        #expect(loop.history.isFull)
        try loop.resynchronize()
        #expect(loop.history.isEmpty)
        for _ in 0..<6 { try loop.tick() }
        loop.estop()
        #expect(loop.history.isEmpty)
        try loop.tick()
        #expect(loop.lastHold == "e-stop" && loop.history.isEmpty)
    }
}
