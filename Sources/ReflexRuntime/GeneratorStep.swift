import ReflexCore
import ReflexIO

/// One generated step into the loop's slot, in normalized units and then robot units, element-wise — the
/// generator path allocates nothing. `spvla`: SP-VLA's extrapolation of the history. `smith`: the newest
/// VLA action (remembered raw, as the model gave it) corrected for the motion executed since its frame
/// (`SmithPredictor`). Both action sources use it once their gate has allowed a generated step; the `async`
/// source also corrects each late VLA result with it under `smith`.
final class GeneratorStep {
    let statistics: ActionStatistics?
    let settings: SchedulerSettings
    /// The normalized value of no motion on x, y, z (0 for symmetric statistics).
    let zero: (Float, Float, Float)
    /// Scratch for the normalized prediction.
    private var generated = [Float](repeating: 0, count: ActionHistory.width)
    /// `smith`: the newest VLA result's normalized action and the time of its frame.
    private var vla = [Float](repeating: 0, count: ActionHistory.width)
    private var vlaFrameTimestamp: Double?

    init(statistics: ActionStatistics?, settings: SchedulerSettings) {
        self.statistics = statistics
        self.settings = settings
        func zeroOf(_ i: Int) -> Float {
            guard let s = statistics, s.q01.count > i, s.q99[i] > s.q01[i], s.mask?[i] ?? true else { return 0 }
            return Float(-2 * Double(s.q01[i]) / (Double(s.q99[i]) - Double(s.q01[i])) - 1)
        }
        zero = (zeroOf(0), zeroOf(1), zeroOf(2))
    }

    /// Remembers a VLA result (raw) as the one `smith` corrects.
    func remember(_ normalized: [Float], frameTimestamp: Double) {
        guard normalized.count >= ActionHistory.width else { vlaFrameTimestamp = nil; return }
        for i in 0..<ActionHistory.width { vla[i] = normalized[i] }
        vlaFrameTimestamp = frameTimestamp
    }

    /// The loop starts over: nothing to correct.
    func forget() { vlaFrameTimestamp = nil }

    /// Writes a generated step into `slot` and returns true; false when there is nothing to generate from or
    /// the step is refused (the magnitude guard, or a Smith window the history no longer covers) — then `slot`
    /// is untouched. The action's frame time is the newest VLA frame it extends.
    func fill(_ slot: inout ActionSlot, from history: ActionHistory, fallbackFrameTime: Double) -> Bool {
        let t0 = monotonicSeconds()
        let frameTime: Double
        if settings.policy == .smith {
            guard let f = vlaFrameTimestamp, history.newestVLAFrameTimestamp == f,
                  SmithPredictor.correct(vla, frameTimestamp: f, gain: settings.gain, saturationFactor: settings.saturationFactor,
                                         history: history, zero: zero, into: &generated)
            else { return false }
            frameTime = f
        } else {
            guard SPVLAScheduler.extrapolate(history, into: &generated) else { return false }
            frameTime = history.newestVLAFrameTimestamp ?? fallbackFrameTime
        }
        write(into: &slot)
        slot.frameTimestamp = frameTime
        slot.computeSeconds = monotonicSeconds() - t0
        return true
    }

    /// `smith` in `async`: replaces the VLA result in `slot` (just filled, frame `slot.frameTimestamp`) by its
    /// correction for the motion executed since its frame, and remembers the raw result. When the history no
    /// longer covers that window the result stays as the model gave it.
    func correctResult(_ slot: inout ActionSlot, history: ActionHistory) {
        remember(slot.normalized, frameTimestamp: slot.frameTimestamp)
        guard vlaFrameTimestamp != nil,
              SmithPredictor.correct(vla, frameTimestamp: slot.frameTimestamp, gain: settings.gain,
                                     saturationFactor: settings.saturationFactor, history: history,
                                     zero: zero, into: &generated) else { return }
        write(into: &slot)
    }

    private func write(into slot: inout ActionSlot) {
        let w = ActionHistory.width
        if slot.normalized.count != w { slot.normalized = [Float](repeating: 0, count: w) }
        if slot.action.count != w { slot.action = [Float](repeating: 0, count: w) }
        for i in 0..<w { slot.normalized[i] = generated[i] }
        if let statistics, statistics.q01.count == w {
            statistics.unnormalize(generated, into: &slot.action)
        } else {
            for i in 0..<w { slot.action[i] = generated[i] }
        }
    }
}
