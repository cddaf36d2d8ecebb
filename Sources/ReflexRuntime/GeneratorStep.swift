import ReflexCore
import ReflexIO

/// One generator step into the loop's slot: SP-VLA's extrapolation of the history (normalized units),
/// un-normalized into robot units, element-wise — the generator path allocates nothing. Both action
/// sources use it once their gate has allowed it.
final class GeneratorStep {
    let statistics: ActionStatistics?
    /// Scratch for the normalized prediction.
    private var generated = [Float](repeating: 0, count: ActionHistory.width)

    init(statistics: ActionStatistics?) { self.statistics = statistics }

    /// Writes the extrapolation into `slot` and returns true; false when the history is empty or the magnitude
    /// guard rejects it (then `slot` is untouched). The action's frame time is the newest VLA frame it extends.
    func fill(_ slot: inout ActionSlot, from history: ActionHistory, fallbackFrameTime: Double) -> Bool {
        let t0 = monotonicSeconds()
        guard SPVLAScheduler.extrapolate(history, into: &generated) else { return false }
        let w = ActionHistory.width
        if slot.normalized.count != w { slot.normalized = [Float](repeating: 0, count: w) }
        if slot.action.count != w { slot.action = [Float](repeating: 0, count: w) }
        for i in 0..<w { slot.normalized[i] = generated[i] }
        if let statistics, statistics.q01.count == w {
            statistics.unnormalize(generated, into: &slot.action)
        } else {
            for i in 0..<w { slot.action[i] = generated[i] }
        }
        slot.frameTimestamp = history.newestVLAFrameTimestamp ?? fallbackFrameTime
        slot.computeSeconds = monotonicSeconds() - t0
        return true
    }
}
