import BridgeProtocol

/// A Feetech STS bus driven directly from the board's serial port (no motor controller in
/// between): ping, torque, SYNC_WRITE Goal_Position, SYNC_READ Present_Position. The servos have
/// no command timeout — with a direct bus the host's loop is the only watchdog.
public final class FeetechBus {
    public let port: SerialPort
    public private(set) var parser = FeetechStatusParser()

    public init(port: SerialPort) { self.port = port }

    /// Bytes of a packet built by one of the `Feetech` encoders.
    public static func bytes(_ build: (inout ByteBuffer<256>) -> Void) -> [UInt8] {
        var buf = ByteBuffer<256>()
        build(&buf)
        return (0..<buf.count).map { buf[$0] }
    }

    /// Sends exactly one SYNC_WRITE of Goal_Position (positions clamped to 0…4095).
    public func syncWriteGoalPosition(ids: [UInt8], positions: [Int]) throws {
        precondition(ids.count == positions.count && !ids.isEmpty && ids.count <= BridgeWire.maxJoints)
        var idList = ServoIDs(), values = JointValues()
        for (id, p) in zip(ids, positions) {
            idList.append(id)
            values.append(UInt16(min(max(p, 0), 4095)))
        }
        try syncWriteGoalPosition(ids: idList, positions: values)
    }

    /// The same from fixed-capacity lists, built on the stack: no heap allocation per call.
    public func syncWriteGoalPosition(ids: ServoIDs, positions: JointValues) throws {
        var buf = ByteBuffer<64>()
        Feetech.syncWriteGoalPosition(ids: ids, positions: positions, into: &buf)
        try port.write(buf)
    }

    /// Torque on or off for each ID (one WRITE each).
    public func setTorque(_ enable: Bool, ids: [UInt8]) throws {
        for id in ids { try port.write(Self.bytes { Feetech.writeTorqueEnable(id: id, enable: enable, into: &$0) }) }
    }

    /// Pings `id`; returns the round trip in seconds, nil when no valid reply came in time.
    public func ping(id: UInt8, timeout: Double = 0.05) throws -> Double? {
        let t0 = monotonicSeconds()
        try port.write(Self.bytes { Feetech.ping(id: id, into: &$0) })
        return try awaitStatus(from: [id], timeout: timeout).isEmpty ? nil : monotonicSeconds() - t0
    }

    /// SYNC_READ of Present_Position; returns one position per ID (nil for servos that did not answer
    /// within `timeout` with a valid, checksummed 2-byte reply). Positions are decoded sign-magnitude.
    public func syncReadPresentPosition(ids: [UInt8], timeout: Double = 0.05) throws -> [Int?] {
        var idList = ServoIDs()
        for id in ids { idList.append(id) }
        try discardInput()
        try port.write(Self.bytes { Feetech.syncReadPresentPosition(ids: idList, into: &$0) })
        // Only replies carrying a position count (not the echo of our request, ID 0xFE, nor a reply to something else).
        let replies = try awaitStatus(from: ids, timeout: timeout) { Feetech.presentPosition($0) != nil }
        return ids.map { replies[$0].flatMap(Feetech.presentPosition) }
    }

    /// READ of one servo's Present_Position; nil when it did not answer in time.
    public func readPresentPosition(id: UInt8, timeout: Double = 0.05) throws -> Int? {
        try discardInput()
        try port.write(Self.bytes { Feetech.readPresentPosition(id: id, into: &$0) })
        return try awaitStatus(from: [id], timeout: timeout) { Feetech.presentPosition($0) != nil }[id].flatMap(Feetech.presentPosition)
    }

    /// The arm's pose: one SYNC_READ of Present_Position, then a READ of each servo that did not answer
    /// it (a reply lost to a glitch on the bus costs one retry, not the start-up). Nil for a servo that
    /// answered neither.
    public func readPresentPositions(ids: [UInt8], timeout: Double = 0.05) throws -> [Int?] {
        var positions = try syncReadPresentPosition(ids: ids, timeout: timeout)
        for (i, id) in ids.enumerated() where positions[i] == nil {
            positions[i] = try readPresentPosition(id: id, timeout: timeout)
        }
        return positions
    }

    /// Drops whatever is waiting on the port (late replies, the echo of earlier writes on a
    /// half-duplex adapter) so a read only sees the answers to its own request.
    func discardInput() throws {
        for _ in 0..<64 where !(try port.read(timeoutMs: 0)).isEmpty {}  // bounded: a babbling line cannot hold us here
        parser = FeetechStatusParser()
    }

    /// Reads until every ID in `ids` answered (with a reply `accept` takes) or the timeout passed.
    func awaitStatus(from ids: [UInt8], timeout: Double, accept: (FeetechStatus) -> Bool = { _ in true }) throws -> [UInt8: FeetechStatus] {
        var got: [UInt8: FeetechStatus] = [:]
        let deadline = monotonicSeconds() + timeout
        while got.count < Set(ids).count {
            let left = deadline - monotonicSeconds()
            if left <= 0 { break }
            for b in try port.read(timeoutMs: Int32(max(1, left * 1000))) {
                if let s = parser.feed(b), ids.contains(s.id), accept(s) { got[s.id] = s }
            }
        }
        return got
    }
}
