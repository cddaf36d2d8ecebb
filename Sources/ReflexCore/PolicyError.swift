/// The model produced something that must not become motion: non-finite numbers (a checkpoint with
/// NaN/Inf weights, an overflow) or a token outside the action-token range. One-shot commands fail
/// with exit code 1; the control loop holds.
public enum PolicyError: Error, Equatable, CustomStringConvertible {
    /// Logits of generated token `step` (0-based) hold NaN or ±Inf.
    case nonFiniteLogits(step: Int)
    /// Generated token `step` is `token`, not one of the action tokens `range`.
    case notAnActionToken(step: Int, token: Int, range: Range<Int>)

    public var description: String {
        switch self {
        case let .nonFiniteLogits(step):
            return "policy output is not finite: the logits of action token \(step + 1) hold NaN or Inf (broken weights?); no action"
        case let .notAnActionToken(step, token, range):
            return "policy output is not an action: action token \(step + 1) is id \(token), outside the action-token ids \(range.lowerBound)…\(range.upperBound - 1); no action"
        }
    }
}
