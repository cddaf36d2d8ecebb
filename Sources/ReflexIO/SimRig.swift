import ReflexCore
import ReflexSim

/// The simulator as camera and robot for the control loop: frames are rendered from the current
/// state; commands (x, y, z, gripper) move the end effector. Each `send` or `hold` advances the
/// simulation by one tick.
public final class SimRig: FrameSource, Actuator {
    public private(set) var sim: TabletopSim
    private var sequence = 0
    private var cached: CameraFrame?

    /// Stamps frames (monotonic seconds, or simulated seconds in a virtual-time eval).
    public let clock: () -> Double

    public init(family: TaskFamily, seed: UInt64, clock: @escaping () -> Double = monotonicSeconds) {
        sim = TabletopSim(family: family, seed: seed)
        self.clock = clock
    }

    /// Starts a new episode.
    public func reset(family: TaskFamily, seed: UInt64) {
        sim = TabletopSim(family: family, seed: seed)
        cached = nil
    }

    public func latest() throws -> CameraFrame? {
        if let cached, cached.sequence == sequence { return cached }
        let ee = Renderer.project(sim.gripper)
        let f = CameraFrame(image: sim.render(), timestamp: clock(), sequence: sequence,
                            endEffector: (Double(ee.u) / Double(Renderer.size), Double(ee.v) / Double(Renderer.size)))
        cached = f
        return f
    }

    public func reference() throws -> [Float] {
        [sim.gripper.x, sim.gripper.y, sim.gripper.z, sim.gripperOpen ? 1 : 0]
    }

    public func send(_ command: [Float]) throws {
        let g = sim.gripper
        sim.step([command[0] - g.x, command[1] - g.y, command[2] - g.z, 0, 0, 0, command[3]])
        sequence += 1
    }

    public func hold() throws {
        sim.step([0, 0, 0, 0, 0, 0, sim.gripperOpen ? 1 : 0])
        sequence += 1
    }
}
