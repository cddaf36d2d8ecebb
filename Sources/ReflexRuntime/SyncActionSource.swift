import ReflexCore
import ReflexIO

/// `sync` mode, the papers' setting: each acting tick is either a VLA call on the tick's frame (inline,
/// blocking the tick) or, when the scheduler's gate allows it, a generated step (SP-VLA's extrapolation of
/// the history, or the Smith predictor's correction of the newest VLA action).
public final class SyncActionSource: ActionSource {
    public let vla: VLA
    public let scheduler: SPVLAScheduler
    /// Turns the generator's normalized action into robot units (nil: the model's units are the robot's).
    public let statistics: ActionStatistics?
    private let generator: GeneratorStep

    public init(vla: VLA, scheduler: SPVLAScheduler, statistics: ActionStatistics?) {
        self.vla = vla
        self.scheduler = scheduler
        self.statistics = statistics
        generator = GeneratorStep(statistics: statistics, settings: scheduler.settings)
    }

    public func nextAction(_ context: TickContext, history: ActionHistory, into slot: inout ActionSlot) throws -> ActionOrigin {
        if scheduler.allowsGenerator(history), generator.fill(&slot, from: history, fallbackFrameTime: context.frame.timestamp) {
            return .generator
        }
        slot.fill(with: try vla.infer(context.frame), frameTimestamp: context.frame.timestamp)
        generator.remember(slot.normalized, frameTimestamp: context.frame.timestamp)
        return .vla
    }

    public func reset() { generator.forget() }
}
