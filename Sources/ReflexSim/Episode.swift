import ReflexCore

/// One recorded demonstration: every frame the policy would see, the expert's action label for it,
/// and the simulator state (see `TabletopSim.stateVector`).
public struct Demonstration: Sendable {
    public var family: TaskFamily
    public var seed: UInt64
    public var instruction: String
    public var frames: [RGBImage] = []
    /// The clean expert action for each frame (the label), 7 floats each.
    public var actions: [[Float]] = []
    /// The action actually executed (label plus injected noise).
    public var executed: [[Float]] = []
    public var states: [[Float]] = []
    /// `TabletopSim.objectTable` per frame.
    public var objects: [[Float]] = []
    public var success = false

    /// Runs the expert on episode `seed` of `family`. With `noise` > 0 the executed position
    /// deltas get N(0, noise²) added (DART): the recorded labels stay the expert's clean actions
    /// for the states the noise leads to, which teaches a policy to recover from its own errors.
    ///
    /// With an `actor` (a learned policy: frame and simulator in, 7-float action out) the actor's
    /// action is executed instead of the expert's while the expert still labels every frame
    /// (DAgger): the data then covers the states the policy itself drives into.
    public static func record(family: TaskFamily, seed: UInt64, noise: Float = 0, objects: Int? = nil,
                              actor: ((RGBImage, TabletopSim) throws -> [Float])? = nil) rethrows -> Demonstration {
        var sim = TabletopSim(family: family, seed: seed, objects: objects)
        var demo = Demonstration(family: family, seed: seed, instruction: sim.task.instruction)
        var rng = SplitMix64(seed: seed ^ 0x5EED_0F_D0A7)
        while !sim.done {
            let frame = sim.render()
            let label = Expert.action(for: sim)
            var act = try actor?(frame, sim) ?? label
            if noise > 0 { for i in 0..<3 { act[i] += noise * rng.nextGaussian() } }
            demo.frames.append(frame)
            demo.actions.append(label)
            demo.executed.append(act)
            demo.states.append(sim.stateVector)
            demo.objects.append(sim.objectTable)
            sim.step(act)
        }
        demo.success = sim.success
        return demo
    }
}
