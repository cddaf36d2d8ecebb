// Framing of the Reflex bridge protocol (see firmware-bridge/PROTOCOL.md): CRC-16/CCITT-FALSE and
// COBS with 0x00 delimiters. Pure Swift, no Foundation, no allocation: it also builds under Embedded
// Swift for the motor-controller firmware.

/// Protocol constants shared by host and firmware.
public enum BridgeWire {
    /// The version byte every frame starts with.
    /// Version 2: STATUS carries the servos' measured positions; TORQUE on needs them.
    public static let version: UInt8 = 2
    /// Most joints a controller drives.
    public static let maxJoints = 16
    /// Most bytes of a message body (after the 3-byte header).
    public static let maxBody = 120
    /// Most bytes of a decoded frame: header (3) + body + CRC (2).
    public static let maxRaw = 3 + maxBody + 2
    /// Most bytes between two delimiters (COBS adds one byte per 254).
    public static let maxEncoded = maxRaw + 1
    /// Most bytes of a frame on the wire, delimiter included.
    public static let maxWire = maxEncoded + 1
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, init 0xFFFF, no input or output reflection, xorout 0.
/// Check value: "123456789" → 0x29B1.
public struct CRC16: Sendable {
    public private(set) var value: UInt16 = 0xFFFF

    public init() {}

    @inline(__always)
    public mutating func update(_ byte: UInt8) {
        var crc = value ^ (UInt16(byte) << 8)
        for _ in 0..<8 {
            crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        value = crc
    }
}

/// A fixed-capacity byte buffer (no allocation). Appending past the capacity sets `overflowed`
/// and drops the byte.
public struct ByteBuffer<let capacity: Int>: Sendable {
    public var storage: InlineArray<capacity, UInt8>
    public private(set) var count: Int = 0
    public private(set) var overflowed = false

    public init() { storage = InlineArray(repeating: 0) }

    @inline(__always)
    public subscript(i: Int) -> UInt8 {
        get { storage[i] }
        set { storage[i] = newValue }
    }

    public var isEmpty: Bool { count == 0 }
    public var remaining: Int { capacity - count }

    public mutating func append(_ byte: UInt8) {
        if count < capacity { storage[count] = byte; count += 1 } else { overflowed = true }
    }

    public mutating func appendLE16(_ v: UInt16) {
        append(UInt8(truncatingIfNeeded: v)); append(UInt8(truncatingIfNeeded: v >> 8))
    }

    public mutating func appendLE32(_ v: UInt32) {
        appendLE16(UInt16(truncatingIfNeeded: v)); appendLE16(UInt16(truncatingIfNeeded: v >> 16))
    }

    public mutating func append<let n: Int>(contentsOf other: ByteBuffer<n>) {
        for i in 0..<other.count { append(other[i]) }
    }

    public mutating func removeAll() { count = 0; overflowed = false }

    /// Sets the count directly (used by in-place decoding, which only shrinks).
    mutating func truncate(to n: Int) { if n < count { count = n } }
}

/// Consistent Overhead Byte Stuffing.
public enum COBS {
    /// Appends the COBS encoding of `input[0..<count]` to `output` (no delimiter).
    public static func encode<let n: Int, let m: Int>(_ input: ByteBuffer<n>, into output: inout ByteBuffer<m>) {
        var codeIndex = output.count
        output.append(0)  // placeholder for the first code byte
        var code: UInt8 = 1
        for i in 0..<input.count {
            let b = input[i]
            if b == 0 {
                if codeIndex < output.count { output[codeIndex] = code }
                codeIndex = output.count
                output.append(0)
                code = 1
            } else {
                output.append(b)
                code += 1
                if code == 0xFF {
                    if codeIndex < output.count { output[codeIndex] = code }
                    codeIndex = output.count
                    output.append(0)
                    code = 1
                }
            }
        }
        if codeIndex < output.count { output[codeIndex] = code }
    }

    /// Decodes `buffer` in place. Returns false when the encoding is invalid (a zero byte, or a
    /// code byte that points past the end).
    public static func decodeInPlace<let n: Int>(_ buffer: inout ByteBuffer<n>) -> Bool {
        let count = buffer.count
        var r = 0
        var w = 0
        while r < count {
            let code = Int(buffer[r])
            r += 1
            if code == 0 { return false }
            let end = r + code - 1
            if end > count { return false }
            while r < end {
                let b = buffer[r]
                if b == 0 { return false }
                buffer[w] = b
                w += 1
                r += 1
            }
            if code != 0xFF && r < count { buffer[w] = 0; w += 1 }
        }
        buffer.truncate(to: w)
        return true
    }
}
