// Encoding of messages into wire frames and the streaming decoder (firmware-bridge/PROTOCOL.md).

/// A frame ready for the wire: COBS-encoded, trailing 0x00 delimiter included.
public typealias WireFrame = ByteBuffer<128>
/// A decoded (un-stuffed) frame: header, body, CRC.
public typealias RawFrame = ByteBuffer<128>

extension Message {
    /// Appends the body (the bytes after the 3-byte header) to `out`.
    public func encodeBody<let n: Int>(into out: inout ByteBuffer<n>) {
        switch self {
        case .heartbeat, .statusRequest, .hold, .estop:
            break
        case .configure(let c):
            out.append(UInt8(c.jointCount))
            for i in 0..<c.jointCount { out.append(c.ids[i]) }
            for i in 0..<c.jointCount { out.appendLE16(c.minimum[i]) }
            for i in 0..<c.jointCount { out.appendLE16(c.maximum[i]) }
            out.appendLE16(c.watchdogMs)
            out.append(c.action.rawValue)
            out.appendLE16(c.torqueOffDelayMs)
        case .torque(let enable):
            out.append(enable ? 1 : 0)
        case .targets(let t):
            out.append(UInt8(t.count))
            for i in 0..<t.count { out.appendLE16(t[i]) }
        case .status(let s):
            out.append(s.flags.rawValue)
            out.append(s.watchdog.rawValue)
            out.append(s.firmwareMajor); out.append(s.firmwareMinor); out.append(s.firmwarePatch)
            out.appendLE32(s.uptimeMs)
            out.appendLE32(s.feedAgeMs)
            out.append(s.lastRxSeq)
            out.appendLE32(s.rxFrames)
            out.appendLE32(s.crcErrors)
            out.appendLE32(s.badFrames)
            out.appendLE32(s.oversize)
            out.appendLE32(s.nacks)
            out.appendLE32(s.seqGaps)
            out.appendLE32(s.watchdogTrips)
            out.appendLE32(s.clampedTargets)
            out.append(UInt8(s.applied.count))
            for i in 0..<s.applied.count { out.appendLE16(s.applied[i]) }
            out.appendLE16(s.measuredAgeMs)
            out.appendLE16(s.measuredMask)
            out.append(UInt8(s.measured.count))
            for i in 0..<s.measured.count { out.appendLE16(UInt16(bitPattern: s.measured[i])) }
        case .ack(let a):
            out.append(a.type.rawValue); out.append(a.seq); out.append(a.detail)
        case .nack(let n):
            out.append(n.type.rawValue); out.append(n.seq); out.append(n.reason.rawValue)
        }
    }

    /// The un-stuffed frame: version, type, seq, body, CRC-16 (little-endian).
    public func rawFrame(seq: UInt8) -> RawFrame {
        var raw = RawFrame()
        raw.append(BridgeWire.version)
        raw.append(type.rawValue)
        raw.append(seq)
        encodeBody(into: &raw)
        var crc = CRC16()
        for i in 0..<raw.count { crc.update(raw[i]) }
        raw.appendLE16(crc.value)
        return raw
    }

    /// The frame as it goes on the wire: COBS(raw) followed by 0x00.
    public func wireFrame(seq: UInt8) -> WireFrame {
        let raw = rawFrame(seq: seq)
        var wire = WireFrame()
        COBS.encode(raw, into: &wire)
        wire.append(0)
        return wire
    }
}

/// Reads little-endian fields from a raw frame body; any read past the end marks it failed.
struct BodyReader {
    let raw: RawFrame
    var pos: Int
    let end: Int
    var failed = false

    init(_ raw: RawFrame, start: Int, end: Int) { self.raw = raw; pos = start; self.end = end }

    var remaining: Int { end - pos }

    mutating func u8() -> UInt8 {
        guard pos < end else { failed = true; return 0 }
        let b = raw[pos]; pos += 1
        return b
    }
    mutating func u16() -> UInt16 { let lo = UInt16(u8()); return lo | UInt16(u8()) << 8 }
    mutating func u32() -> UInt32 { let lo = UInt32(u16()); return lo | UInt32(u16()) << 16 }
}

/// Why a frame was dropped.
public enum FrameError: Error, Equatable, Sendable {
    case encoding, short, crc, version, unknownType, malformed, oversize
}

/// Parses an un-stuffed frame (header + body + CRC). Checks length, CRC, version, type and the
/// exact body length of the type.
public func parseRawFrame(_ raw: RawFrame) -> Result<Frame, FrameError> {
    guard raw.count >= 5 else { return .failure(.short) }
    var crc = CRC16()
    for i in 0..<(raw.count - 2) { crc.update(raw[i]) }
    let stored = UInt16(raw[raw.count - 2]) | UInt16(raw[raw.count - 1]) << 8
    guard stored == crc.value else { return .failure(.crc) }
    guard raw[0] == BridgeWire.version else { return .failure(.version) }
    guard let type = MessageType(rawValue: raw[1]) else { return .failure(.unknownType) }
    let seq = raw[2]
    var r = BodyReader(raw, start: 3, end: raw.count - 2)
    let message: Message?
    switch type {
    case .heartbeat: message = .heartbeat
    case .statusRequest: message = .statusRequest
    case .hold: message = .hold
    case .estop: message = .estop
    case .torque:
        let v = r.u8()
        message = v <= 1 ? .torque(enable: v == 1) : nil
    case .targets:
        let n = Int(r.u8())
        if n >= 1 && n <= BridgeWire.maxJoints && r.remaining == 2 * n {
            var t = JointValues()
            for _ in 0..<n { t.append(r.u16()) }
            message = .targets(t)
        } else { message = nil }
    case .configure:
        let n = Int(r.u8())
        if n >= 1 && n <= BridgeWire.maxJoints && r.remaining == 5 * n + 5 {
            var ids = ServoIDs(), lo = JointValues(), hi = JointValues()
            for _ in 0..<n { ids.append(r.u8()) }
            for _ in 0..<n { lo.append(r.u16()) }
            for _ in 0..<n { hi.append(r.u16()) }
            let wd = r.u16()
            let action = WatchdogAction(rawValue: r.u8())
            let delay = r.u16()
            if let action {
                message = .configure(Configuration(ids: ids, minimum: lo, maximum: hi, watchdogMs: wd,
                                                   action: action, torqueOffDelayMs: delay))
            } else { message = nil }
        } else { message = nil }
    case .status:
        var s = Status()
        s.flags = StatusFlags(rawValue: r.u8())
        let wd = WatchdogState(rawValue: r.u8())
        s.firmwareMajor = r.u8(); s.firmwareMinor = r.u8(); s.firmwarePatch = r.u8()
        s.uptimeMs = r.u32()
        s.feedAgeMs = r.u32()
        s.lastRxSeq = r.u8()
        s.rxFrames = r.u32()
        s.crcErrors = r.u32()
        s.badFrames = r.u32()
        s.oversize = r.u32()
        s.nacks = r.u32()
        s.seqGaps = r.u32()
        s.watchdogTrips = r.u32()
        s.clampedTargets = r.u32()
        let n = Int(r.u8())
        if let wd, !r.failed, n <= BridgeWire.maxJoints, r.remaining >= 2 * n + 5 {
            s.watchdog = wd
            for _ in 0..<n { s.applied.append(r.u16()) }
            s.measuredAgeMs = r.u16()
            s.measuredMask = r.u16()
            let m = Int(r.u8())
            if m <= BridgeWire.maxJoints, r.remaining == 2 * m {
                for _ in 0..<m { s.measured.append(Int16(bitPattern: r.u16())) }
                message = .status(s)
            } else { message = nil }
        } else { message = nil }
    case .ack:
        let t = MessageType(rawValue: r.u8()), sq = r.u8(), d = r.u8()
        message = t.map { .ack(Ack(type: $0, seq: sq, detail: d)) }
    case .nack:
        let t = MessageType(rawValue: r.u8()), sq = r.u8(), reason = NackReason(rawValue: r.u8())
        if let t, let reason { message = .nack(Nack(type: t, seq: sq, reason: reason)) } else { message = nil }
    }
    guard let message, !r.failed, r.remaining == 0 else { return .failure(.malformed) }
    return .success(Frame(seq: seq, message: message))
}

/// Counters of a `FrameDecoder`.
public struct DecoderCounters: Equatable, Sendable {
    /// Frames accepted.
    public var frames: UInt32 = 0
    public var crcErrors: UInt32 = 0
    /// Invalid COBS.
    public var encodingErrors: UInt32 = 0
    /// Fewer than 5 bytes after un-stuffing.
    public var shortFrames: UInt32 = 0
    public var versionErrors: UInt32 = 0
    /// Unknown message type.
    public var unknownTypes: UInt32 = 0
    /// Known type, wrong body length or field value.
    public var malformed: UInt32 = 0
    /// More than `BridgeWire.maxEncoded` bytes without a delimiter.
    public var oversize: UInt32 = 0

    public init() {}

    /// Everything dropped other than CRC errors and oversize runs.
    public var badFrames: UInt32 { encodingErrors &+ shortFrames &+ versionErrors &+ unknownTypes &+ malformed }
    /// Every dropped frame.
    public var dropped: UInt32 { badFrames &+ crcErrors &+ oversize }
}

/// Streaming decoder: feed bytes as they arrive; a complete valid frame comes back from `feed`.
/// Fixed memory (one 128-byte buffer), never allocates, never traps on any input.
public struct FrameDecoder: Sendable {
    var buffer = RawFrame()
    var discarding = false
    public private(set) var counters = DecoderCounters()

    public init() {}

    /// Bytes of the frame in progress.
    public var pending: Int { buffer.count }

    public mutating func feed(_ byte: UInt8) -> Frame? {
        if byte != 0 {
            if discarding { return nil }
            if buffer.count >= BridgeWire.maxEncoded {
                counters.oversize &+= 1
                discarding = true
                buffer.removeAll()
            } else {
                buffer.append(byte)
            }
            return nil
        }
        // Delimiter.
        defer { buffer.removeAll(); discarding = false }
        if discarding || buffer.isEmpty { return nil }  // end of a dropped run, or an idle delimiter
        guard COBS.decodeInPlace(&buffer) else { counters.encodingErrors &+= 1; return nil }
        switch parseRawFrame(buffer) {
        case .success(let frame):
            counters.frames &+= 1
            return frame
        case .failure(let e):
            switch e {
            case .short: counters.shortFrames &+= 1
            case .crc: counters.crcErrors &+= 1
            case .version: counters.versionErrors &+= 1
            case .unknownType: counters.unknownTypes &+= 1
            case .malformed: counters.malformed &+= 1
            case .encoding: counters.encodingErrors &+= 1
            case .oversize: counters.oversize &+= 1
            }
            return nil
        }
    }
}

#if !hasFeature(Embedded)
extension ByteBuffer {
    /// The bytes as an array (host only).
    public var array: [UInt8] { (0..<count).map { storage[$0] } }
}

extension BoundedList {
    /// Host convenience; values past `BridgeWire.maxJoints` are ignored.
    public init(_ values: [Element]) {
        self.init()
        for v in values { append(v) }
    }
    public var array: [Element] { (0..<count).map { storage[$0] } }
}

extension FrameDecoder {
    /// Feeds a chunk, returning every frame completed in it (host only).
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Frame] {
        var out: [Frame] = []
        for b in bytes { if let f = feed(b) { out.append(f) } }
        return out
    }
}
#endif
