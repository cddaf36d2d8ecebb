/// The task families. Each has templated instructions, a success test and a step limit.
public enum TaskFamily: String, CaseIterable, Sendable, Codable {
    /// "pick up the red cube and place it in the blue bowl": transit, precise descent, grasp, carry, release.
    case pickPlace = "pick_place"
    /// "push the green circle to the left edge": go behind the object, lower the closed gripper, push.
    case push
    /// "move the gripper above the yellow triangle": fast transit, slow precise approach.
    case reach

    /// Steps after which an episode counts as failed.
    public var stepLimit: Int {
        switch self {
        case .pickPlace: return 90
        case .push: return 70
        case .reach: return 40
        }
    }

    /// Parses a task name as used on the command line (`pick_place`, `push`, `reach`).
    public init?(name: String) {
        self.init(rawValue: name.replacingUnderscoresAndDashes())
    }
}

extension String {
    fileprivate func replacingUnderscoresAndDashes() -> String {
        String(map { $0 == "-" ? "_" : $0 })
    }
}

/// Table edges a push task can name. "top" is the far edge (top of the image).
public enum Edge: String, CaseIterable, Sendable, Codable {
    case left, right, top, bottom

    /// Unit direction in the table plane.
    public var direction: (x: Float, y: Float) {
        switch self {
        case .left: return (-1, 0)
        case .right: return (1, 0)
        case .top: return (0, -1)
        case .bottom: return (0, 1)
        }
    }
}

/// One task instance: what to do with which object(s).
public struct TaskSpec: Sendable, Equatable, Codable {
    public var family: TaskFamily
    /// Index of the object acted on.
    public var target: Int
    /// Index of the destination bowl (pick-place only).
    public var bowl: Int?
    /// Destination edge (push only).
    public var edge: Edge?
    public var instruction: String

    /// How far past the centre line a pushed object's centre must get (|coordinate| ≥ this).
    public static let pushGoal: Float = 0.72
    /// Reach succeeds within this planar distance, between these heights.
    public static let reachDistance: Float = 0.05
    public static let reachHeights: ClosedRange<Float> = 0.1...0.3
}
