/// A Smith predictor for a VLA whose actions are proportional steps toward a goal it sees in the frame:
/// the action the VLA would give *now*, from the one it gave for an older frame and the motion executed
/// since that frame.
///
/// Model: an unsaturated action is `a = g · e` (translation, normalized units measured from `zero`, the
/// normalized value of no motion), `e` the error the frame shows and `g` the policy's gain. Executing
/// displacements `d₁…d_k` after the frame leaves the error `e − Σd`, so the action now is
/// `a − g · Σd` per axis — exact for a linear policy with a goal that stays put, whatever the delay.
/// An axis at saturation (|a| ≥ `saturation`) only says the error was *at least* `a / g`. The predictor
/// then assumes `k · a / g` (`k` = `saturationFactor` ≥ 1): the axis keeps full speed until it has covered
/// `(k − 1) · a / g` since the frame, then slows as above, and never reverses (it stops at 0 and waits for
/// the next VLA result rather than guess past a goal it cannot see). `k` = 1 never overshoots but moves
/// at most `a / g` per frame; a larger `k` buys transit speed with an overshoot of at most `(k − 1) · a / g`.
/// Rotation and gripper are copied. Every result is clipped to ±1 and passes the same safety stage as a
/// VLA action.
///
/// Used for two things: generated steps between VLA calls (`sync`), and in `async` both the VLA result
/// that arrives late (its frame is `latency` old) and the generated steps until the next one.
public enum SmithPredictor {
    /// Normalized magnitude from which an axis counts as saturated.
    public static let saturation: Float = 0.9

    /// Writes the correction of `vla` (normalized, `ActionHistory.width` components, computed from the frame
    /// captured at `frameTimestamp`) into `out`. Returns false, leaving `out` unspecified, when the history no
    /// longer holds every action executed since that frame (the buffer is shorter than the delay).
    public static func correct(_ vla: [Float], frameTimestamp: Double, gain: Double, saturationFactor: Double = 1,
                               history: ActionHistory, zero: (Float, Float, Float) = (0, 0, 0), into out: inout [Float]) -> Bool {
        precondition(vla.count >= ActionHistory.width && out.count >= ActionHistory.width)
        let moved = history.translationExecuted(since: frameTimestamp, zero: zero)
        guard moved.complete else { return false }
        let g = Float(gain), k = Float(saturationFactor)
        func axis(_ a: Float, _ zero: Float, _ d: Float) -> Float {
            let from = a - zero
            var to = from - g * d
            if abs(from) >= saturation {  // a lower bound on the error: assume k times it, never reverse
                to = k * from - g * d
                if to * from < 0 { to = 0 }
            }
            return min(max(zero + to, -1), 1)
        }
        out[0] = axis(vla[0], zero.0, moved.x)
        out[1] = axis(vla[1], zero.1, moved.y)
        out[2] = axis(vla[2], zero.2, moved.z)
        for c in 3..<ActionHistory.width { out[c] = vla[c] }
        return true
    }
}
