/// SP-VLA's action-aware scheduling parameters (arXiv 2506.12723 and its released code; see
/// boards/README.md for the profile keys). All thresholds are in the model's normalized action units.
public struct SchedulerSettings: Sendable, Equatable {
    /// `none`: every acting tick is a VLA step. `spvla`: the gate below may hand a tick to the generator.
    public enum Policy: String, Sendable, CaseIterable { case none, spvla }

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

    /// Defaults: the released code's (the "default" row its LeRobot port uses: step_skip 1,
    /// z_xy_ratio 0.6, z_max 0.3; n = 6, 4 of 6 VLA); v_min/v_max from the paper's text (unverified there).
    public init(policy: Policy = .none, buffer: Int = 6, tau: Double = 4.0 / 6.0, motionTest: MotionTest = .planar,
                stepSkip: Int = 1, zXYRatio: Double = 0.6, zMax: Double = 0.3, vMin: Double = 0.04, vMax: Double = 0.2) {
        self.policy = policy
        self.buffer = buffer
        self.tau = tau
        self.motionTest = motionTest
        self.stepSkip = stepSkip
        self.zXYRatio = zXYRatio
        self.zMax = zMax
        self.vMin = vMin
        self.vMax = vMax
    }

    /// The first invalid parameter, by its profile key, and why; nil when every value is usable.
    public var problem: (key: String, message: String)? {
        if buffer < 2 || buffer > 64 { return ("buffer", "\(buffer) must be 2…64 (the generator fits a line through the buffer)") }
        if !(tau.isFinite && (0...1).contains(tau)) { return ("tau", "\(tau) must be a share in 0…1") }
        if stepSkip < 1 || stepSkip > buffer { return ("step_skip", "\(stepSkip) must be 1…buffer (\(buffer))") }
        for (key, v) in [("z_xy_ratio", zXYRatio), ("z_max", zMax), ("v_min", vMin), ("v_max", vMax)] where !(v.isFinite && v >= 0) {
            return (key, "\(v) must be a finite value ≥ 0")
        }
        if vMin > vMax { return ("v_min", "\(vMin) is above v_max (\(vMax))") }
        return nil
    }
}
