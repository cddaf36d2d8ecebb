import Foundation
import ReflexCore
import Testing
@testable import ReflexIO

/// `acceleration.scheduler`: the keys, their defaults and the errors for values that cannot work.
@Suite struct SchedulerProfileTests {
    static let text = BoardProfileTests.valid  // control.rate_hz 5: one period is 200 ms

    func with(_ scheduler: String) -> String { Self.text + "\nacceleration:\n  scheduler: { \(scheduler) }\n" }

    func error(_ scheduler: String) -> String? {
        do { _ = try BoardProfile.parse(with(scheduler), file: "p.yaml"); return nil } catch { return "\(error)" }
    }

    @Test func defaultsAreTheReleasedScheduleOff() throws {
        let s = try BoardProfile.parse(Self.text, file: "p.yaml").acceleration.scheduler
        #expect(s.mode == .sync && s.settings == SchedulerSettings() && s.settings.policy == .none && s.maxActionAgeMs == 1000)
        let a = try BoardProfile.parse(with("mode: async, policy: spvla, buffer: 8, tau: 0.5, motion_test: speed, step_skip: 2, z_xy_ratio: 1, z_max: 0.5, v_min: 0.01, v_max: 0.5, max_action_age_ms: 600"),
                                       file: "p.yaml").acceleration.scheduler
        #expect(a.mode == .async && a.maxActionAgeMs == 600)
        #expect(a.settings == SchedulerSettings(policy: .spvla, buffer: 8, tau: 0.5, motionTest: .speed, stepSkip: 2, zXYRatio: 1, zMax: 0.5, vMin: 0.01, vMax: 0.5))
        let s2 = try BoardProfile.parse(with("mode: async, policy: smith, buffer: 12, gain: 0.5, max_generated: 2, transit_only: false"), file: "p.yaml").acceleration.scheduler
        #expect(s2.settings == SchedulerSettings(policy: .smith, buffer: 12, gain: 0.5, maxGenerated: 2, transitOnly: false))
    }

    @Test func badValuesNameTheKey() {
        #expect(error("buffer: 1") == "p.yaml:20: acceleration.scheduler.buffer: 1 is out of range 2…64")
        #expect(error("tau: 1.5") == "p.yaml:20: acceleration.scheduler.tau: 1.5 is out of range 0.0…1.0")
        #expect(error("z_max: -0.1")?.hasPrefix("p.yaml:20: acceleration.scheduler.z_max: -0.1 is out of range") == true)
        #expect(error("v_min: 0.3, v_max: 0.2") == "p.yaml:20: acceleration.scheduler.v_min: 0.3 is above v_max (0.2)")
        #expect(error("buffer: 4, step_skip: 5") == "p.yaml:20: acceleration.scheduler.step_skip: 5 must be 1…buffer (4)")
        #expect(error("max_action_age_ms: 150")
                == "p.yaml:20: acceleration.scheduler.max_action_age_ms: 150.0 ms is shorter than one control period (200.0 ms at 5.0 Hz): no action could ever be applied")
        #expect(error("policy: smith, gain: 2") == "p.yaml:20: acceleration.scheduler.gain: 2.0 must be ≥ 0 and below 2 (a proportional step of 2 or more overshoots without end)")
        #expect(error("max_generated: 65")?.hasPrefix("p.yaml:20: acceleration.scheduler.max_generated: 65 is out of range") == true)
        #expect(error("mode: later")?.contains("acceleration.scheduler.mode") == true)
        #expect(error("enabled: true")?.contains("unknown key") == true)  // the old schema's key
    }
}
