// Feetech STS servo-bus packets the controller emits: WRITE Torque_Enable and SYNC_WRITE Goal_Position.
// Packet: FF FF ID LEN INSTR PARAMS… CHK, LEN = params + 2, CHK = ~(ID + LEN + INSTR + Σparams).
import BridgeProtocol

public enum Feetech {
    public static let broadcastID: UInt8 = 0xFE
    public static let instructionWrite: UInt8 = 0x03
    public static let instructionSyncWrite: UInt8 = 0x83
    public static let addressTorqueEnable: UInt8 = 40
    public static let addressGoalPosition: UInt8 = 42

    /// WRITE `value` to the 1-byte Torque_Enable register of servo `id`.
    public static func writeTorqueEnable<let n: Int>(id: UInt8, enable: Bool, into out: inout ByteBuffer<n>) {
        let params: (UInt8, UInt8) = (addressTorqueEnable, enable ? 1 : 0)
        let len: UInt8 = 2 + 2
        out.append(0xFF); out.append(0xFF); out.append(id); out.append(len); out.append(instructionWrite)
        out.append(params.0); out.append(params.1)
        out.append(~(id &+ len &+ instructionWrite &+ params.0 &+ params.1))
    }

    /// One SYNC_WRITE of Goal_Position (2 bytes, little-endian) to every servo in `ids`.
    public static func syncWriteGoalPosition<let n: Int>(ids: ServoIDs, positions: JointValues, into out: inout ByteBuffer<n>) {
        let count = min(ids.count, positions.count)
        let len = UInt8((2 + 1) * count + 4)
        var sum = broadcastID &+ len &+ instructionSyncWrite &+ addressGoalPosition &+ 2
        out.append(0xFF); out.append(0xFF); out.append(broadcastID); out.append(len)
        out.append(instructionSyncWrite); out.append(addressGoalPosition); out.append(2)
        for i in 0..<count {
            let id = ids[i]
            let lo = UInt8(truncatingIfNeeded: positions[i]), hi = UInt8(truncatingIfNeeded: positions[i] >> 8)
            out.append(id); out.append(lo); out.append(hi)
            sum = sum &+ id &+ lo &+ hi
        }
        out.append(~sum)
    }
}
