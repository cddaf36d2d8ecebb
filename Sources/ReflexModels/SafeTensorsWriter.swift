import Foundation

/// Writes safetensors files (used by `reflex quantize` and by tests that build checkpoints).
/// Tensors are laid out in the order given; the JSON header is padded with spaces to a multiple
/// of 8 bytes, as the reference implementation does, so data offsets stay aligned.
public struct SafeTensorsWriter {
    public struct Entry {
        public let name: String
        public let dtype: SafeTensorsDType
        public let shape: [Int]
        public let data: [UInt8]

        public init(name: String, dtype: SafeTensorsDType, shape: [Int], data: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.data = data
        }

        /// An F32 entry from floats (little-endian).
        public static func f32(_ name: String, shape: [Int], _ values: [Float]) -> Entry {
            Entry(name: name, dtype: .F32, shape: shape, data: values.withUnsafeBytes { Array($0) })
        }

        /// An I8 entry.
        public static func i8(_ name: String, shape: [Int], _ values: [Int8]) -> Entry {
            Entry(name: name, dtype: .I8, shape: shape, data: values.map { UInt8(bitPattern: $0) })
        }
    }

    public var entries: [Entry] = []
    public var metadata: [String: String] = [:]

    public init(entries: [Entry] = [], metadata: [String: String] = [:]) {
        self.entries = entries
        self.metadata = metadata
    }

    /// The complete file image.
    public func serialized() -> [UInt8] {
        var out = Self.header(entries.map { ($0.name, $0.dtype, $0.shape, $0.data.count) }, metadata: metadata)
        for e in entries { out += e.data }
        return out
    }

    /// Writes the file to `path`.
    public func write(to path: String) throws {
        try Self.stream(to: path, entries.map { ($0.name, $0.dtype, $0.shape, $0.data.count) }, metadata: metadata) { entries[$0].data }
    }

    /// Writes a file whose tensor data is produced one entry at a time by `data(index)` (so a
    /// multi-gigabyte checkpoint never sits in memory whole). Each produced buffer must have the
    /// declared byte count.
    public static func stream(to path: String, _ layout: [(name: String, dtype: SafeTensorsDType, shape: [Int], bytes: Int)],
                              metadata: [String: String], data: (Int) throws -> [UInt8]) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ModelError(file: path, "cannot create")
        }
        defer { try? handle.close() }
        do {
            try handle.write(contentsOf: header(layout, metadata: metadata))
            for (i, entry) in layout.enumerated() {
                let bytes = try data(i)
                guard bytes.count == entry.bytes else {
                    throw ModelError(file: path, key: entry.name, "produced \(bytes.count) bytes, declared \(entry.bytes)")
                }
                try handle.write(contentsOf: bytes)
            }
        } catch let e as ModelError {
            throw e
        } catch {
            throw ModelError(file: path, "write failed: \(error)")
        }
    }

    /// The 8-byte length and the JSON header (space-padded to a multiple of 8) for a layout.
    static func header(_ layout: [(name: String, dtype: SafeTensorsDType, shape: [Int], bytes: Int)], metadata: [String: String]) -> [UInt8] {
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            parts.append("\"__metadata__\":{\(m.joined(separator: ","))}")
        }
        var offset = 0
        for e in layout {
            parts.append("\(jsonString(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + e.bytes)]}")
            offset += e.bytes
        }
        var header = Array("{\(parts.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        let n = UInt64(header.count)
        return (0..<8).map { UInt8((n >> (8 * UInt64($0))) & 0xFF) } + header
    }

    private static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
