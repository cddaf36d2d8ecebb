/// A point or displacement in the tabletop's frame: x to the right, y towards the camera (down in
/// the image), z up from the table surface. The table spans [-1, 1] in x and y; units are
/// "table half-widths" (think 0.3 m).
public struct Vec3: Sendable, Equatable, Codable {
    public var x: Float, y: Float, z: Float
    public init(_ x: Float, _ y: Float, _ z: Float) { self.x = x; self.y = y; self.z = z }
    public static func + (a: Vec3, b: Vec3) -> Vec3 { Vec3(a.x + b.x, a.y + b.y, a.z + b.z) }
    public static func - (a: Vec3, b: Vec3) -> Vec3 { Vec3(a.x - b.x, a.y - b.y, a.z - b.z) }
    /// Distance in the table plane (z ignored).
    public func planarDistance(to o: Vec3) -> Float { ((x - o.x) * (x - o.x) + (y - o.y) * (y - o.y)).squareRoot() }
}

/// Object shapes the simulator draws and instructions name.
public enum Shape: String, CaseIterable, Sendable, Codable {
    case cube, circle, triangle, bowl
}

/// The named colours. Each object in a scene has a colour no other object shares, so
/// "the red cube" is unambiguous; bowls have their own distinct colours.
public enum ObjectColor: String, CaseIterable, Sendable, Codable {
    case red, green, blue, yellow, purple, orange

    /// sRGB of the object's top face.
    public var rgb: (UInt8, UInt8, UInt8) {
        switch self {
        case .red: return (215, 40, 40)
        case .green: return (40, 165, 60)
        case .blue: return (40, 80, 215)
        case .yellow: return (235, 210, 35)
        case .purple: return (135, 55, 180)
        case .orange: return (240, 125, 25)
        }
    }
}

/// One thing on the table: a graspable/pushable object or a (fixed) bowl.
public struct SimObject: Sendable, Equatable, Codable {
    public var shape: Shape
    public var color: ObjectColor
    /// Centre on the table (z = 0) or, while held, under the gripper.
    public var position: Vec3
    public var held = false

    /// Footprint radius used for contact, grasping and placement.
    public var radius: Float { shape == .bowl ? World.bowlRadius : World.objectRadius }
    public var name: String { "\(color.rawValue) \(shape.rawValue)" }
}

/// Simulator constants, in table units. One place so the expert, the renderer, the success tests
/// and the docs agree.
public enum World {
    /// Footprint radius of cubes, circles and triangles.
    public static let objectRadius: Float = 0.085
    /// Object height: a gripper below this (plus a margin) touches objects.
    public static let objectHeight: Float = 0.08
    /// Outer radius of a bowl; an object whose centre rests within `bowlInnerRadius` is "in" it.
    public static let bowlRadius: Float = 0.16
    public static let bowlInnerRadius: Float = 0.115
    /// Radius of the gripper's contact footprint when closed (used for pushing).
    public static let gripperRadius: Float = 0.05
    /// A grasp succeeds when the gripper closes within this planar distance of an object's centre,
    /// lower than `graspHeight`.
    public static let graspDistance: Float = 0.06
    public static let graspHeight: Float = 0.13
    /// The end effector's workspace (the simulator clamps to it; the safety stage should clamp first).
    public static let workspaceMin = Vec3(-0.95, -0.95, 0.0)
    public static let workspaceMax = Vec3(0.95, 0.95, 0.9)
    /// The largest per-axis displacement one control step may command.
    public static let maxStep: Float = 0.1
    /// Gripper command threshold: > 0.5 opens, ≤ 0.5 closes (OpenVLA convention: 1 = open).
    public static let gripperThreshold: Float = 0.5
}
