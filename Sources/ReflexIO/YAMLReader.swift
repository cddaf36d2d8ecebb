import Foundation
import Yams

/// A profile value that is wrong: names the file, the key path and the line, so a user can fix it
/// without guessing. Exit code 2 at the CLI.
public struct ProfileError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let keyPath: String
    public let line: Int?
    public let message: String

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}

/// A cursor over a composed YAML node that knows where it is (file, key path, line) and reads
/// typed values strictly: unknown keys, wrong types and out-of-range values throw `ProfileError`.
/// Scalars can be overridden from the environment: `camera.device` by `REFLEX_CAMERA_DEVICE`.
struct YAMLCursor {
    let node: Node?
    let path: [String]
    let file: String
    let environment: [String: String]

    var keyPath: String { path.joined(separator: ".") }
    var line: Int? { node?.mark.map { $0.line } }
    /// The environment variable that overrides this scalar.
    var environmentName: String { "REFLEX_" + path.joined(separator: "_").uppercased() }

    func error(_ message: String) -> ProfileError {
        ProfileError(file: file, keyPath: keyPath, line: line, message: message)
    }

    /// Children of a mapping; throws on keys not in `known` (listing the known ones).
    func mapping(known: [String]) throws -> [String: YAMLCursor] {
        guard let node else { return [:] }
        guard case .mapping(let m) = node else { throw error("expected a mapping (key: value lines), got \(describe(node))") }
        var out: [String: YAMLCursor] = [:]
        for (k, v) in m {
            guard let key = k.scalar?.string else { throw error("keys must be plain strings") }
            let child = YAMLCursor(node: v, path: path + [key], file: file, environment: environment)
            guard known.contains(key) else {
                let near = known.min { editDistance($0, key) < editDistance($1, key) }
                let hint = near.map { editDistance($0, key) <= 2 ? " (did you mean '\($0)'?)" : "" } ?? ""
                throw ProfileError(file: file, keyPath: child.keyPath, line: k.mark?.line, message:
                    "unknown key\(hint); known keys here: \(known.joined(separator: ", "))")
            }
            guard out[key] == nil else { throw child.error("duplicate key") }
            out[key] = child
        }
        return out
    }

    /// The scalar text, after any environment override.
    func scalarText() throws -> String? {
        if let v = environment[environmentName] { return v }
        guard let node else { return nil }
        guard case .scalar(let s) = node else { throw error("expected a single value, got \(describe(node))") }
        if s.string == "~" || s.string == "null" || (s.string.isEmpty && s.style == .plain) { return nil }
        return s.string
    }

    private var source: String { environment[environmentName] != nil ? " (from \(environmentName))" : "" }

    func string(default def: String? = nil) throws -> String {
        guard let s = try scalarText() ?? def else { throw error("required value is missing") }
        return s
    }

    func optionalString() throws -> String? { try scalarText() }

    /// A path the service reads (model folder, replay folder): relative to the profile's folder when it
    /// is written in the file, relative to the working directory when it comes from the environment.
    func inputPath() throws -> String? {
        guard let text = try scalarText() else { return nil }
        guard !text.isEmpty else { throw error("empty path") }
        if text.hasPrefix("/") || environment[environmentName] != nil { return text }
        let folder = (file as NSString).deletingLastPathComponent
        guard !folder.isEmpty else { return text }  // the profile is in the working directory
        return ((folder as NSString).appendingPathComponent(text) as NSString).standardizingPath
    }

    func choice(_ options: [String], default def: String? = nil) throws -> String {
        let s = try string(default: def)
        guard options.contains(s) else { throw error("'\(s)'\(source) is not one of: \(options.joined(separator: ", "))") }
        return s
    }

    func int(_ range: ClosedRange<Int>, default def: Int? = nil) throws -> Int {
        guard let text = try scalarText() else {
            guard let def else { throw error("required integer is missing (\(range.lowerBound)…\(range.upperBound))") }
            return def
        }
        guard let v = Int(text) else { throw error("expected an integer, got '\(text)'\(source)") }
        guard range.contains(v) else { throw error("\(v)\(source) is out of range \(range.lowerBound)…\(range.upperBound)") }
        return v
    }

    func double(_ range: ClosedRange<Double>, default def: Double? = nil) throws -> Double {
        guard let text = try scalarText() else {
            guard let def else { throw error("required number is missing (\(range.lowerBound)…\(range.upperBound))") }
            return def
        }
        guard let v = Double(text), v.isFinite else { throw error("expected a number, got '\(text)'\(source)") }
        guard range.contains(v) else { throw error("\(v)\(source) is out of range \(range.lowerBound)…\(range.upperBound)") }
        return v
    }

    func bool(default def: Bool? = nil) throws -> Bool {
        guard let text = try scalarText() else {
            guard let def else { throw error("required true/false is missing") }
            return def
        }
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw error("expected true or false, got '\(text)'\(source)")
        }
    }

    /// Elements of a sequence (flow `[a, b]` or block `- a`).
    func sequence(count: ClosedRange<Int>? = nil) throws -> [YAMLCursor] {
        guard let node else { return [] }
        guard case .sequence(let seq) = node else { throw error("expected a list, got \(describe(node))") }
        let items = seq.enumerated().map { YAMLCursor(node: $1, path: path + ["\($0)"], file: file, environment: environment) }
        if let count, !count.contains(items.count) {
            throw error("expected \(count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound)…\(count.upperBound)") entries, got \(items.count)")
        }
        return items
    }

    func doubles(count: ClosedRange<Int>, range: ClosedRange<Double>) throws -> [Double] {
        guard node != nil else { throw error("required list is missing") }
        return try sequence(count: count).map { try $0.double(range) }
    }

    private func describe(_ n: Node) -> String {
        switch n {
        case .scalar(let s): return "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}

/// Levenshtein distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var prev = row[0]
        row[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            let cur = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
            prev = cur
        }
    }
    return row[b.count]
}
