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
    }

    public var isFull: Bool { count == capacity }
    public var isEmpty: Bool { count == 0 }

    /// Appends an executed action (its first `width` components; missing ones are 0), dropping the oldest
    /// when full. `origin` must be `.vla` or `.generator`; `frameTimestamp` is the VLA action's frame time.
    public mutating func append(_ action: [Float], origin: ActionOrigin, frameTimestamp: Double = 0) {
        precondition(origin != .hold, "ActionHistory holds executed actions only")
        let slot: Int
        if count == capacity {
            if tags[start] == .vla { vlaCount -= 1 }
            slot = start
            start = (start + 1) % capacity
        } else {
            slot = (start + count) % capacity
            count += 1
        }
        let base = slot * Self.width
        for c in 0..<Self.width { storage[base + c] = c < action.count ? action[c] : 0 }
        tags[slot] = origin
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
