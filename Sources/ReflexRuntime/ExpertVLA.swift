import ReflexCore
import ReflexIO
import ReflexSim

/// The simulator's scripted expert in the VLA's seat (`reflex eval --model expert`): it reads the simulator's
/// state at the moment its frame was captured — in `async` mode, at launch, so its action is as old as a real
/// VLA's would be. What any scheduler achieves with it is the ceiling for that scheduler with a perfect policy.
///
/// `EpisodeRunner` attaches each episode's rig; without one it answers "no motion, gripper open".
public final class ExpertVLA: InstructableVLA {
    public var instruction = ""
    /// The episode's rig (set by `EpisodeRunner.run`).
    public weak var rig: SimRig?
    /// Normalized units as the simulator policy's statistics define them: translation ±`World.maxStep` → ±1,
    /// gripper 0…1 → −1…1 (rotation is always 0).
    public static let statistics = ActionStatistics(
        q01: [-World.maxStep, -World.maxStep, -World.maxStep, -World.maxStep, -World.maxStep, -World.maxStep, 0],
        q99: [World.maxStep, World.maxStep, World.maxStep, World.maxStep, World.maxStep, World.maxStep, 1], mask: nil)

    public init() {}

    public func infer(_ frame: CameraFrame) throws -> VLAOutput {
        let action = rig.map { Expert.action(for: $0.sim) } ?? [0, 0, 0, 0, 0, 0, 1]
        var normalized = [Float](repeating: 0, count: action.count)
        for i in action.indices {
            let lo = Double(Self.statistics.q01[i]), hi = Double(Self.statistics.q99[i])
            normalized[i] = Float(2 * (Double(action[i]) - lo) / (hi - lo) - 1)
        }
        return VLAOutput(action: action, normalized: normalized, seconds: 0)
    }
}
