import Foundation
import ReflexCore

/// Element types a safetensors file may hold (the ones OpenVLA-family checkpoints use).
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case F32, F16, BF16, I8, U8, I32

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .F32, .I32: return 4
        case .F16, .BF16: return 2
        case .I8, .U8: return 1
        }
    }
}

/// One tensor's entry in a safetensors header, validated against the file.
public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range of the data, relative to the start of the file.
    public let byteRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file. The header is parsed and every entry validated (header length
/// within the file, known dtype, non-negative shape, offsets inside the data section, no overlaps,
/// size = elements × dtype size) before any tensor data is touched; data is then read straight
/// from the mapping.
///
/// Format: 8-byte little-endian header length N, N bytes of JSON
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the data;
/// offsets are relative to byte 8 + N.
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: SafeTensorInfo]
    public let metadata: [String: String]
    private let base: UnsafeRawPointer
    private let length: Int

    /// Largest header accepted (the real OpenVLA-7B shards have headers well under 1 MB).
    public static let maxHeaderBytes = 100 << 20

    /// Maps and validates `path`.
    public init(path: String) throws {
        self.path = path
        // Regular files only: a FIFO or device named like a shard would block or never end.
        let (fd, size) = try ModelFile.openRegular(path)
        defer { close(fd) }
        guard size >= 8 else { throw ModelError(file: path, "file is \(size) bytes, shorter than the 8-byte header length") }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw ModelError(file: path, "mmap failed: \(String(cString: strerror(errno)))")
        }
        do {
            let raw = UnsafeRawBufferPointer(start: map, count: size)
            (tensors, metadata) = try Self.parseHeader(raw, file: path)
        } catch {
            munmap(map, size)
            throw error
        }
        base = UnsafeRawPointer(map)
        length = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }

    /// Parses and validates the header of a complete safetensors image (`bytes` is the whole file).
    /// Exposed for tests that feed it corrupted bytes.
    public static func parseHeader(_ bytes: UnsafeRawBufferPointer, file: String) throws -> ([String: SafeTensorInfo], [String: String]) {
        guard bytes.count >= 8 else { throw ModelError(file: file, "file is \(bytes.count) bytes, shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(bytes.count - 8) else {
            throw ModelError(file: file, "header length \(n) at byte 0 exceeds the file (\(bytes.count) bytes)")
        }
        guard n <= UInt64(maxHeaderBytes) else { throw ModelError(file: file, "header length \(n) exceeds the \(maxHeaderBytes)-byte limit") }
        let headerEnd = 8 + Int(n)
        let json = Data(bytes[8..<headerEnd])
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json)
        } catch {
            throw ModelError(file: file, "header (bytes 8..<\(headerEnd)) is not valid JSON")
        }
        guard let dict = object as? [String: Any] else { throw ModelError(file: file, "header is not a JSON object") }
        let dataSize = bytes.count - headerEnd
        var infos: [String: SafeTensorInfo] = [:]
        var meta: [String: String] = [:]
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw ModelError(file: file, key: name, "must be an object of strings") }
                for (k, v) in m {
                    guard let s = v as? String else { throw ModelError(file: file, key: "__metadata__.\(k)", "must be a string") }
                    meta[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else { throw ModelError(file: file, key: name, "entry is not an object") }
            guard let dtypeName = entry["dtype"] as? String else { throw ModelError(file: file, key: name, "missing dtype") }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw ModelError(file: file, key: name, "unsupported dtype \(dtypeName) (supported: \(SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let shapeAny = entry["shape"] as? [Any], let shape = integers(shapeAny), shape.allSatisfy({ $0 >= 0 }) else {
                throw ModelError(file: file, key: name, "shape must be a list of non-negative integers")
            }
            guard let offAny = entry["data_offsets"] as? [Any], let offs = integers(offAny), offs.count == 2 else {
                throw ModelError(file: file, key: name, "data_offsets must be [begin, end]")
            }
            let (b, e) = (offs[0], offs[1])
            guard b >= 0, b <= e, e <= dataSize else {
                throw ModelError(file: file, key: name, "data_offsets [\(b), \(e)] outside the data section of \(dataSize) bytes")
            }
            var elements = 1
            for d in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw ModelError(file: file, key: name, "shape \(shape) is too large") }
                elements = p
            }
            let (want, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, want == e - b else {
                throw ModelError(file: file, key: name, "shape \(shape) × \(dtype.rawValue) needs \(elements * dtype.size) bytes, data_offsets give \(e - b)")
            }
            infos[name] = SafeTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: (headerEnd + b)..<(headerEnd + e))
        }
        // No two tensors may share bytes.
        let sorted = infos.values.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.byteRange.lowerBound < a.byteRange.upperBound {
            throw ModelError(file: file, key: b.name, "data overlaps tensor \(a.name)")
        }
        return (infos, meta)
    }

    /// JSON numbers as Ints (nil if any is not a non-fractional number in range).
    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in values {
            guard let n = v as? NSNumber else { return nil }
            let d = n.doubleValue
            guard d.isFinite, abs(d) < 9.0e15, d == d.rounded() else { return nil }
            out.append(Int(d))
        }
        return out
    }

    /// The entry for `name`, or an error naming the tensor and file.
    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let i = tensors[name] else { throw ModelError(file: path, key: name, "tensor not found") }
        return i
    }

    /// The raw bytes of a tensor, read-only, valid while this file is alive.
    public func bytes(_ info: SafeTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + info.byteRange.lowerBound, count: info.byteRange.count)
    }

    /// Drops the mapped pages of a tensor from this process's resident memory (they are re-read from
    /// the file if touched again). Called once a tensor has been copied out — packed int8 weights,
    /// widened bf16 — so loading does not hold both the file pages and the copy.
    public func release(_ info: SafeTensorInfo) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (info.byteRange.lowerBound + page - 1) / page * page
        let end = info.byteRange.upperBound / page * page
        if end > start { madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED) }
    }

    /// A floating-point tensor as fp32: F32 data that is 4-byte aligned in the file is borrowed from
    /// the mapping without a copy (pages load on first touch); F16/BF16 are widened into new memory.
    public func floatTensor(_ name: String) throws -> Tensor {
        let i = try info(name)
        guard [.F32, .BF16, .F16].contains(i.dtype) else {
            throw ModelError(file: path, key: name, "expected a floating-point tensor, found \(i.dtype.rawValue)")
        }
        let src = bytes(i)
        if i.dtype == .F32, i.elementCount > 0, Int(bitPattern: src.baseAddress!) % MemoryLayout<Float>.alignment == 0 {
            return Tensor(borrowing: src.baseAddress!.assumingMemoryBound(to: Float.self), shape: i.shape, owner: self)
        }
        var t = Tensor(zeros: i.shape)
        let n = i.elementCount
        t.withUnsafeMutableBufferPointer { dst in
            switch i.dtype {
            case .F32:
                if n > 0 { memcpy(dst.baseAddress!, src.baseAddress!, n * 4) }
            case .BF16:
                for k in 0..<n {
                    let lo = UInt32(src[2 * k]), hi = UInt32(src[2 * k + 1])
                    dst[k] = Float(bitPattern: (hi << 24) | (lo << 16))
                }
            case .F16:
                for k in 0..<n {
                    let bits = UInt16(src[2 * k]) | (UInt16(src[2 * k + 1]) << 8)
                    dst[k] = Float(Float16(bitPattern: bits))
                }
            case .I8, .U8, .I32:
                break  // excluded above
            }
        }
        return t
    }
}
