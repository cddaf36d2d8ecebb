#if canImport(Glibc)
import Glibc
#endif
import ReflexCore
import Testing
@testable import ReflexIO

/// A frame source whose frame age the test sets.
final class ScriptedSource: FrameSource {
    var age: Double = 0
    var present = true
    func latest() throws -> CameraFrame? {
        guard present else { return nil }
        return CameraFrame(image: try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 0, count: 12)),
                           timestamp: monotonicSeconds() - age, sequence: 0)
    }
}

/// An actuator that records what reached it.
final class RecordingActuator: Actuator {
    var sent: [[Float]] = []
    var holds = 0
    func reference() throws -> [Float] { [0, 0, 0.5, 1] }
    func send(_ command: [Float]) throws { sent.append(command) }
    func hold() throws { holds += 1 }
}

@Suite struct ControlLoopTests {
    func make(_ policy: @escaping ControlLoop.Policy, budgetMs: Double = 50) throws -> (ControlLoop, ScriptedSource, RecordingActuator) {
        let src = ScriptedSource(), act = RecordingActuator()
        let limits = try SafetyStage.Limits(lower: [-1, -1, 0, 0], upper: [1, 1, 1, 1], maxStep: [0.1, 0.1, 0.1, 1])
        let loop = ControlLoop(source: src, actuator: act, mapping: ActionMapping(robot: .init(kind: .cartesian)), limits: limits,
                               frameBudgetMs: budgetMs, maxFrameAgeMs: 100, policy: policy)
        try loop.resynchronize()
        return (loop, src, act)
    }

    @Test func sendsTheSafeCommandForADelta() throws {
        let (loop, _, act) = try make { _ in [0.05, -0.3, 0.02, 0, 0, 0, 0] }
        try loop.tick()
        #expect(act.sent == [[0.05, -0.1, 0.52, 0]])  // y step-limited to 0.1, gripper closes
        try loop.tick()
        let last = act.sent.last ?? []
        #expect(last.count == 4 && zip(last, [0.1, -0.2, 0.54, 0] as [Float]).allSatisfy { abs($0 - $1) < 1e-6 })  // deltas accumulate
        #expect(loop.stats.sent == 2 && loop.stats.holds == 0)
    }

    @Test func staleOrMissingFramesHold() throws {
        var calls = 0
        let (loop, src, act) = try make { _ in calls += 1; return [0.05, 0, 0, 0, 0, 0, 1] }
        src.age = 0.5
        try loop.tick()
        src.present = false
        try loop.tick()
        #expect(act.sent.isEmpty && act.holds == 2 && calls == 0)
        #expect(loop.stats.staleFrames == 1 && loop.stats.noFrame == 1)
    }

    @Test func anOverrunNeverSendsALateAction() throws {
        let (loop, _, act) = try make({ _ in usleep(30_000); return [0.05, 0, 0, 0, 0, 0, 1] }, budgetMs: 10)
        try loop.tick()
        #expect(act.sent.isEmpty && act.holds == 1 && loop.stats.overruns == 1)
        #expect(loop.lastHold == "overrun")
    }

    @Test func nonFiniteActionsAndPolicyErrorsHold() throws {
        struct Boom: Error {}
        var n = 0
        let (loop, _, act) = try make { _ in
            n += 1
            if n == 1 { return [.nan, 0, 0, 0, 0, 0, 1] }
            if n == 2 { throw Boom() }
            return [0.01, 0, 0, 0, 0, 0, 1]
        }
        try loop.tick()
        try loop.tick()
        try loop.tick()
        #expect(act.holds == 2 && loop.stats.unsafe == 1 && loop.stats.policyErrors == 1)
        #expect(act.sent == [[0.01, 0, 0.5, 1]])
    }

    @Test func estopHoldsEveryTick() throws {
        let (loop, _, act) = try make { _ in [0.01, 0, 0, 0, 0, 0, 1] }
        loop.estop()
        for _ in 0..<3 { try loop.tick() }
        #expect(act.sent.isEmpty && act.holds == 3)
    }

    @Test func jointMappingScalesActionsToServoUnits() {
        let joints = [BoardProfile.Joint(name: "a", servoID: 1, min: 0, max: 4095, home: 2048, unitsPerAction: 600, maxStep: 40),
                      BoardProfile.Joint(name: "b", servoID: 2, min: 0, max: 4095, home: 2048, unitsPerAction: -300, maxStep: 40)]
        let m = ActionMapping(robot: .init(kind: .joints, joints: joints))
        #expect(m.command(for: [0.1, 0.2, 0.9, 0, 0, 0, 0.5], reference: [2048, 2000, 1]) == [2108, 1940, 0.5])
    }
}
