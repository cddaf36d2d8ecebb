import Foundation
import Testing
@testable import ReflexCore

/// SP-VLA's generator against numpy, its gate on scripted action sequences, and the history's ring.
@Suite struct SchedulerTests {
    struct Fixture: Decodable {
        struct Case: Decodable { var buffer: [[Float]]; var expected: [Double]? }
        var cases: [Case]
    }

    static let fixture: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/scheduler/generator_reference.json").standardized

    func history(_ actions: [[Float]], origins: [ActionOrigin]? = nil, capacity: Int? = nil) -> ActionHistory {
        var h = ActionHistory(capacity: capacity ?? actions.count)
        for (i, a) in actions.enumerated() { h.append(a, origin: origins?[i] ?? .vla) }
        return h
    }

    /// tools/make_scheduler_fixture.py: 200 random buffers (noise, ramps, tiny actions, reversals, saturated
    /// ramps; n = 2…10) through numpy's solve of (XᵀX + λI)β = XᵀY, the clip, the change clamp and the guard.
    @Test func generatorMatchesNumpy() throws {
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: Self.fixture))
        #expect(f.cases.count == 200)
        var rejected = 0
        for (i, c) in f.cases.enumerated() {
            var out = [Float](repeating: .nan, count: 7)
            let accepted = SPVLAScheduler.extrapolate(history(c.buffer), into: &out)
            #expect(accepted == (c.expected != nil), "case \(i): accepted \(accepted)")
            guard let want = c.expected, accepted else { rejected += 1; continue }
            for k in 0..<7 {
                #expect(abs(Double(out[k]) - want[k]) <= 1e-6 * max(1, abs(want[k])), "case \(i) component \(k): \(out[k]) vs numpy \(want[k])")
            }
        }
        #expect(rejected == 3)  // the fixture's reversals the magnitude guard rejects
    }

    @Test func generatorContinuesALineAndCopiesRotationAndGripper() {
        let h = history((0..<6).map { t in [0.1 + 0.02 * Float(t), -0.05 * Float(t), 0.01, 0.3, -0.2, 0.1, Float(t % 2)] })
        var out = [Float](repeating: 0, count: 7)
        #expect(SPVLAScheduler.extrapolate(h, into: &out))
        #expect(abs(out[0] - 0.22) < 1e-4 && abs(out[1] + 0.30) < 1e-4 && abs(out[2] - 0.01) < 1e-4)
        #expect(Array(out[3...]) == [0.3, -0.2, 0.1, 1])  // the newest action's, not extrapolated
    }

    @Test func generatorRepeatsASingleActionAndNeedsOne() {
        var out = [Float](repeating: 0, count: 7)
        #expect(SPVLAScheduler.extrapolate(history([[0.1, -0.2, 0.05, 0.1, 0.2, 0.3, 1]]), into: &out))
        #expect(out == [0.1, -0.2, 0.05, 0.1, 0.2, 0.3, 1])
        #expect(!SPVLAScheduler.extrapolate(ActionHistory(capacity: 6), into: &out))
    }

    /// The async gate: a VLA action no older than max_action_age_ms in the history, and the motion test.
    @Test func asyncGateBoundsTheInformationAge() {
        let s = SPVLAScheduler(settings: SchedulerSettings(policy: .spvla))
        var h = ActionHistory(capacity: 6)
        #expect(!s.allowsGeneratorAsync(h, now: 1, maxActionAge: 0.5))  // nothing to extend
        h.append([0.3, 0.1, 0.05, 0, 0, 0, 1], origin: .vla, frameTimestamp: 0.6)
        #expect(s.allowsGeneratorAsync(h, now: 1.0, maxActionAge: 0.5))
        h.append([0.3, 0.1, 0.05, 0, 0, 0, 1], origin: .generator)
        #expect(s.allowsGeneratorAsync(h, now: 1.09, maxActionAge: 0.5))
        #expect(!s.allowsGeneratorAsync(h, now: 1.11, maxActionAge: 0.5))  // the VLA frame is 0.51 s old
        h.append([0.3, 0.1, 0.25, 0, 0, 0, 1], origin: .vla, frameTimestamp: 1.0)
        #expect(!s.allowsGeneratorAsync(h, now: 1.2, maxActionAge: 0.5))  // motion test: |z| / |x| = 0.83
        #expect(!SPVLAScheduler(settings: SchedulerSettings()).allowsGeneratorAsync(h, now: 1.2, maxActionAge: 0.5))  // policy none
        for _ in 0..<6 { h.append([0.3, 0.1, 0.05, 0, 0, 0, 1], origin: .generator) }  // the VLA action drops out
        #expect(h.newestVLAFrameTimestamp == nil && !s.allowsGeneratorAsync(h, now: 1.2, maxActionAge: 0.5))
    }

    @Test func releasedGateNeedsAFullFreshPlanarBuffer() {
        let s = SPVLAScheduler(settings: SchedulerSettings(policy: .spvla))  // released defaults: 4 of 6, step_skip 1, 0.6, 0.3
        let planar: [Float] = [0.3, 0.1, 0.05, 0, 0, 0, 1]
        let six = [[Float]](repeating: planar, count: 6)
        #expect(s.allowsGenerator(history(six)))
        #expect(!s.allowsGenerator(history(Array(six.prefix(5)), capacity: 6)))  // not full
        let g: [ActionOrigin] = [.vla, .vla, .vla, .vla, .generator, .generator]
        #expect(s.allowsGenerator(history(six, origins: g)))  // 4 of 6: fresh
        #expect(!s.allowsGenerator(history(six, origins: [.vla, .vla, .vla, .generator, .generator, .generator])))  // 3 of 6
        #expect(!SPVLAScheduler(settings: SchedulerSettings()).allowsGenerator(history(six)))  // policy none
        // The motion test: |z| / max(|x|, |y|) must stay below 0.6 and |z| below 0.3, on the newest step_skip actions.
        var steep = six
        steep[5] = [0.3, 0.1, 0.2, 0, 0, 0, 1]  // ratio 0.67
        #expect(!s.allowsGenerator(history(steep)))
        var high = six
        high[5] = [0.9, 0.1, 0.35, 0, 0, 0, 1]  // ratio 0.39 but |z| 0.35
        #expect(!s.allowsGenerator(history(high)))
        var older = six
        older[4] = [0.3, 0.1, 0.2, 0, 0, 0, 1]  // only step_skip = 1 newest action is tested …
        #expect(s.allowsGenerator(history(older)))
        let two = SPVLAScheduler(settings: SchedulerSettings(policy: .spvla, stepSkip: 2))  // … two with step_skip 2
        #expect(!two.allowsGenerator(history(older)))
        // τ is a share of the buffer: 0.666 admits 4 of 6, 0.667 needs 5.
        #expect(SPVLAScheduler(settings: SchedulerSettings(policy: .spvla, tau: 0.666)).allowsGenerator(history(six, origins: g)))
        #expect(!SPVLAScheduler(settings: SchedulerSettings(policy: .spvla, tau: 0.667)).allowsGenerator(history(six, origins: g)))
        // Nearly still: |z| / max(|x|, |y|, 1e-4) with x = y = 0.
        #expect(!s.allowsGenerator(history([[Float]](repeating: [0, 0, 0.001, 0, 0, 0, 1], count: 6))))
    }

    @Test func paperGateTestsEveryAxisSpeed() {
        let s = SPVLAScheduler(settings: SchedulerSettings(policy: .spvla, motionTest: .speed, vMin: 0.04, vMax: 0.2))
        func allows(_ a: [Float]) -> Bool { s.allowsGenerator(history([[Float]](repeating: a, count: 6))) }
        #expect(allows([0.1, -0.05, 0.15, 0, 0, 0, 1]))
        #expect(!allows([0.1, -0.05, 0.01, 0, 0, 0, 1]))  // z below v_min
        #expect(!allows([0.25, -0.05, 0.1, 0, 0, 0, 1]))  // x above v_max
        #expect(allows([0.2, -0.04, 0.04, 0, 0, 0, 1]))   // bounds inclusive
    }

    @Test func historyIsARingThatCountsVLAActions() {
        var h = ActionHistory(capacity: 3)
        for (i, o) in [ActionOrigin.vla, .generator, .vla, .vla, .generator].enumerated() { h.append([Float(i)], origin: o) }
        #expect(h.count == 3 && h.isFull)
        #expect((0..<3).map { h.value($0, 0) } == [2, 3, 4])  // oldest first
        #expect((0..<3).map { h.origin($0) } == [.vla, .vla, .generator])
        #expect(h.vlaCount == 2 && h.lastOrigin == .generator && h.value(2, 6) == 0)  // missing components are 0
        h.clear()
        #expect(h.isEmpty && h.vlaCount == 0 && h.lastOrigin == nil)
    }

    @Test func settingsNameTheBadKey() {
        #expect(SchedulerSettings().problem == nil)
        #expect(SchedulerSettings(buffer: 1).problem?.key == "buffer")
        #expect(SchedulerSettings(tau: 1.5).problem?.key == "tau")
        #expect(SchedulerSettings(tau: .nan).problem?.key == "tau")
        #expect(SchedulerSettings(stepSkip: 7).problem?.key == "step_skip")
        #expect(SchedulerSettings(zMax: -0.1).problem?.key == "z_max")
        #expect(SchedulerSettings(vMin: 0.3, vMax: 0.2).problem?.key == "v_min")
    }
}
