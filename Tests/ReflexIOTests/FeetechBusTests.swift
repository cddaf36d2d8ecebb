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

    @Test func syncReadCollectsEachServosReplyAndIgnoresStaleBytes() throws {
        let servos = try FeetechServoEmulator(positions: [1: 2048, 2: 1024, 3: 7])
        defer { servos.stop() }
        servos.setSilent(3)
        let bus = FeetechBus(port: try SerialPort(path: servos.path, baud: 1_000_000))
        // A stale reply waiting on the port (ID 1 at 0x0100 = 256) is not taken for an answer.
        servos.pty.write([0xFF, 0xFF, 0x01, 0x04, 0x00, 0x00, 0x01, ~UInt8(truncatingIfNeeded: 0x01 + 0x04 + 0x01)])
        usleep(20_000)
        let positions = try bus.syncReadPresentPosition(ids: [1, 2, 3], timeout: 0.2)
        #expect(positions == [2048, 1024, nil])
        #expect(servos.packets == [.init(id: 0xFE, instruction: 0x82, params: [0x38, 0x02, 1, 2, 3])])
        // readPresentPositions retries the silent servo with a READ of its own.
        servos.clearPackets()
        servos.setSilent(3, false)
        servos.setPosition(3, -16)  // sign-magnitude 0x8010
        #expect(try bus.readPresentPositions(ids: [1, 3], timeout: 0.2) == [2048, -16])
        servos.setSilent(3)
        servos.clearPackets()
        #expect(try bus.readPresentPositions(ids: [1, 3], timeout: 0.1) == [2048, nil])
        #expect(servos.packets == [.init(id: 0xFE, instruction: 0x82, params: [0x38, 0x02, 1, 3]),
                                   .init(id: 3, instruction: 0x02, params: [0x38, 0x02])])
        #expect(servos.badChecksums == 0)
    }
}
