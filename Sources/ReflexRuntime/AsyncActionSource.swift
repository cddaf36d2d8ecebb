import ReflexCore
import ReflexIO

/// `async` mode, the board's: the tick never waits for the VLA. Each tick, in order:
/// 1. a VLA result that arrived since the last tick is taken; it is applied if its frame is at most
///    `maxActionAge` old (else it is dropped and counted in `staleResults`); under `smith` it is first
///    corrected for the motion executed since its frame (`SmithPredictor`);
/// 2. when no inference is in flight, one is launched on this tick's frame (the newest);
/// 3. with no fresh result, the generator acts when SP-VLA's async gate allows it
///    (`SPVLAScheduler.allowsGeneratorAsync`); otherwise the tick holds.
/// A VLA error is thrown to the loop (a held tick, counted as a policy error; the loop stops after
/// `maxPolicyErrors` in a row).
public final class AsyncActionSource: ActionSource {
    public let executor: VLAExecutor
    public let scheduler: SPVLAScheduler
    public let statistics: ActionStatistics?
    /// Seconds.
    public let maxActionAge: Double
    /// VLA results dropped because their frame was older than `maxActionAge` when they arrived.
    public private(set) var staleResults = 0
    /// Inferences launched.
    public private(set) var launches = 0
    private let generator: GeneratorStep

    public init(executor: VLAExecutor, scheduler: SPVLAScheduler, statistics: ActionStatistics?, maxActionAgeMs: Double) {
        self.executor = executor
        self.scheduler = scheduler
        self.statistics = statistics
        maxActionAge = maxActionAgeMs / 1000
        generator = GeneratorStep(statistics: statistics, settings: scheduler.settings)
    }

    public func nextAction(_ context: TickContext, history: ActionHistory, into slot: inout ActionSlot) throws -> ActionOrigin {
        var fresh = take(context.now)
        if executor.isIdle {
            executor.launch(context.frame, now: context.now)
            launches += 1
            if fresh == nil { fresh = take(context.now) }  // a zero-latency (virtual) result is ready at once
        }
        if let r = fresh {
            slot.fill(with: try r.output.get(), frameTimestamp: r.frameTimestamp)
            if scheduler.settings.policy == .smith { generator.correctResult(&slot, history: history) }
            return .vla
        }
        if scheduler.allowsGeneratorAsync(history, now: context.now, maxActionAge: maxActionAge),
           generator.fill(&slot, from: history, fallbackFrameTime: context.frame.timestamp) {
            return .generator
        }
        return .hold
    }

    /// The result that arrived, if any and if fresh enough.
    private func take(_ now: Double) -> VLAResult? {
        guard let r = executor.poll(now: now) else { return nil }
        if now - r.frameTimestamp > maxActionAge {
            staleResults += 1
            return nil
        }
        return r
    }

    public func reset() {
        executor.cancel()
        generator.forget()
    }

    public func shutdown() { executor.shutdown() }
}
