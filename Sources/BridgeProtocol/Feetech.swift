// Feetech STS/SCS servo-bus packets (STS3215: LeRobot SO-100/SO-101), shared by the motor-controller
// firmware and the host's direct-bus driver. No Foundation, no allocation: Embedded Swift compatible.
//
// Instruction packet: FF FF ID LEN INSTR PARAMS… CHK, LEN = params + 2, CHK = ~(ID + LEN + INSTR + Σparams).
// Status packet:      FF FF ID LEN ERR DATA… CHK,    LEN = data + 2,   CHK = ~(ID + LEN + ERR + Σdata).

/// Packet encoders and register map for the Feetech STS bus.
public enum Feetech {
    public static let broadcastID: UInt8 = 0xFE
    public static let instructionPing: UInt8 = 0x01
    public static let instructionRead: UInt8 = 0x02
    public static let instructionWrite: UInt8 = 0x03
    public static let instructionSyncRead: UInt8 = 0x82
    public static let instructionSyncWrite: UInt8 = 0x83
    public static let addressTorqueEnable: UInt8 = 40
    public static let addressGoalPosition: UInt8 = 42
    public static let addressPresentPosition: UInt8 = 56

    /// Appends a packet with the given parameter bytes.
    public static func packet<let n: Int, let p: Int>(id: UInt8, instruction: UInt8, params: ByteBuffer<p>, into out: inout ByteBuffer<n>) {
        let len = UInt8(truncatingIfNeeded: params.count + 2)
        var sum = id &+ len &+ instruction
        out.append(0xFF); out.append(0xFF); out.append(id); out.append(len); out.append(instruction)
        for i in 0..<params.count { out.append(params[i]); sum = sum &+ params[i] }
        out.append(~sum)
    }

    /// PING servo `id` (it answers with an empty status packet).
    public static func ping<let n: Int>(id: UInt8, into out: inout ByteBuffer<n>) {
        packet(id: id, instruction: instructionPing, params: ByteBuffer<1>(), into: &out)
    }

    /// WRITE the 1-byte Torque_Enable register of servo `id` (broadcast allowed).
    public static func writeTorqueEnable<let n: Int>(id: UInt8, enable: Bool, into out: inout ByteBuffer<n>) {
        var params = ByteBuffer<2>()
        params.append(addressTorqueEnable); params.append(enable ? 1 : 0)
        packet(id: id, instruction: instructionWrite, params: params, into: &out)
    }

    /// WRITE Goal_Position of servo `id`.
    public static func writeGoalPosition<let n: Int>(id: UInt8, position: UInt16, into out: inout ByteBuffer<n>) {
        var params = ByteBuffer<3>()
        params.append(addressGoalPosition); params.appendLE16(position)
        packet(id: id, instruction: instructionWrite, params: params, into: &out)
    }

    /// One SYNC_WRITE of Goal_Position (2 bytes, little-endian) to every servo in `ids`:
    /// FF FF FE LEN 83 2A 02 {ID LO HI}×N CHK with LEN = 3N + 4.
    public static func syncWriteGoalPosition<let n: Int>(ids: ServoIDs, positions: JointValues, into out: inout ByteBuffer<n>) {
        let count = min(ids.count, positions.count)
        var params = ByteBuffer<64>()
        params.append(addressGoalPosition); params.append(2)
        for i in 0..<count { params.append(ids[i]); params.appendLE16(UInt16(truncatingIfNeeded: positions[i])) }
        packet(id: broadcastID, instruction: instructionSyncWrite, params: params, into: &out)
    }

    /// SYNC_READ of Present_Position (2 bytes) from every servo in `ids`: FF FF FE LEN 82 38 02 ID… CHK;
    /// each servo answers with its own status packet carrying 2 data bytes.
    public static func syncReadPresentPosition<let n: Int>(ids: ServoIDs, into out: inout ByteBuffer<n>) {
        var params = ByteBuffer<64>()
        params.append(addressPresentPosition); params.append(2)
        for i in 0..<ids.count { params.append(ids[i]) }
        packet(id: broadcastID, instruction: instructionSyncRead, params: params, into: &out)
    }

    /// READ `length` bytes from `address` of servo `id`: FF FF ID 04 02 ADDR LEN CHK; the servo answers
    /// with one status packet carrying `length` data bytes.
    public static func read<let n: Int>(id: UInt8, address: UInt8, length: UInt8, into out: inout ByteBuffer<n>) {
        var params = ByteBuffer<2>()
        params.append(address); params.append(length)
        packet(id: id, instruction: instructionRead, params: params, into: &out)
    }

    /// READ of Present_Position (2 bytes) from servo `id`.
    public static func readPresentPosition<let n: Int>(id: UInt8, into out: inout ByteBuffer<n>) {
        read(id: id, address: addressPresentPosition, length: 2, into: &out)
    }

    /// A Present_Position reply: a status packet from a servo (not the echo of an instruction sent to
    /// the broadcast ID) carrying exactly 2 data bytes. Returns the decoded position, nil otherwise.
    public static func presentPosition(_ status: FeetechStatus) -> Int? {
        guard status.id != broadcastID, status.data.count == 2 else { return nil }
        return decodePosition(lo: status.data[0], hi: status.data[1])
    }

    /// STS positions are sign-magnitude: bit 15 is the sign.
    public static func decodePosition(lo: UInt8, hi: UInt8) -> Int {
        let raw = Int(lo) | Int(hi) << 8
        return raw & 0x8000 != 0 ? -(raw & 0x7FFF) : raw
    }
}

/// A status packet from a servo: FF FF ID LEN ERR DATA… CHK.
public struct FeetechStatus: Sendable {
    public var id: UInt8
    /// The servo's error bits (0 = fine).
    public var error: UInt8
    public var data: ByteBuffer<16>
}

/// Incremental status-packet parser: feed bytes as they arrive; it resynchronizes on FF FF, checks
/// length and checksum, and counts what it had to drop.
public struct FeetechStatusParser: Sendable {
    private var buf = ByteBuffer<32>()
    public private(set) var checksumErrors = 0
    public private(set) var droppedBytes = 0

    public init() {}

    /// Consumes one byte; returns a status when one completes.
    public mutating func feed(_ byte: UInt8) -> FeetechStatus? {
        buf.append(byte)
        while true {
            // Header: FF FF
            if buf.count >= 1 && buf[0] != 0xFF { drop(1); continue }
            if buf.count >= 2 && buf[1] != 0xFF { drop(1); continue }
            if buf.count >= 3 && buf[2] == 0xFF { drop(1); continue }  // FF FF FF: slide by one
            if buf.count < 4 { return nil }
            let len = Int(buf[3])
            if len < 2 || len > 18 { drop(2); continue }
            let total = 4 + len
            if buf.count < total { return nil }
            var sum: UInt8 = 0
            for i in 2..<(total - 1) { sum = sum &+ buf[i] }
            if ~sum != buf[total - 1] {
                checksumErrors += 1
                drop(2)
                continue
            }
            var data = ByteBuffer<16>()
            for i in 5..<(total - 1) { data.append(buf[i]) }
            let status = FeetechStatus(id: buf[2], error: buf[4], data: data)
            consume(total)
            return status
        }
    }

    private mutating func drop(_ n: Int) {
        droppedBytes += n
        consume(n)
    }

    private mutating func consume(_ n: Int) {
        var rest = ByteBuffer<32>()
        if n < buf.count { for i in n..<buf.count { rest.append(buf[i]) } }
        buf = rest
    }
}
