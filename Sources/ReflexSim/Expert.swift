/// The scripted expert: a stateless feedback controller per task family. It reads only the current
/// simulator state, so it is a valid label for any state — including states a noisy or learned
/// policy wanders into (that is what makes DART-style noise injection work when recording).
///
/// Motion is proportional with saturation: far from a waypoint every step is `World.maxStep`
/// (fast, smooth transit); close to it the step shrinks geometrically (slow, precise approach).
public enum Expert {
    /// Proportional gain on the waypoint error.
    public static let gain: Float = 0.6
    /// Height for transit over the table.
    public static let transitHeight: Float = 0.4
    /// Gripper height for grasping and pushing.
    public static let lowHeight: Float = 0.04
    /// Release height above a bowl.
    public static let releaseHeight: Float = 0.2

    /// The expert's action for the current state: `(dx, dy, dz, 0, 0, 0, gripper)`.
    public static func action(for sim: TabletopSim) -> [Float] {
        switch sim.family {
        case .pickPlace: return pickPlace(sim)
        case .push: return push(sim)
        case .reach: return reach(sim)
        }
    }

    static func toward(_ from: Vec3, _ to: Vec3, gripper: Float) -> [Float] {
        func c(_ e: Float) -> Float { min(max(gain * e, -World.maxStep), World.maxStep) }
        return [c(to.x - from.x), c(to.y - from.y), c(to.z - from.z), 0, 0, 0, gripper]
    }

    static func pickPlace(_ sim: TabletopSim) -> [Float] {
        let g = sim.gripper
        let target = sim.objects[sim.task.target]
        if target.held {
            let bowl = sim.objects[sim.task.bowl!].position
            let e = g.planarDistance(to: bowl)
            // Hysteresis through height: once descending, tolerate more lateral error before climbing again.
            let tolerance: Float = g.z < 0.32 ? 0.06 : 0.03
            if e > tolerance { return toward(g, Vec3(bowl.x, bowl.y, transitHeight), gripper: 0) }
            if g.z < releaseHeight + 0.03 { return [0, 0, 0, 0, 0, 0, 1] }  // release
            return toward(g, Vec3(bowl.x, bowl.y, releaseHeight), gripper: 0)
        }
        let p = target.position
        if !sim.gripperOpen {  // closed on nothing (or the wrong thing): open and climb
            return [0, 0, min(World.maxStep, max(0, transitHeight - g.z)), 0, 0, 0, 1]
        }
        let e = g.planarDistance(to: p)
        let tolerance: Float = g.z < 0.32 ? 0.05 : 0.025
        if e > tolerance { return toward(g, Vec3(p.x, p.y, transitHeight), gripper: 1) }
        if g.z < lowHeight + 0.025 && e < 0.03 { return [0, 0, 0, 0, 0, 0, 0] }  // grasp
        return toward(g, Vec3(p.x, p.y, lowHeight), gripper: 1)
    }

    static func push(_ sim: TabletopSim) -> [Float] {
        let g = sim.gripper
        let o = sim.objects[sim.task.target].position
        let d = sim.task.edge!.direction
        let perp = (x: -d.y, y: d.x)
        let rx = g.x - o.x, ry = g.y - o.y
        let along = rx * d.x + ry * d.y
        let side = rx * perp.x + ry * perp.y
        let contact = World.objectRadius + World.gripperRadius
        let pushing = g.z < 0.16 && abs(side) < 0.08  // above the contact height (0.1) the z term brings it back down
            && along < -(contact - 0.04) && along > -(contact + 0.1)
        if pushing {
            // Keep the gripper on the line through the object's centre (a disc pushed off-centre slides sideways).
            let s = min(max(-side, -World.maxStep), World.maxStep)
            let dz = min(max(gain * (lowHeight - g.z), -World.maxStep), World.maxStep)
            return [d.x * World.maxStep + perp.x * s, d.y * World.maxStep + perp.y * s, dz, 0, 0, 0, 0]
        }
        let start = Vec3(o.x - d.x * (contact + 0.04), o.y - d.y * (contact + 0.04), 0)
        let e = g.planarDistance(to: start)
        let tolerance: Float = g.z < 0.3 ? 0.06 : 0.03
        if e > tolerance { return toward(g, Vec3(start.x, start.y, 0.35), gripper: 0) }
        return toward(g, Vec3(start.x, start.y, lowHeight), gripper: 0)
    }

    static func reach(_ sim: TabletopSim) -> [Float] {
        let p = sim.objects[sim.task.target].position
        return toward(sim.gripper, Vec3(p.x, p.y, 0.2), gripper: 1)
    }
}
