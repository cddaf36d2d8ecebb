import ReflexCore
import ReflexIO

/// The one place an action source is built from a profile's `acceleration.scheduler`.
public enum ActionSourceFactory {
    /// `sync`: the VLA inline on the tick (or the generator when the gate allows). `async`: the VLA behind
    /// `executor` — by default on its own thread (`ThreadedVLAExecutor`), the tick never waiting for it; an
    /// eval in simulated time passes a `VirtualVLAExecutor`.
    public static func make(_ scheduler: BoardProfile.Scheduler, vla: VLA, statistics: ActionStatistics?,
                            executor: (VLA) -> VLAExecutor = { ThreadedVLAExecutor(vla: $0) }) -> ActionSource {
        let gate = SPVLAScheduler(settings: scheduler.settings)
        switch scheduler.mode {
        case .sync:
            return SyncActionSource(vla: vla, scheduler: gate, statistics: statistics)
        case .async:
            return AsyncActionSource(executor: executor(vla), scheduler: gate, statistics: statistics,
                                     maxActionAgeMs: scheduler.maxActionAgeMs)
        }
    }
}
