/// The scheduler's memory: the last `capacity` actions that were executed, in the model's normalized
/// units ([-1, 1] after the q01/q99 mapping), oldest first, each tagged with its origin (VLA or
/// generator).
///
/// It holds only actions that reached the actuator unchanged: the control loop clears it on every
/// hold, every command the safety stage changed (step limit, clamp), a reconnect or resynchronization,
/// an e-stop and an episode start, so the generator never extrapolates across any of them.
/// Fixed storage: `append` and `clear` never allocate.
public struct ActionHistory: Sendable {
    /// Components stored per action (dx dy dz droll dpitch dyaw gripper).
    public static let width = 7
    public let capacity: Int
    private var storage: [Float]
    private var tags: [ActionOrigin]
    /// When each held action was executed (the loop's clock at its tick).
    private var executed: [Double]
    /// The newest execution time among entries dropped from the full ring since the last `clear`
    /// (−∞ when none): a window reaching back past it is incomplete.
    private var droppedExecutedAt = -Double.infinity
    /// Index of the oldest entry in the ring.
    private var start = 0
    public private(set) var count = 0
    /// VLA-tagged entries held.
    public private(set) var vlaCount = 0
    /// When the frame behind the newest VLA action held was captured (nil when none is held): the age of
    /// the information a generated action extends.
    public private(set) var newestVLAFrameTimestamp: Double?

    public init(capacity: Int) {
        precondition(capacity >= 1, "ActionHistory needs a capacity of at least 1")
        self.capacity = capacity
        storage = [Float](repeating: 0, count: capacity * Self.width)
        tags = [ActionOrigin](repeating: .hold, count: capacity)
        executed = [Double](repeating: 0, count: capacity)
    }

    public var isFull: Bool { count == capacity }
    public var isEmpty: Bool { count == 0 }

    /// Appends an executed action (its first `width` components; missing ones are 0), dropping the oldest
    /// when full. `origin` must be `.vla` or `.generator`; `frameTimestamp` is the VLA action's frame time;
    /// `executedAt` the tick's time on the loop's clock (what `translationExecuted(since:)` windows by).
    public mutating func append(_ action: [Float], origin: ActionOrigin, frameTimestamp: Double = 0, executedAt: Double = -.infinity) {
        precondition(origin != .hold, "ActionHistory holds executed actions only")
        let slot: Int
        if count == capacity {
            if tags[start] == .vla { vlaCount -= 1 }
            droppedExecutedAt = max(droppedExecutedAt, executed[start])
            slot = start
            start = (start + 1) % capacity
        } else {
            slot = (start + count) % capacity
            count += 1
        }
        let base = slot * Self.width
        for c in 0..<Self.width { storage[base + c] = c < action.count ? action[c] : 0 }
        tags[slot] = origin
        executed[slot] = executedAt
        if origin == .vla {
            vlaCount += 1
            newestVLAFrameTimestamp = frameTimestamp
        } else if vlaCount == 0 {
            newestVLAFrameTimestamp = nil
        }
    }

    /// Forgets everything (a hold, a clamp, a reconnect, an e-stop, a new episode).
    public mutating func clear() {
        start = 0
        count = 0
        vlaCount = 0
        newestVLAFrameTimestamp = nil
        droppedExecutedAt = -.infinity
    }

    /// The translation (components 0…2, normalized units, each less `zero` — the normalized value of no
    /// motion) summed over the held actions executed at or after `time`, and whether the history still holds
    /// that whole window (false when an action executed since then already dropped out of the full ring).
    /// A clear (hold, clamp, reconnect, e-stop, episode start) forgets what was executed before it.
    public func translationExecuted(since time: Double, zero: (Float, Float, Float) = (0, 0, 0))
        -> (x: Float, y: Float, z: Float, complete: Bool) {
        var x: Float = 0, y: Float = 0, z: Float = 0
        for i in 0..<count {
            let slot = (start + i) % capacity
            guard executed[slot] >= time else { continue }
            let base = slot * Self.width
            x += storage[base] - zero.0
            y += storage[base + 1] - zero.1
            z += storage[base + 2] - zero.2
        }
        return (x, y, z, droppedExecutedAt < time)
    }

    /// Generator-tagged actions after the newest VLA-tagged one (all held, when none is VLA-tagged).
    public var generatedSinceVLA: Int {
        var n = 0
        while n < count && tags[(start + count - 1 - n) % capacity] == .generator { n += 1 }
        return n
    }

    /// Component `component` of the `index`-th held action, oldest first.
    @inlinable
    public func value(_ index: Int, _ component: Int) -> Float {
        precondition(index >= 0 && index < count && component >= 0 && component < Self.width)
        return storageValue(index, component)
    }

    @usableFromInline
    func storageValue(_ index: Int, _ component: Int) -> Float {
        storage[((start + index) % capacity) * Self.width + component]
    }

    /// The origin of the `index`-th held action, oldest first.
    public func origin(_ index: Int) -> ActionOrigin {
        precondition(index >= 0 && index < count)
        return tags[(start + index) % capacity]
    }

    /// The newest action's origin, nil when empty.
    public var lastOrigin: ActionOrigin? { count == 0 ? nil : origin(count - 1) }

    /// Share of VLA-tagged actions among those held (0 when empty).
    public var vlaShare: Double { count == 0 ? 0 : Double(vlaCount) / Double(count) }
}
