import ReflexCore

/// What an action source sees at the start of each tick.
public struct TickContext {
    /// The loop's clock (monotonic seconds, or simulated seconds in a virtual-time eval).
    public var now: Double
    /// Seconds left of this tick's frame budget.
    public var budgetLeft: Double
    /// The newest frame (already checked: present, decodable, not older than `camera.max_frame_age_ms`).
    public var frame: CameraFrame
    /// `now − frame.timestamp`, seconds.
    public var frameAge: Double
    /// The index of this tick since the loop started (0-based).
    public var tick: Int

    public init(now: Double, budgetLeft: Double, frame: CameraFrame, frameAge: Double, tick: Int) {
        self.now = now
        self.budgetLeft = budgetLeft
        self.frame = frame
        self.frameAge = frameAge
        self.tick = tick
    }
}

/// Where an action source writes a tick's action. The control loop owns one and passes it to every
/// call, so the tick path allocates nothing when a source writes element-wise (the generator); a source
/// may also replace the arrays wholesale (a VLA result is a fresh array anyway).
public struct ActionSlot {
    /// The action in robot units (the model's 7-D delta after un-normalization): what `ActionMapping` maps.
    public var action: [Float]
    /// The same in the model's normalized units, for the scheduler's history; empty when the source has
    /// none (then the history is cleared: nothing may be extrapolated from it).
    public var normalized: [Float]
    /// When the frame this action was computed from was captured (the loop's clock).
    public var frameTimestamp: Double
    /// Compute time spent on this action (the VLA's inference, or the generator's fit), seconds.
    public var computeSeconds: Double

    public init(width: Int = ActionHistory.width) {
        action = [Float](repeating: 0, count: width)
        normalized = [Float](repeating: 0, count: width)
        frameTimestamp = 0
        computeSeconds = 0
    }
}

/// Chooses each tick's action: the VLA on the newest frame, the scheduler's generator, or nothing.
///
/// Contract:
/// - Threading: called only from the control loop's thread, once per tick, after the frame checks.
///   A source may run work on threads of its own (an asynchronous VLA); it never calls the loop back.
/// - Blocking: a synchronous source may run the VLA inline (the loop then holds the tick as an overrun
///   when that outlasts the frame budget); an asynchronous one returns within microseconds.
/// - Ownership: it writes into `slot` and returns `.vla` or `.generator`, or returns `.hold` when nothing
///   may act (then `slot` is ignored). It must not keep references to `slot`'s arrays or to `history`
///   after returning. `history` holds the executed actions as the loop recorded them (see `ActionHistory`).
/// - Errors: a thrown error holds the tick and is counted as a policy error; it never stops the loop.
public protocol ActionSource: AnyObject {
    func nextAction(_ context: TickContext, history: ActionHistory, into slot: inout ActionSlot) throws -> ActionOrigin
    /// The loop starts over (an episode start, a resynchronization after a reconnect): drop pending work.
    func reset()
    /// Stops any thread of the source's own, blocking until it has finished its current work (the stop
    /// sequence; an episode's end). The source is not used afterwards.
    func shutdown()
}

extension ActionSource {
    public func shutdown() {}
}

/// A plain function of the frame as the action source: every acting tick is a VLA step with no
/// normalized action, so nothing is ever extrapolated (tests, `bench loop`'s fixed action).
public final class FunctionActionSource: ActionSource {
    public let body: (RGBImage) throws -> [Float]
    public init(_ body: @escaping (RGBImage) throws -> [Float]) { self.body = body }

    public func nextAction(_ context: TickContext, history: ActionHistory, into slot: inout ActionSlot) throws -> ActionOrigin {
        let t0 = monotonicSeconds()
        slot.action = try body(context.frame.image)
        slot.normalized = []
        slot.frameTimestamp = context.frame.timestamp
        slot.computeSeconds = monotonicSeconds() - t0
        return .vla
    }

    public func reset() {}
}
