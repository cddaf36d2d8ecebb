/// SP-VLA's gate and its lightweight generator: decides whether a tick may be served by extrapolating
/// the recent actions instead of running the VLA, and computes that extrapolation. Pure and
/// allocation-free: the same code runs in `reflex run`, `reflex eval` and the tests.
///
/// Gate (all must hold): the policy is `spvla`; the buffer is full; VLA actions make up at least `tau`
/// of it (freshness); each of the newest `stepSkip` actions passes the motion test.
/// Generator: ridge regression over time, X = [t, 1] for t = 0…n−1, Y = the buffer's x, y, z,
/// β = (XᵀX + λI)⁻¹XᵀY with λ = 1e-4, predicted at t = n; clipped to ±0.9; each axis's change from the
/// newest action clamped to the largest change between neighbours in the buffer; rejected when the
/// prediction's magnitude exceeds 2.5× the largest magnitude in the buffer. Rotation and gripper are
/// copied from the newest action, never extrapolated.
public struct SPVLAScheduler: Sendable {
    public static let ridgeLambda = 1e-4
    public static let clip: Float = 0.9
    public static let rejectFactor = 2.5

    public let settings: SchedulerSettings

    public init(settings: SchedulerSettings) { self.settings = settings }

    /// Whether the gate hands the next tick to the generator.
    ///
    /// `smith` (`SmithPredictor`): the history holds a VLA action followed by fewer than `maxGenerated`
    /// generated ones; with `transitOnly`, that VLA action is at top speed on some axis (|a| ≥ 0.9: a
    /// transit, where the correction only slows down, never a fine approach or contact); and the newest
    /// `stepSkip` actions pass the motion test.
    public func allowsGenerator(_ history: ActionHistory) -> Bool {
        if settings.policy == .smith {
            guard history.vlaCount > 0, history.generatedSinceVLA < settings.maxGenerated else { return false }
            if settings.transitOnly {
                let i = history.count - 1 - history.generatedSinceVLA  // the newest VLA action
                let top = max(abs(history.value(i, 0)), abs(history.value(i, 1)), abs(history.value(i, 2)))
                guard top >= SmithPredictor.saturation else { return false }
            }
            return newestPassMotionTest(history)
        }
        guard settings.policy == .spvla, history.isFull, history.capacity == settings.buffer else { return false }
        // Freshness, as released: generated / n ≥ τ (1e-6 absorbs rounding: τ = 4/6 admits exactly 4 of 6).
        guard Double(history.vlaCount) + 1e-6 >= settings.tau * Double(history.capacity) else { return false }
        return newestPassMotionTest(history)
    }

    /// Each of the newest `stepSkip` actions held passes the motion test.
    func newestPassMotionTest(_ history: ActionHistory) -> Bool {
        for i in (history.count - min(settings.stepSkip, history.count))..<history.count {
            if !passesMotionTest(x: history.value(i, 0), y: history.value(i, 1), z: history.value(i, 2)) { return false }
        }
        return true
    }

    /// The `async` gate. On a board whose VLA takes several control periods, the released freshness rule (4
    /// of the last 6 actions from the VLA) can never hold, and holds between VLA results clear the history, so
    /// the gate asks instead: the policy is `spvla`; the history holds a VLA action whose frame is at most
    /// `maxActionAge` seconds old at `now` (a generated action extends that information and is never applied
    /// past the age a VLA result itself may have); each of the newest `stepSkip` actions held passes the motion
    /// test. With one action held the generator repeats it; from two on it fits the line.
    /// `smith` uses the same gate (its generated steps are corrections of that VLA action).
    public func allowsGeneratorAsync(_ history: ActionHistory, now: Double, maxActionAge: Double) -> Bool {
        guard settings.policy != .none, let vlaTime = history.newestVLAFrameTimestamp, now - vlaTime <= maxActionAge else { return false }
        return newestPassMotionTest(history)
    }

    /// The motion test for one action's translation.
    public func passesMotionTest(x: Float, y: Float, z: Float) -> Bool {
        switch settings.motionTest {
        case .planar:
            let ax = Double(abs(x)), ay = Double(abs(y)), az = Double(abs(z))
            return az / max(ax, ay, 1e-4) < settings.zXYRatio && az < settings.zMax
        case .speed:
            // In Float, the actions' own precision: a threshold written as 0.04 includes an action of 0.04.
            let lo = Float(settings.vMin), hi = Float(settings.vMax)  // no array literal: the tick path allocates nothing
            let ax = abs(x), ay = abs(y), az = abs(z)
            return lo <= ax && ax <= hi && lo <= ay && ay <= hi && lo <= az && az <= hi
        }
    }

    /// Writes the generator's next action (normalized units, `ActionHistory.width` components) into `out`
    /// and returns true, or returns false (leaving `out` unspecified) when the history is empty or the
    /// prediction is rejected by the magnitude guard. With one action the fit is flat and the change clamp
    /// is zero: the generator repeats it.
    public static func extrapolate(_ history: ActionHistory, into out: inout [Float]) -> Bool {
        let n = history.count
        guard n >= 1, out.count >= ActionHistory.width else { return false }
        // XᵀX + λI for X = [t, 1], t = 0…n−1, in closed form; its inverse by the 2×2 rule.
        let nd = Double(n)
        let st = nd * (nd - 1) / 2, stt = (nd - 1) * nd * (2 * nd - 1) / 6
        let a = stt + ridgeLambda, b = st, d = nd + ridgeLambda
        let det = a * d - b * b
        var largestMagnitude = 0.0, predictedMagnitude = 0.0
        for c in 0..<3 {
            var sty = 0.0, sy = 0.0, maxChange = 0.0
            for t in 0..<n {
                let y = Double(history.value(t, c))
                sty += Double(t) * y
                sy += y
                if t > 0 { maxChange = max(maxChange, abs(y - Double(history.value(t - 1, c)))) }
            }
            let slope = (d * sty - b * sy) / det
            let intercept = (a * sy - b * sty) / det
            var p = slope * nd + intercept
            p = min(max(p, -Double(clip)), Double(clip))
            let last = Double(history.value(n - 1, c))
            p = min(max(p, last - maxChange), last + maxChange)
            out[c] = Float(p)
            predictedMagnitude += p * p
        }
        for t in 0..<n {
            var m = 0.0
            for c in 0..<3 { let v = Double(history.value(t, c)); m += v * v }
            largestMagnitude = max(largestMagnitude, m)
        }
        // Squared magnitudes: |p| > 2.5 |largest|  ⇔  |p|² > 6.25 |largest|².
        if predictedMagnitude > rejectFactor * rejectFactor * largestMagnitude { return false }
        for c in 3..<ActionHistory.width { out[c] = history.value(n - 1, c) }
        return true
    }
}
