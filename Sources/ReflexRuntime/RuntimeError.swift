/// Why the runtime could not be built or cannot go on, classified the way the command line's exit codes are:
/// bad input (a profile or file that cannot work: exit 2) or a runtime failure (a device, the link: exit 1).
public struct RuntimeError: Error, CustomStringConvertible {
    public enum Kind: Sendable { case invalidInput, runtime }
    public let kind: Kind
    public let description: String

    public static func invalidInput(_ message: String) -> RuntimeError { RuntimeError(kind: .invalidInput, description: message) }
    public static func runtime(_ message: String) -> RuntimeError { RuntimeError(kind: .runtime, description: message) }
}
