/// SP-VLA's action-aware scheduling parameters (arXiv 2506.12723 and its released code; see
/// boards/README.md for the profile keys). All thresholds are in the model's normalized action units.
public struct SchedulerSettings: Sendable, Equatable {
    /// `none`: every acting tick is a VLA step. `spvla`: SP-VLA's gate may hand a tick to its ridge
    /// extrapolator (as released). `smith`: a Smith predictor — the newest VLA action corrected for the motion
    /// executed since its frame (`SmithPredictor`), for generated steps and, in `async`, for late VLA results.
    public enum Policy: String, Sendable, CaseIterable { case none, spvla, smith }

    /// Which motion test the gate applies to the last `stepSkip` actions.
    public enum MotionTest: String, Sendable, CaseIterable {
        /// The released code's: |z| / max(|x|, |y|, 1e-4) < `zXYRatio` and |z| < `zMax` (smooth, mostly
        /// planar motion).
        case planar
        /// The paper's: the translational speed within [`vMin`, `vMax`] on every axis (x, y and z).
        case speed
    }

    public var policy: Policy
    /// Executed actions the scheduler remembers (n; released: 6).
    public var buffer: Int
    /// Freshness: the generator may act only when VLA actions make up at least this share of the
    /// buffer's capacity (released: 4 of 6).
    public var tau: Double
    public var motionTest: MotionTest
    /// How many of the newest actions the motion test checks.
    public var stepSkip: Int
    public var zXYRatio: Double
    public var zMax: Double
    public var vMin: Double
    public var vMax: Double
    /// `smith`: the policy's proportional gain — how much of the remaining error one action covers, in
    /// normalized units (the simulator's expert: 0.6). 0 turns the correction off (the VLA action repeats).
    public var gain: Double
    /// `smith` in `sync`: generated steps allowed after each VLA step (1 → at most every other tick generated).
    public var maxGenerated: Int
    /// `smith`: a saturated action only bounds the error from below; the predictor assumes this many times
    /// that bound (1: never overshoots, slow transit; see `SmithPredictor`).
    public var saturationFactor: Double
    /// `smith` in `sync`: generate only after a VLA action at top speed (a transit); false: after any.
    public var transitOnly: Bool

    /// Defaults: the released code's (the "default" row its LeRobot port uses: step_skip 1,
    /// z_xy_ratio 0.6, z_max 0.3; n = 6, 4 of 6 VLA); v_min/v_max from the paper's text (unverified there).
    public init(policy: Policy = .none, buffer: Int = 6, tau: Double = 4.0 / 6.0, motionTest: MotionTest = .planar,
                stepSkip: Int = 1, zXYRatio: Double = 0.6, zMax: Double = 0.3, vMin: Double = 0.04, vMax: Double = 0.2,
                gain: Double = 0.6, maxGenerated: Int = 1, saturationFactor: Double = 1.5, transitOnly: Bool = true) {
        self.policy = policy
        self.buffer = buffer
        self.tau = tau
        self.motionTest = motionTest
        self.stepSkip = stepSkip
        self.zXYRatio = zXYRatio
        self.zMax = zMax
        self.vMin = vMin
        self.vMax = vMax
        self.gain = gain
        self.maxGenerated = maxGenerated
        self.saturationFactor = saturationFactor
        self.transitOnly = transitOnly
    }

    /// How many executed actions the loop's history keeps: `buffer` (the released scheduler's n), or under
    /// `smith` at least 64 — its correction needs every action executed since the VLA's frame, which on a
    /// slow board spans several control periods (the history refuses a correction it cannot cover).
    public var historyCapacity: Int { policy == .smith ? max(buffer, 64) : buffer }

    /// The first invalid parameter, by its profile key, and why; nil when every value is usable.
    public var problem: (key: String, message: String)? {
        if buffer < 2 || buffer > 64 { return ("buffer", "\(buffer) must be 2…64 (the generator fits a line through the buffer)") }
        if !(tau.isFinite && (0...1).contains(tau)) { return ("tau", "\(tau) must be a share in 0…1") }
        if stepSkip < 1 || stepSkip > buffer { return ("step_skip", "\(stepSkip) must be 1…buffer (\(buffer))") }
        for (key, v) in [("z_xy_ratio", zXYRatio), ("z_max", zMax), ("v_min", vMin), ("v_max", vMax)] where !(v.isFinite && v >= 0) {
            return (key, "\(v) must be a finite value ≥ 0")
        }
        if vMin > vMax { return ("v_min", "\(vMin) is above v_max (\(vMax))") }
        if !(gain.isFinite && (0..<2).contains(gain)) { return ("gain", "\(gain) must be ≥ 0 and below 2 (a proportional step of 2 or more overshoots without end)") }
        if maxGenerated < 0 || maxGenerated > 64 { return ("max_generated", "\(maxGenerated) must be 0…64") }
        if !(saturationFactor.isFinite && (1...10).contains(saturationFactor)) { return ("saturation_factor", "\(saturationFactor) must be 1…10") }
        return nil
    }
}
