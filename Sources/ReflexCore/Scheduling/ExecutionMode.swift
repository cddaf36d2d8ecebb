/// How the control loop and the VLA share time.
public enum ExecutionMode: String, Sendable, CaseIterable {
    /// The papers' setting: each tick is a VLA call or a generator step, run inline; the loop goes as fast
    /// as steps complete (a tick whose own work overruns the frame budget holds).
    case sync
    /// The board's: ticks run at the profile's rate and never wait; the VLA runs on its own thread on the
    /// newest frame; each tick applies a fresh VLA result, else a generator step when the scheduler allows
    /// it, else holds.
    case async
}
