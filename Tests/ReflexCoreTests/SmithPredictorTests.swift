import Testing
@testable import ReflexCore

/// The Smith predictor's correction on scripted histories, and the property it exists for: a proportional
/// policy seen through a delay acts as if there were none.
@Suite struct SmithPredictorTests {
    /// `a − g·Σd` over the actions executed at or after the frame; earlier ones and rotation/gripper untouched.
    @Test func correctsForTheMotionSinceTheFrame() {
        var h = ActionHistory(capacity: 8)
        h.append([0.5, 0, 0, 0, 0, 0, 1], origin: .vla, frameTimestamp: 0.0, executedAt: 0.0)      // before the frame
        h.append([0.2, -0.1, 0.3, 0, 0, 0, 1], origin: .generator, executedAt: 0.1)                // from here on
        h.append([0.1, -0.1, -0.1, 0, 0, 0, 1], origin: .generator, executedAt: 0.2)
        var out = [Float](repeating: 9, count: 7)
        let vla: [Float] = [0.4, -0.5, 0.2, 0.1, 0.2, 0.3, 0]
        #expect(SmithPredictor.correct(vla, frameTimestamp: 0.1, gain: 0.5, history: h, into: &out))
        let expected: [Float] = [0.4 - 0.5 * 0.3, -0.5 + 0.5 * 0.2, 0.2 - 0.5 * 0.2, 0.1, 0.2, 0.3, 0]
        for i in 0..<7 { #expect(abs(out[i] - expected[i]) < 1e-6, "component \(i): \(out[i]) vs \(expected[i])") }
    }

    /// An axis at top speed (≥ 0.9) bounds the error from below: with `saturationFactor` k it assumes k times that bound, keeps full speed while it may, slows
    /// down, and never reverses. Below top speed the correction may reverse. Results are clipped to ±1; `zero`
    /// shifts what "no motion" is for asymmetric statistics.
    @Test func saturationClipAndZero() {
        func once(_ a: [Float], executed: [[Float]], gain: Double, k: Double = 1, zero: (Float, Float, Float) = (0, 0, 0)) -> [Float] {
            var h = ActionHistory(capacity: 8)
            for (i, d) in executed.enumerated() { h.append(d + [0, 0, 0, 1], origin: i == 0 ? .vla : .generator, executedAt: Double(i)) }
            var out = [Float](repeating: 0, count: 7)
            #expect(SmithPredictor.correct(a + [0, 0, 0, 1], frameTimestamp: 0, gain: gain, saturationFactor: k, history: h, zero: zero, into: &out))
            return out
        }
        func close(_ a: [Float], _ b: [Float]) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) < 1e-6 } }
        #expect(close(once([1, 0, 0.5], executed: [[1, 0, 0.5]], gain: 0.5), [0.5, 0, 0.25]))      // 1 − 0.5·1
        #expect(close(once([1, 0, 0.5], executed: [[1, 0, 0.5]], gain: 1.9), [0, 0, -0.45]))       // x would reverse: stops; z may
        #expect(close(once([0.3, -0.4, 0], executed: [[0.3, -0.4, 0]], gain: 1.9), [-0.27, 0.36, 0]))  // below top speed: may reverse
        #expect(close(once([0.7, 0.7, 0], executed: [[0.7, 0.7, 0]], gain: 1.9), [-0.63, -0.63, 0]))   // per axis: a diagonal is not saturated
        #expect(close(once([1, 0, 0], executed: [[1, 0, 0]], gain: 0.5, k: 2), [1, 0, 0]))             // k = 2: 2 − 0.5, clipped
        #expect(close(once([1, 0, 0], executed: [[1, 0, 0], [1, 0, 0], [1, 0, 0]], gain: 0.5, k: 2), [0.5, 0, 0]))  // 2 − 0.5·3
        let zero: (Float, Float, Float) = (0.2, 0.2, 0.2)  // normalized value of no motion
        #expect(close(once([0.6, 0.2, 0.2], executed: [[1, -0.3, 0.2]], gain: 0.5, zero: zero), [0.2, 0.45, 0.2]))  // 0.2 + (0.4 − 0.5·0.8), 0.2 + (0 + 0.5·0.5)
    }

    /// When an action executed since the frame has dropped out of the ring, the window is unknown: refused.
    @Test func refusesWhenTheHistoryNoLongerCoversTheWindow() {
        var h = ActionHistory(capacity: 2)
        for i in 0..<3 { h.append([0.1, 0, 0, 0, 0, 0, 1], origin: .generator, executedAt: Double(i) * 0.1) }
        var out = [Float](repeating: 0, count: 7)
        #expect(!SmithPredictor.correct([0.5, 0, 0, 0, 0, 0, 1], frameTimestamp: 0.0, gain: 0.6, history: h, into: &out))
        #expect(SmithPredictor.correct([0.5, 0, 0, 0, 0, 0, 1], frameTimestamp: 0.1, gain: 0.6, history: h, into: &out))
        #expect(abs(out[0] - (0.5 - 0.6 * 0.2)) < 1e-6)
        h.clear()  // a hold forgets the window: what is left is complete
        #expect(SmithPredictor.correct([0.5, 0, 0, 0, 0, 0, 1], frameTimestamp: 0.0, gain: 0.6, history: h, into: &out) && out[0] == 0.5)
    }

    /// The property: a plant x ← x + a driven by a proportional policy a = g·(goal − x) that sees x `delay`
    /// ticks late. Uncorrected, repeating the late action overshoots and oscillates; corrected, every applied
    /// action equals the delay-free policy's on the current state.
    @Test func aDelayedProportionalPolicyActsAsIfUndelayed() {
        let g: Float = 0.6, goal: Float = 0.8, delay = 4
        func run(correct: Bool) -> (path: [Float], exact: Bool) {
            var x: Float = 0, seen: [Float] = [], path: [Float] = [], exact = true
            var h = ActionHistory(capacity: 16)
            var out = [Float](repeating: 0, count: 7)
            for t in 0..<30 {
                seen.append(x)
                let frame = max(0, t - delay)
                let vla: [Float] = [g * (goal - seen[frame]), 0, 0, 0, 0, 0, 1]
                var a = vla[0]
                if correct {
                    #expect(SmithPredictor.correct(vla, frameTimestamp: Double(frame), gain: Double(g), history: h, into: &out))
                    a = out[0]
                }
                if abs(a - g * (goal - x)) > 1e-5 { exact = false }
                h.append([a, 0, 0, 0, 0, 0, 1], origin: .vla, frameTimestamp: Double(frame), executedAt: Double(t))
                x += a
                path.append(x)
            }
            return (path, exact)
        }
        let corrected = run(correct: true), raw = run(correct: false)
        #expect(corrected.exact && !raw.exact)
        #expect(abs(corrected.path.last! - goal) < 1e-4)
        #expect(corrected.path.allSatisfy { $0 <= goal + 1e-5 })  // never overshoots
        #expect(raw.path.contains { $0 > goal + 0.2 })             // the late policy overshoots
    }

    /// `sync` gate under `smith`: a VLA step, then at most `maxGenerated` generated ones; motion test applies.
    @Test func syncGateAllowsMaxGeneratedAfterEachVLAStep() {
        let s = SPVLAScheduler(settings: SchedulerSettings(policy: .smith, buffer: 6, zXYRatio: 100, zMax: 100, maxGenerated: 2, transitOnly: false))
        var h = ActionHistory(capacity: 6)
        #expect(!s.allowsGenerator(h))  // nothing to correct
        h.append([0.3, 0.1, 0, 0, 0, 0, 1], origin: .vla)
        #expect(s.allowsGenerator(h) && h.generatedSinceVLA == 0)
        h.append([0.3, 0.1, 0, 0, 0, 0, 1], origin: .generator)
        #expect(s.allowsGenerator(h) && h.generatedSinceVLA == 1)
        h.append([0.3, 0.1, 0, 0, 0, 0, 1], origin: .generator)
        #expect(!s.allowsGenerator(h) && h.generatedSinceVLA == 2)
        let planar = SPVLAScheduler(settings: SchedulerSettings(policy: .smith, maxGenerated: 2, transitOnly: false))
        var down = ActionHistory(capacity: 6)
        down.append([0, 0, -0.5, 0, 0, 0, 1], origin: .vla)  // a descent fails the released planar test
        #expect(!planar.allowsGenerator(down))
    }

    /// `transitOnly` (the default): generated steps only follow a VLA action at top speed on some axis.
    @Test func transitOnlyGateNeedsATopSpeedVLAAction() {
        let s = SPVLAScheduler(settings: SchedulerSettings(policy: .smith, zXYRatio: 100, zMax: 100))
        var h = ActionHistory(capacity: 6)
        h.append([0.3, 0.1, 0, 0, 0, 0, 1], origin: .vla)
        #expect(!s.allowsGenerator(h))                     // a fine approach: the VLA again
        h.append([0.95, -0.2, 0, 0, 0, 0, 1], origin: .vla)
        #expect(s.allowsGenerator(h))                      // a transit
        h.append([0.4, -0.1, 0, 0, 0, 0, 1], origin: .generator)
        #expect(!s.allowsGenerator(h))                     // max_generated 1 reached
        var z = ActionHistory(capacity: 6)
        z.append([0.05, 0, -0.95, 0, 0, 0, 1], origin: .vla)  // a descent at top speed counts
        #expect(s.allowsGenerator(z))
    }

    @Test func settingsNameTheBadKey() {
        #expect(SchedulerSettings(policy: .smith, gain: 2).problem?.key == "gain")
        #expect(SchedulerSettings(policy: .smith, gain: -0.1).problem?.key == "gain")
        #expect(SchedulerSettings(policy: .smith, maxGenerated: -1).problem?.key == "max_generated")
        #expect(SchedulerSettings(policy: .smith, gain: 0, maxGenerated: 0).problem == nil)
    }
}
