/// A checkpoint problem, located: the file, and the tensor or key inside it when there is one.
/// The CLI reports these with exit code 2 (invalid input).
public struct ModelError: Error, Equatable, CustomStringConvertible {
    public let file: String
    public let key: String?
    public let message: String

    public init(file: String, key: String? = nil, _ message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String {
        if let key { return "\(file): \(key): \(message)" }
        return "\(file): \(message)"
    }
}
