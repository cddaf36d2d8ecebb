/// Errors thrown by tensor operations and layers. The message names the operation and the shapes
/// (or argument) at fault, so that a wrong checkpoint or a mis-sized input is diagnosable.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    /// Operand shapes do not fit the operation.
    case shapeMismatch(op: String, String)
    /// An argument outside its domain (index out of range, bad count, capacity exceeded, ...).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, detail): return "\(op): shape mismatch: \(detail)"
        case let .invalidArgument(detail): return detail
        }
    }
}
