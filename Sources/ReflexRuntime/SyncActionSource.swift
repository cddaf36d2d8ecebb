import ReflexCore
import ReflexIO

/// `sync` mode, the papers' setting: each acting tick is either a VLA call on the tick's frame (inline,
/// blocking the tick) or, when SP-VLA's gate allows it, a generator step extrapolated from the history.
public final class SyncActionSource: ActionSource {
    public let vla: VLA
    public let scheduler: SPVLAScheduler
    /// Turns the generator's normalized action into robot units (nil: the model's units are the robot's).
    public let statistics: ActionStatistics?
    /// Scratch for the generator's normalized output (preallocated: the generator path allocates nothing).
    private var generated = [Float](repeating: 0, count: ActionHistory.width)

    public init(vla: VLA, scheduler: SPVLAScheduler, statistics: ActionStatistics?) {
        self.vla = vla
        self.scheduler = scheduler
        self.statistics = statistics
    }

    public func nextAction(_ context: TickContext, history: ActionHistory, into slot: inout ActionSlot) throws -> ActionOrigin {
        if scheduler.allowsGenerator(history) {
            let t0 = monotonicSeconds()
            if SPVLAScheduler.extrapolate(history, into: &generated) {
                Self.write(generated, statistics: statistics, into: &slot)
                slot.frameTimestamp = history.newestVLAFrameTimestamp ?? context.frame.timestamp
                slot.computeSeconds = monotonicSeconds() - t0
                return .generator
            }
        }
        let out = try vla.infer(context.frame.image)
        ActionSlot.copy(out.action, into: &slot.action)
        ActionSlot.copy(out.normalized, into: &slot.normalized)
        slot.frameTimestamp = context.frame.timestamp
        slot.computeSeconds = out.seconds
        return .vla
    }

    /// A generated action (normalized units) into the slot, un-normalized into robot units, element-wise:
    /// the generator path allocates nothing.
    static func write(_ generated: [Float], statistics: ActionStatistics?, into slot: inout ActionSlot) {
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

    public func reset() {}
}
