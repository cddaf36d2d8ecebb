import CKernels
import Foundation
import ReflexCore
import ReflexIO

/// The VLA on a thread of its own (`reflex run` in `async` mode): the control tick hands it the newest
/// frame and picks up the result on a later tick, never waiting for it.
///
/// Threads: one worker, started at init and stopped by `shutdown()` (or deinit). The worker lowers its own
/// scheduling priority (nice +`niceIncrement`, SCHED_OTHER) so that on a board with few cores the tick
/// thread, which keeps the process's policy (SCHED_FIFO under the systemd unit), preempts it and every GEMM
/// worker it wakes. The kernels' thread count is the profile's `cpu.threads` (choose one core fewer than the
/// board has, so the tick thread keeps a core).
public final class ThreadedVLAExecutor: VLAExecutor, @unchecked Sendable {  // state guarded by `condition`
    public let vla: VLA
    private let condition = NSCondition()
    private var frame: CameraFrame?
    private var inFlight = false
    private var result: VLAResult?
    /// Incremented by `cancel()`: a result of an older generation is dropped.
    private var generation = 0
    private var stopping = false

    public init(vla: VLA, niceIncrement: Int32 = 5) {
        self.vla = vla
        let t = Thread { [unowned self] in self.work(niceIncrement: niceIncrement) }
        t.name = "reflex-vla"
        t.start()
    }

    deinit { shutdown() }

    public var isIdle: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !inFlight && result == nil
    }

    public func launch(_ frame: CameraFrame, now: Double) {
        condition.lock()
        precondition(!inFlight && result == nil, "ThreadedVLAExecutor: launch while busy")
        self.frame = frame
        inFlight = true
        condition.signal()
        condition.unlock()
    }

    public func poll(now: Double) -> VLAResult? {
        condition.lock()
        defer { condition.unlock() }
        guard let r = result else { return nil }
        result = nil
        return r
    }

    public func cancel() {
        condition.lock()
        generation += 1
        result = nil
        if frame != nil {  // launched but not yet taken by the worker: nothing is in flight any more
            frame = nil
            inFlight = false
        }
        condition.unlock()
    }

    /// Stops the worker after its current inference (blocks until then).
    public func shutdown() {
        condition.lock()
        if stopping { condition.unlock(); return }
        stopping = true
        condition.broadcast()
        while inFlight { condition.wait() }
        condition.unlock()
    }

    private func work(niceIncrement: Int32) {
        // Below the tick thread: SCHED_OTHER with a higher nice value (per-thread on Linux; the kernels' pool
        // workers inherit it when this thread's inference is the process's first parallel call).
        _ = rk_lower_thread_priority(niceIncrement)
        condition.lock()
        while true {
            while frame == nil && !stopping { condition.wait() }
            if stopping && frame == nil {
                inFlight = false
                condition.broadcast()
                condition.unlock()
                return
            }
            let f = frame!
            frame = nil
            let gen = generation
            condition.unlock()
            let output = Result { try vla.infer(f) }
            condition.lock()
            if gen == generation { result = VLAResult(output: output, frameTimestamp: f.timestamp) }
            inFlight = false
            condition.broadcast()
        }
    }
}
