import ReflexCore

/// The deterministic tabletop: a fixed camera over a textured table with coloured objects, bowls,
/// distractor marks and a gripper. Same family and seed → same scene, same frames, same outcome for
/// the same actions.
///
/// Actions follow OpenVLA's convention: `(dx, dy, dz, droll, dpitch, dyaw, gripper)`; the position
/// deltas move the end effector in table units (clamped to `World.maxStep` per axis and to the
/// workspace), the rotations are ignored (the gripper is vertical), and `gripper` > 0.5 opens,
/// ≤ 0.5 closes.
public struct TabletopSim: Sendable {
    public let family: TaskFamily
    public let seed: UInt64
    public private(set) var objects: [SimObject]
    public private(set) var gripper: Vec3
    public private(set) var gripperOpen = true
    public private(set) var task: TaskSpec
    public private(set) var steps = 0
    public private(set) var success = false
    /// Static background (table texture and distractors), rendered once per episode.
    let background: [UInt8]
    /// Index of the held object, if any.
    public var heldIndex: Int? { objects.firstIndex { $0.held } }

    /// Builds episode `seed` of `family`. `objects` (1…4) fixes how many graspable objects the scene
    /// holds — a curriculum knob for training data; by default a scene has 3 or 4 (what `eval` uses).
    public init(family: TaskFamily, seed: UInt64, objects: Int? = nil) {
        self.family = family
        self.seed = seed
        // Mix the family into the seed so `reach` 7 and `push` 7 are different scenes.
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(TaskFamily.allCases.firstIndex(of: family)! + 1) &* 0xD1B5_4A32_D192_ED03)
        var colors = ObjectColor.allCases
        colors.shuffle(using: &rng)
        let drawn = 3 + Int(rng.next() % 2)
        let nObjects = objects.map { min(max($0, 1), 4) } ?? drawn
        let nBowls = family == .pickPlace ? 2 : Int(rng.next() % 2)
        var bowlColors = ObjectColor.allCases
        bowlColors.shuffle(using: &rng)
        var objs: [SimObject] = []
        // Rejection-sample non-overlapping positions; objects stay away from the edges so pushes have room.
        func place(_ shape: Shape, _ color: ObjectColor, range: Float, rng: inout SplitMix64, existing: [SimObject]) -> SimObject {
            for _ in 0..<500 {
                let p = Vec3((rng.nextUniform() * 2 - 1) * range, (rng.nextUniform() * 2 - 1) * range, 0)
                let r = shape == .bowl ? World.bowlRadius : World.objectRadius
                if existing.allSatisfy({ $0.position.planarDistance(to: p) > $0.radius + r + 0.1 }) {
                    return SimObject(shape: shape, color: color, position: p)
                }
            }
            return SimObject(shape: shape, color: color, position: Vec3(0, 0, 0))  // unreachable in practice
        }
        for i in 0..<nBowls {
            objs.append(place(.bowl, bowlColors[i], range: 0.7, rng: &rng, existing: objs))
        }
        let shapes: [Shape] = [.cube, .circle, .triangle]
        for i in 0..<nObjects {
            let shape = shapes[Int(rng.next() % 3)]
            objs.append(place(shape, colors[i], range: 0.55, rng: &rng, existing: objs))
        }
        self.objects = objs
        self.gripper = Vec3((rng.nextUniform() * 2 - 1) * 0.8, (rng.nextUniform() * 2 - 1) * 0.8, 0.45 + 0.35 * rng.nextUniform())
        let target = nBowls + Int(rng.next() % UInt64(nObjects))
        let t = objs[target]
        let phrase = Int(rng.next() % 3)
        switch family {
        case .pickPlace:
            let bowl = Int(rng.next() % UInt64(nBowls))
            let b = objs[bowl].color.rawValue
            let text = ["pick up the \(t.name) and place it in the \(b) bowl",
                        "put the \(t.name) in the \(b) bowl",
                        "place the \(t.name) into the \(b) bowl"][phrase]
            task = TaskSpec(family: family, target: target, bowl: bowl, edge: nil, instruction: text)
        case .push:
            let edge = Edge.allCases[Int(rng.next() % 4)]
            let text = ["push the \(t.name) to the \(edge.rawValue) edge",
                        "slide the \(t.name) to the \(edge.rawValue) side of the table",
                        "push the \(t.name) towards the \(edge.rawValue) edge"][phrase]
            task = TaskSpec(family: family, target: target, bowl: nil, edge: edge, instruction: text)
        case .reach:
            let text = ["move the gripper above the \(t.name)",
                        "hover over the \(t.name)",
                        "move above the \(t.name)"][phrase]
            task = TaskSpec(family: family, target: target, bowl: nil, edge: nil, instruction: text)
        }
        background = Renderer.background(rng: &rng)
    }

    /// True once the task succeeded or the step limit is reached.
    public var done: Bool { success || steps >= family.stepLimit }

    /// The camera frame (224×224 RGB).
    public func render() -> RGBImage { Renderer.render(self) }

    /// Applies one action. Non-finite components are treated as zero motion and "keep the gripper
    /// as it is" (the runtime's safety stage should never let them through; the simulator must not
    /// crash if it does).
    public mutating func step(_ action: [Float]) {
        precondition(action.count >= 7, "TabletopSim.step: an action has 7 components")
        func clean(_ v: Float) -> Float { v.isFinite ? min(max(v, -World.maxStep), World.maxStep) : 0 }
        let old = gripper
        gripper = Vec3(min(max(old.x + clean(action[0]), World.workspaceMin.x), World.workspaceMax.x),
                       min(max(old.y + clean(action[1]), World.workspaceMin.y), World.workspaceMax.y),
                       min(max(old.z + clean(action[2]), World.workspaceMin.z), World.workspaceMax.z))
        if action[6].isFinite {
            let open = action[6] > World.gripperThreshold
            if open != gripperOpen { setGripper(open: open) }
        }
        if let h = heldIndex {
            objects[h].position = Vec3(gripper.x, gripper.y, 0)
        } else if !gripperOpen && gripper.z < World.objectHeight + 0.02 {
            push()
        }
        steps += 1
        success = success || evaluateSuccess()
    }

    /// Closing grasps the nearest object under the gripper; opening drops what is held.
    private mutating func setGripper(open: Bool) {
        gripperOpen = open
        if open {
            if let h = heldIndex {
                objects[h].held = false
                objects[h].position = Vec3(gripper.x, gripper.y, 0)
            }
            return
        }
        guard gripper.z < World.graspHeight else { return }
        var best: (Int, Float)?
        for (i, o) in objects.enumerated() where o.shape != .bowl {
            let d = o.position.planarDistance(to: gripper)
            if d < World.graspDistance, d < (best?.1 ?? .infinity) { best = (i, d) }
        }
        if let (i, _) = best { objects[i].held = true }
    }

    /// A closed gripper low over the table shoves objects it overlaps out of its footprint.
    private mutating func push() {
        for i in objects.indices where objects[i].shape != .bowl && !objects[i].held {
            let o = objects[i].position
            let reach = objects[i].radius + World.gripperRadius
            let dx = o.x - gripper.x, dy = o.y - gripper.y
            let d = (dx * dx + dy * dy).squareRoot()
            guard d < reach else { continue }
            let (ux, uy): (Float, Float) = d > 1e-6 ? (dx / d, dy / d) : (1, 0)
            objects[i].position = Vec3(min(max(gripper.x + ux * reach, -0.98), 0.98),
                                       min(max(gripper.y + uy * reach, -0.98), 0.98), 0)
        }
    }

    private func evaluateSuccess() -> Bool {
        let t = objects[task.target]
        switch family {
        case .pickPlace:
            guard let b = task.bowl, !t.held else { return false }
            return t.position.planarDistance(to: objects[b].position) < World.bowlInnerRadius
        case .push:
            guard let e = task.edge, !t.held else { return false }
            let d = e.direction
            return t.position.x * d.x + t.position.y * d.y >= TaskSpec.pushGoal
        case .reach:
            return t.position.planarDistance(to: gripper) < TaskSpec.reachDistance
                && TaskSpec.reachHeights.contains(gripper.z)
        }
    }

    /// Most objects a scene holds (objects + bowls), the row count of `objectTable`.
    public static let maxObjects = 6

    /// Every object in the scene, one row of 6 per object, padded with rows of −1 to `maxObjects`:
    /// x, y, shape index (cube 0, circle 1, triangle 2, bowl 3), colour index (red, green, blue, yellow,
    /// purple, orange = 0…5), held (1/0), is-target (1/0). Recorded for training-time supervision.
    public var objectTable: [Float] {
        var out: [Float] = []
        for (i, o) in objects.enumerated() {
            out += [o.position.x, o.position.y, Float(Shape.allCases.firstIndex(of: o.shape)!),
                    Float(ObjectColor.allCases.firstIndex(of: o.color)!), o.held ? 1 : 0, i == task.target ? 1 : 0]
        }
        out += [Float](repeating: -1, count: (Self.maxObjects - objects.count) * 6)
        return out
    }

    /// The simulator state as a flat vector, recorded next to each frame:
    /// gripper x, y, z, open (1/0), target object x, y, held (1/0), success (1/0).
    public var stateVector: [Float] {
        let t = objects[task.target]
        return [gripper.x, gripper.y, gripper.z, gripperOpen ? 1 : 0, t.position.x, t.position.y, t.held ? 1 : 0, success ? 1 : 0]
    }
}
