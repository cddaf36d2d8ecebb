/// Writes NumPy `.npy` (format 1.0) files' bytes: the demonstration format's arrays, which
/// `numpy.load` reads directly. Little-endian, C order.
public enum NPY {
    /// An array of `UInt8` (`|u1`) with `shape`.
    public static func encode(uint8 data: [UInt8], shape: [Int]) -> [UInt8] {
        precondition(shape.reduce(1, *) == data.count, "NPY: \(data.count) values for shape \(shape)")
        return header(descr: "|u1", shape: shape) + data
    }

    /// An array of `Float` (`<f4`) with `shape`.
    public static func encode(float32 data: [Float], shape: [Int]) -> [UInt8] {
        precondition(shape.reduce(1, *) == data.count, "NPY: \(data.count) values for shape \(shape)")
        var out = header(descr: "<f4", shape: shape)
        out.reserveCapacity(out.count + data.count * 4)
        for v in data {
            let b = v.bitPattern.littleEndian
            out.append(UInt8(truncatingIfNeeded: b)); out.append(UInt8(truncatingIfNeeded: b >> 8))
            out.append(UInt8(truncatingIfNeeded: b >> 16)); out.append(UInt8(truncatingIfNeeded: b >> 24))
        }
        return out
    }

    /// Magic, version 1.0, header length, and the dict padded with spaces so data starts at a
    /// multiple of 64 bytes.
    static func header(descr: String, shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        let total = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        let n = dict.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(dict.utf8)
    }
}
