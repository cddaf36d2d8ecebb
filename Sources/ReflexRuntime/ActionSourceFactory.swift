import ReflexCore
import ReflexIO

/// The one place an action source is built from a profile's `acceleration.scheduler`.
public enum ActionSourceFactory {
    /// `sync`: the VLA inline on the tick (or the generator when the gate allows). `async`: the VLA on its own
    /// thread (`ThreadedVLAExecutor`), the tick never waiting for it.
    public static func make(_ scheduler: BoardProfile.Scheduler, vla: VLA, statistics: ActionStatistics?) -> ActionSource {
        let gate = SPVLAScheduler(settings: scheduler.settings)
        switch scheduler.mode {
        case .sync:
            return SyncActionSource(vla: vla, scheduler: gate, statistics: statistics)
        case .async:
            return AsyncActionSource(executor: ThreadedVLAExecutor(vla: vla), scheduler: gate, statistics: statistics,
                                     maxActionAgeMs: scheduler.maxActionAgeMs)
        }
    }
}
