import Foundation
import ReflexCore
import Testing
@testable import ReflexIO

/// Issue 15 in the profile and the loop: paths relative to the profile, action sizes that fit the robot,
/// YAML errors in one line, and bad frames that hold, then stop.
@Suite struct ProfileHardeningTests {
    static let text = BoardProfileTests.valid

    @Test func inputPathsResolveAgainstTheProfilesFolder() throws {
        let rel = Self.text.replacingOccurrences(of: "path: /models/x", with: "path: ../models/x")
        let p = try BoardProfile.parse(rel, file: "/etc/reflex/boards/arm.yaml")
        #expect(p.model.path == "/etc/reflex/models/x")
        let here = try BoardProfile.parse(rel, file: "arm.yaml")  // a profile in the working directory
        #expect(here.model.path == "../models/x")
        #expect(try BoardProfile.parse(Self.text, file: "/etc/reflex/arm.yaml").model.path == "/models/x")
        // From the environment: relative to the working directory, as a shell user means it.
        let env = try BoardProfile.parse(rel, file: "/etc/reflex/arm.yaml", environment: ["REFLEX_MODEL_PATH": "models/y"])
        #expect(env.model.path == "models/y")
        let replay = Self.text.replacingOccurrences(of: "source: v4l2\n  device: /dev/video0", with: "source: replay\n  path: frames")
        #expect(try BoardProfile.parse(replay, file: "/data/run1/arm.yaml").camera.path == "/data/run1/frames")
        #expect(try BoardProfile.parse(Self.text, file: "/x/arm.yaml").camera.maxBadFrames == 50)
    }

    func error(_ text: String) -> String? {
        do { _ = try BoardProfile.parse(text, file: "p.yaml"); return nil } catch { return "\(error)" }
    }

    @Test func actionSizesFitTheRobot() {
        // One action component leaves no joint before the gripper: used to trap (an invalid range 1...0).
        #expect(error(Self.text.replacingOccurrences(of: "kind: joints", with: "kind: joints\n  action_dims: 1"))
                == "p.yaml:15: robot.action_dims: 1 is out of range 2…32")
        #expect(error(Self.text.replacingOccurrences(of: "kind: joints", with: "kind: joints\n  action_dims: 2"))
                == "p.yaml:17: robot.joints: expected 1 entries, got 2")
        #expect(error(Self.text.replacingOccurrences(of: "max_frame_age_ms", with: "x").replacingOccurrences(of: "pixel_format: MJPG", with: "pixel_format: MJPG\n  max_bad_frames: 0"))
                == "p.yaml:10: camera.max_bad_frames: 0 is out of range 1…100000")
    }

    @Test func yamlErrorsAreOneLineWithTheirLocation() {
        #expect(error(Self.text + "\nboard: { name: again, memory_mb: 64 }\n") == "p.yaml:19: not valid YAML: duplicate key 'board'")
        #expect(error("board: [\n") == "p.yaml:2: not valid YAML: did not find expected node content (while parsing a flow node)")
    }
}

/// A frame source that fails (a corrupt replay file) while `failing` is set.
final class FailingSource: FrameSource {
    struct Corrupt: Error, CustomStringConvertible { var description: String { "frame.jpg: invalid JPEG: Premature end of JPEG file" } }
    var failing = true
    func latest() throws -> CameraFrame? {
        if failing { throw Corrupt() }
        return CameraFrame(image: try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 0, count: 12)), timestamp: monotonicSeconds(), sequence: 0)
    }
}

@Suite struct BadFrameTests {
    @Test func badFramesHoldThenStopTheLoop() throws {
        let src = FailingSource(), act = RecordingActuator()
        let limits = try SafetyStage.Limits(lower: [-1, -1, 0, 0], upper: [1, 1, 1, 1], maxStep: [0.1, 0.1, 0.1, 1])
        var calls = 0
        let loop = ControlLoop(source: src, actuator: act, mapping: ActionMapping(robot: .init(kind: .cartesian)), limits: limits,
                               frameBudgetMs: 1000, maxFrameAgeMs: 1000, maxBadFrames: 3) { _ in calls += 1; return [0.01, 0, 0, 0, 0, 0, 1] }
        var logged: [String] = []
        loop.onBadFrame = { logged.append("\($0)") }
        try loop.resynchronize()
        try loop.tick()
        try loop.tick()
        src.failing = false
        try loop.tick()  // a good frame resets the count
        #expect(act.sent.count == 1 && act.holds == 2 && calls == 1 && loop.stats.badFrames == 2 && loop.lastHold == nil)
        src.failing = true
        try loop.tick()
        try loop.tick()
        #expect(loop.lastHold == "bad frame" && logged.count == 4)
        let failure = #expect(throws: ControlLoopFailure.self) { try loop.tick() }
        #expect(act.holds == 5 && act.sent.count == 1 && loop.stats.badFrames == 5)  // held first, then the failure
        #expect(failure?.description == "3 bad frames in a row (camera.max_bad_frames is 3); the last: frame.jpg: invalid JPEG: Premature end of JPEG file")
    }

    @Test func anActionTooShortForTheMappingHolds() throws {
        let (loop, _, act) = try ControlLoopTests().make { _ in [0.01, 0] }
        try loop.tick()
        #expect(act.sent.isEmpty && loop.stats.policyErrors == 1 && loop.lastHold == "policy error: 2-component action")
    }
}
