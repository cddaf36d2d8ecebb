/// Where a tick's action came from.
public enum ActionOrigin: String, Sendable, Codable, CaseIterable {
    /// The VLA ran on a camera frame (a "deliberative" step).
    case vla
    /// The lightweight generator extrapolated the recent actions (an "intuitive" step).
    case generator
    /// Nothing may act this tick: the previous command stays in force.
    case hold
}
