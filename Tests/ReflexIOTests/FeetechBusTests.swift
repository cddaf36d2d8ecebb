import BridgeProtocol
import Glibc
import ReflexIO
import Testing

/// Feetech STS packets byte for byte. Expected bytes were worked out by hand from robot-io.md:
/// LEN = params + 2, CHK = ~(ID + LEN + INSTR + Σparams) & 0xFF; SYNC_WRITE LEN = (DATALEN + 1)·N + 4.
@Suite(.serialized) struct FeetechBusTests {
    @Test func handWorkedPackets() {
        // WRITE Goal_Position = 2048 to ID 1 (robot-io.md's own example).
        #expect(FeetechBus.bytes { Feetech.writeGoalPosition(id: 1, position: 2048, into: &$0) } == [0xFF, 0xFF, 0x01, 0x05, 0x03, 0x2A, 0x00, 0x08, 0xC4])
        // PING ID 1: 1 + 2 + 1 = 4 → ~4 = 0xFB.
        #expect(FeetechBus.bytes { Feetech.ping(id: 1, into: &$0) } == [0xFF, 0xFF, 0x01, 0x02, 0x01, 0xFB])
        // Torque on, ID 3: 3 + 4 + 3 + 0x28 + 1 = 0x33 → 0xCC.
        #expect(FeetechBus.bytes { Feetech.writeTorqueEnable(id: 3, enable: true, into: &$0) } == [0xFF, 0xFF, 0x03, 0x04, 0x03, 0x28, 0x01, 0xCC])
        // SYNC_READ Present_Position from IDs 1, 2: LEN 6; FE+06+82+38+02+01+02 = 0x1C3 → ~0xC3 = 0x3C.
        var ids = ServoIDs()
        ids.append(1); ids.append(2)
        #expect(FeetechBus.bytes { Feetech.syncReadPresentPosition(ids: ids, into: &$0) } == [0xFF, 0xFF, 0xFE, 0x06, 0x82, 0x38, 0x02, 0x01, 0x02, 0x3C])
    }

    @Test func statusParserResyncsAndChecksChecksums() {
        var p = FeetechStatusParser()
        // garbage, a packet with a bad checksum, then ID 1 at position 2048: 1+4+0+0+8 = 13 → ~13 = 0xF2.
        let stream: [UInt8] = [0x00, 0x13, 0xFF, 0xFF, 0x01, 0x04, 0x00, 0x00, 0x08, 0x00,
                               0xFF, 0xFF, 0x01, 0x04, 0x00, 0x00, 0x08, 0xF2]
        var got: [FeetechStatus] = []
        for b in stream { if let s = p.feed(b) { got.append(s) } }
        #expect(got.count == 1)
        #expect(got.first?.id == 1 && got.first?.error == 0)
        #expect(got.first.map { Feetech.decodePosition(lo: $0.data[0], hi: $0.data[1]) } == 2048)
        #expect(p.checksumErrors == 1)
        #expect(Feetech.decodePosition(lo: 0x10, hi: 0x80) == -16)  // bit 15 = sign
    }

    @Test func syncWriteOverAPseudoTerminalIsExactlyOnePacket() throws {
        let pty = try PTY()
        let bus = FeetechBus(port: try SerialPort(path: pty.slavePath, baud: 1_000_000))
        try bus.syncWriteGoalPosition(ids: [1, 2], positions: [2048, 1024])
        // LEN = 3·2 + 4 = 0x0A; FE+0A+83+2A+02+01+00+08+02+00+04 = 0x1C6 → ~0xC6 = 0x39.
        #expect(pty.read(ms: 200) == [0xFF, 0xFF, 0xFE, 0x0A, 0x83, 0x2A, 0x02, 0x01, 0x00, 0x08, 0x02, 0x00, 0x04, 0x39])
        try bus.syncWriteGoalPosition(ids: [7], positions: [5000])  // clamped to 4095 = 0x0FFF
        #expect(pty.read(ms: 200) == [0xFF, 0xFF, 0xFE, 0x07, 0x83, 0x2A, 0x02, 0x07, 0xFF, 0x0F, ~UInt8(truncatingIfNeeded: 0xFE + 0x07 + 0x83 + 0x2A + 0x02 + 0x07 + 0xFF + 0x0F)])
    }

    @Test func syncReadCollectsEachServosReply() throws {
        let pty = try PTY()
        let bus = FeetechBus(port: try SerialPort(path: pty.slavePath, baud: 1_000_000))
        // The "servos" answer before the host asks; the host reads them after its request.
        pty.write([0xFF, 0xFF, 0x01, 0x04, 0x00, 0x00, 0x08, 0xF2])  // ID 1: 2048
        let chk2 = ~UInt8(truncatingIfNeeded: 0x02 + 0x04 + 0x00 + 0x00 + 0x04)
        pty.write([0xFF, 0xFF, 0x02, 0x04, 0x00, 0x00, 0x04, chk2])  // ID 2: 1024
        let positions = try bus.syncReadPresentPosition(ids: [1, 2, 3], timeout: 0.2)
        #expect(positions == [2048, 1024, nil])
        #expect(pty.read(ms: 100) == [0xFF, 0xFF, 0xFE, 0x07, 0x82, 0x38, 0x02, 0x01, 0x02, 0x03,
                                      ~UInt8(truncatingIfNeeded: 0xFE + 0x07 + 0x82 + 0x38 + 0x02 + 0x01 + 0x02 + 0x03)])
    }
}
