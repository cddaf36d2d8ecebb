import ReflexCore
import ReflexIO

/// A VLA result on its way to the control loop.
public struct VLAResult {
    /// The inference's output, or the error it threw.
    public var output: Result<VLAOutput, Error>
    /// When the frame it was computed from was captured (the loop's clock).
    public var frameTimestamp: Double
}

/// Runs the VLA off the control tick: `async` mode's engine.
///
/// Contract: `launch` and `poll` are called only from the control loop's thread and never block for long
/// (a virtual executor runs the inference inline but releases its result only when simulated time has
/// caught up with it). At most one inference is in flight; `launch` is only called when `isIdle`.
public protocol VLAExecutor: AnyObject {
    /// No inference in flight and no result waiting.
    var isIdle: Bool { get }
    /// Starts an inference on `frame`.
    func launch(_ frame: CameraFrame, now: Double)
    /// The finished result, once, when it is available at `now`; nil otherwise.
    func poll(now: Double) -> VLAResult?
    /// Drops any inference in flight (its result is never returned) and any waiting result.
    func cancel()
    /// Stops the executor's own thread, if it has one (blocking until its inference ends).
    func shutdown()
}

/// The VLA in simulated time (`reflex eval --mode async`): the inference runs inline when launched, and its
/// result becomes available `latency` seconds of simulated time after its frame, however long the host took.
/// `latency` nil: the inference's own measured time (`--vla-latency-ms measured`).
public final class VirtualVLAExecutor: VLAExecutor {
    public let vla: VLA
    public let latency: Double?
    private var pending: (result: VLAResult, availableAt: Double)?

    public init(vla: VLA, latency: Double?) {
        self.vla = vla
        self.latency = latency
    }

    public var isIdle: Bool { pending == nil }

    public func launch(_ frame: CameraFrame, now: Double) {
        precondition(pending == nil, "VirtualVLAExecutor: launch while busy")
        let output = Result { try vla.infer(frame) }
        let seconds = (try? output.get().seconds) ?? 0
        pending = (VLAResult(output: output, frameTimestamp: frame.timestamp), frame.timestamp + (latency ?? seconds))
    }

    public func poll(now: Double) -> VLAResult? {
        // A small tolerance: simulated time is a sum of periods, a latency of k periods lands on a tick.
        guard let p = pending, now + 1e-9 >= p.availableAt else { return nil }
        pending = nil
        return p.result
    }

    public func cancel() { pending = nil }

    public func shutdown() {}
}
