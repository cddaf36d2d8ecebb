import BridgeProtocol
import Testing

@Suite struct GoldenVectorTests {
    @Test func crcVectors() throws {
        let v = try GoldenVectors.load()
        let crcs = v.all("crc")
        #expect(crcs.count == 3)
        for l in crcs {
            var crc = CRC16()
            for b in l.fields[0] { crc.update(b) }
            let expected = UInt16(l.fields[1][0]) << 8 | UInt16(l.fields[1][1])
            #expect(crc.value == expected, "crc \(l.name)")
        }
        // The catalogue check value of CRC-16/CCITT-FALSE, independent of the file.
        var check = CRC16()
        for b in Array("123456789".utf8) { check.update(b) }
        #expect(check.value == 0x29B1)
    }

    @Test func cobsVectors() throws {
        let v = try GoldenVectors.load()
        let cases = v.all("cobs")
        #expect(cases.count == 6)
        for l in cases {
            var input = ByteBuffer<512>()
            for b in l.fields[0] { input.append(b) }
            var out = ByteBuffer<512>()
            COBS.encode(input, into: &out)
            #expect(hex(out.array) == hex(l.fields[1]), "cobs \(l.name)")
            var back = ByteBuffer<512>()
            for b in l.fields[1] { back.append(b) }
            #expect(COBS.decodeInPlace(&back))
            #expect(back.array == l.fields[0], "cobs decode \(l.name)")
        }
    }

    @Test func everyFrameVectorEncodesAndDecodesExactly() throws {
        let v = try GoldenVectors.load()
        let frames = v.all("frame")
        #expect(frames.count == expectedFrames.count)
        for l in frames {
            let expected = try #require(expectedFrames[l.name], "no meaning for vector \(l.name)")
            #expect(hex(expected.message.rawFrame(seq: expected.seq).array) == hex(l.fields[0]), "raw \(l.name)")
            #expect(hex(expected.message.wireFrame(seq: expected.seq).array) == hex(l.fields[1]), "wire \(l.name)")
            var decoder = FrameDecoder()
            let decoded = decoder.feed(l.fields[1])
            #expect(decoded == [expected], "decode \(l.name)")
            #expect(decoder.counters.frames == 1 && decoder.counters.dropped == 0)
        }
    }

    @Test func allVectorsBackToBackDecodeInOrder() throws {
        let v = try GoldenVectors.load()
        let stream = v.all("frame").flatMap { $0.fields[1] }
        var decoder = FrameDecoder()
        let decoded = decoder.feed(stream)
        #expect(decoded == v.all("frame").map { expectedFrames[$0.name]! })
        #expect(decoder.counters.frames == 14)
    }

    /// The servo-bus vectors of the position read (protocol version 2) against the shared Feetech code.
    @Test func positionReadServoVectors() throws {
        let v = try GoldenVectors.load()
        func servo(_ name: String) throws -> [UInt8] {
            try #require(v.all("servo").first { $0.name == name }, "no servo vector \(name)").fields[0]
        }
        func bytes(_ build: (inout ByteBuffer<64>) -> Void) -> [UInt8] { var b = ByteBuffer<64>(); build(&b); return b.array }
        #expect(bytes { Feetech.syncReadPresentPosition(ids: ServoIDs([1, 2, 3]), into: &$0) } == (try servo("sync_read3")))
        #expect(bytes { Feetech.readPresentPosition(id: 2, into: &$0) } == (try servo("read_position_id2")))
        let replies: [(String, UInt8, Int)] = [("reply_position_id1_2040", 1, 2040), ("reply_position_id2_1010", 2, 1010),
                                               ("reply_position_id3_2990", 3, 2990), ("reply_position_id3_minus5", 3, -5),
                                               ("reply_position_id2_3900", 2, 3900)]
        for (name, id, position) in replies {
            var parser = FeetechStatusParser()
            let got = try servo(name).compactMap { parser.feed($0) }
            #expect(got.count == 1 && got[0].id == id && got[0].error == 0, "\(name)")
            #expect(got.first.flatMap(Feetech.presentPosition) == position, "\(name)")
        }
        // A ping reply has no data: not a position. The echo of our own SYNC_READ (ID 0xFE) is not one either.
        var parser = FeetechStatusParser()
        #expect((try servo("reply_ping_id1")).compactMap { parser.feed($0) }.compactMap(Feetech.presentPosition).isEmpty)
        let echo = (try servo("sync_read3")).compactMap { parser.feed($0) }
        #expect(echo.count == 1 && echo[0].id == 0xFE && Feetech.presentPosition(echo[0]) == nil)
    }
}

@Suite struct DecoderErrorTests {
    let targets = Message.targets(JointValues([2048, 1000, 3000])).wireFrame(seq: 5).array

    @Test func flippedBitIsACRCError() {
        var decoder = FrameDecoder()
        var bad = targets
        bad[4] ^= 0x10  // inside the body, not a code byte, not the delimiter
        #expect(decoder.feed(bad).isEmpty)
        #expect(decoder.counters.crcErrors == 1)
        #expect(decoder.counters.frames == 0)
        // The next good frame still decodes.
        #expect(decoder.feed(targets).count == 1)
        #expect(decoder.counters == {
            var c = DecoderCounters(); c.crcErrors = 1; c.frames = 1; return c
        }())
    }

    @Test func truncatedFrameThenGoodFrame() {
        var decoder = FrameDecoder()
        // Half a frame, then the delimiter: a short/CRC failure, never a frame.
        let half = Array(targets.prefix(6)) + [0]
        #expect(decoder.feed(half).isEmpty)
        #expect(decoder.counters.dropped == 1)
        #expect(decoder.feed(targets).count == 1)
    }

    @Test func shortFrames() {
        var decoder = FrameDecoder()
        #expect(decoder.feed([0x02, 0x01, 0x00]).isEmpty)  // 1 byte after un-stuffing
        #expect(decoder.counters.shortFrames == 1)
        #expect(decoder.feed([0x00, 0x00, 0x00]).isEmpty)  // idle delimiters are not errors
        #expect(decoder.counters.dropped == 1)
    }

    @Test func badCOBS() {
        var decoder = FrameDecoder()
        #expect(decoder.feed([0x09, 0x01, 0x02, 0x00]).isEmpty)  // code points past the end
        #expect(decoder.counters.encodingErrors == 1)
    }

    @Test func wrongVersionUnknownTypeAndBadLength() {
        func wire(_ raw: [UInt8]) -> [UInt8] {
            var crc = CRC16()
            for b in raw { crc.update(b) }
            var input = ByteBuffer<256>()
            for b in raw + [UInt8(crc.value & 0xFF), UInt8(crc.value >> 8)] { input.append(b) }
            var out = ByteBuffer<256>()
            COBS.encode(input, into: &out)
            return out.array + [0]
        }
        var decoder = FrameDecoder()
        #expect(decoder.feed(wire([1, 0x12, 0, 1, 0, 8])).isEmpty)        // version 1 (no measured positions)
        #expect(decoder.feed(wire([2, 0x7F, 0])).isEmpty)                 // unknown type
        #expect(decoder.feed(wire([2, 0x12, 0, 2, 0, 8])).isEmpty)        // targets: 2 joints, 1 value
        #expect(decoder.feed(wire([2, 0x12, 0, 0])).isEmpty)              // targets: 0 joints
        #expect(decoder.feed(wire([2, 0x12, 0, 17] + [UInt8](repeating: 1, count: 34))).isEmpty)  // 17 joints
        #expect(decoder.feed(wire([2, 0x11, 0, 2])).isEmpty)              // torque 2
        #expect(decoder.feed(wire([2, 0x01, 0, 9])).isEmpty)              // heartbeat with a body
        #expect(decoder.feed(wire([2, 0x82, 0, 0x12, 0, 99])).isEmpty)    // unknown NACK reason
        // A version-1 STATUS body (no measured block) under version 2: too short, malformed.
        var v1 = Status()
        v1.applied = JointValues([2048])
        let v2raw = Message.status(v1).rawFrame(seq: 0).array
        #expect(decoder.feed(wire(Array(v2raw[0..<(v2raw.count - 2 - 5)]))).isEmpty)
        // Measured count that disagrees with the body length.
        #expect(decoder.feed(wire(Array(v2raw[0..<(v2raw.count - 3)]) + [1])).isEmpty)
        #expect(decoder.counters.versionErrors == 1)
        #expect(decoder.counters.unknownTypes == 1)
        #expect(decoder.counters.malformed == 8)
        #expect(decoder.counters.badFrames == 10)
        #expect(decoder.counters.frames == 0)
        #expect(decoder.feed(wire([2, 0x12, 0, 1, 0, 8])) == [Frame(seq: 0, message: .targets(JointValues([2048])))])
    }

    @Test func oversizeRunIsDroppedAndCountedOnce() {
        var decoder = FrameDecoder()
        let run = [UInt8](repeating: 0x55, count: 1000) + [0]
        #expect(decoder.feed(run).isEmpty)
        #expect(decoder.counters.oversize == 1)
        #expect(decoder.counters.dropped == 1)
        #expect(decoder.pending == 0)
        // A frame exactly at the maximum still passes: 16-joint configure is the largest host frame.
        #expect(decoder.feed(targets).count == 1)
        // The tail of an oversize run that contains a valid-looking frame is not accepted.
        #expect(decoder.feed([UInt8](repeating: 0x55, count: 200) + targets).isEmpty)
        #expect(decoder.counters.oversize == 2)
    }

    @Test func largestFramesFit() {
        let c = Configuration(ids: ServoIDs((1...16).map { UInt8($0) }))
        let wire = Message.configure(c).wireFrame(seq: 200)
        #expect(wire.count == 3 + 86 + 2 + 1 + 1)
        #expect(!wire.overflowed)
        var s = Status()
        s.applied = JointValues(count: 16, value: 4095)
        s.measured = MeasuredValues(count: 16, value: -4095)
        s.measuredMask = 0xFFFF
        let sw = Message.status(s).wireFrame(seq: 1)
        #expect(sw.count == 3 + 47 + 32 + 5 + 32 + 2 + 1 + 1)
        #expect(sw.count <= BridgeWire.maxWire)
        var decoder = FrameDecoder()
        #expect(decoder.feed(wire.array) == [Frame(seq: 200, message: .configure(c))])
        #expect(decoder.feed(sw.array) == [Frame(seq: 1, message: .status(s))])
    }
}

/// A long deterministic mutation loop: random garbage, truncations, bit flips, insertions and
/// deletions around valid frames. The decoder must never trap, must never accept a frame that was
/// altered, and every altered frame must be counted as dropped.
@Suite struct DecoderFuzzTests {
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static func randomMessage(_ rng: inout SplitMix64) -> Message {
        let n = 1 + rng.below(16)
        switch rng.below(6) {
        case 0: return .heartbeat
        case 1: return .targets(JointValues((0..<n).map { _ in UInt16(rng.below(65536)) }))
        case 2:
            return .configure(Configuration(ids: ServoIDs((0..<n).map { UInt8($0 + 1) }),
                                            minimum: JointValues(count: n, value: UInt16(rng.below(2048))),
                                            maximum: JointValues(count: n, value: UInt16(2048 + rng.below(2048)))))
        case 3: return .torque(enable: rng.below(2) == 1)
        case 4:
            var s = Status()
            s.uptimeMs = UInt32(truncatingIfNeeded: rng.next())
            s.crcErrors = UInt32(truncatingIfNeeded: rng.next())
            s.applied = JointValues((0..<n).map { _ in UInt16(rng.below(4096)) })
            s.measured = MeasuredValues((0..<n).map { _ in Int16(rng.below(8192) - 4096) })
            s.measuredMask = UInt16(rng.below(65536))
            return .status(s)
        default: return .ack(Ack(type: .targets, seq: UInt8(rng.below(256)), detail: UInt8(rng.below(17))))
        }
    }

    @Test func mutationLoop() {
        var rng = SplitMix64(state: 0x5EED_F00D)
        var decoder = FrameDecoder()
        var goodSent: UInt32 = 0
        var corruptSent: UInt32 = 0
        var corruptAccepted = 0
        var corruptUncounted = 0
        var goodLost = 0
        var accepted: [Frame] = []
        var expectedGood: [Frame] = []
        for iteration in 0..<60_000 {
            let seq = UInt8(truncatingIfNeeded: iteration)
            let msg = Self.randomMessage(&rng)
            let original = msg.wireFrame(seq: seq).array
            var bytes = original
            if rng.below(3) != 0 {
                let body = bytes.count - 1  // keep the delimiter; mutate what precedes it
                switch rng.below(5) {
                case 0:  // flip 1..3 bits
                    for _ in 0...rng.below(3) { bytes[rng.below(body)] ^= UInt8(1 << rng.below(8)) }
                case 1:  // truncate
                    bytes = Array(bytes.prefix(rng.below(body))) + [0]
                case 2:  // insert a random byte
                    bytes.insert(UInt8(rng.below(256)), at: rng.below(body))
                case 3:  // delete a byte
                    bytes.remove(at: rng.below(body))
                default:  // pure garbage of random length
                    bytes = (0..<rng.below(300)).map { _ in UInt8(rng.below(256)) } + [0]
                }
            }
            // A mutation that leaves the frame intact (bits flipped back, a 0x00 inserted in front,
            // which is just an idle delimiter) still carries the original frame.
            let intact = Array(bytes.drop(while: { $0 == 0 })) == original
            let droppedBefore = decoder.counters.dropped
            let acceptedBefore = accepted.count
            // Feed in random-sized chunks, like a serial port.
            var i = 0
            while i < bytes.count {
                let n = 1 + rng.below(32)
                for b in bytes[i..<min(i + n, bytes.count)] {
                    if let f = decoder.feed(b) { accepted.append(f) }
                }
                i += n
            }
            if intact {
                goodSent += 1
                expectedGood.append(Frame(seq: seq, message: msg))
                if accepted.count != acceptedBefore + 1 || decoder.counters.dropped != droppedBefore { goodLost += 1 }
            } else {
                corruptSent += 1
                if accepted.count != acceptedBefore { corruptAccepted += 1 }
                // Every altered run with any data in it is counted as dropped (all-zero runs are idle).
                if bytes.contains(where: { $0 != 0 }) && decoder.counters.dropped == droppedBefore { corruptUncounted += 1 }
            }
        }
        #expect(corruptAccepted == 0)
        #expect(corruptUncounted == 0)
        #expect(goodLost == 0)
        #expect(accepted.count == expectedGood.count)
        #expect(accepted == expectedGood)
        #expect(decoder.counters.frames == goodSent)
        #expect(goodSent > 15_000 && corruptSent > 30_000)
        #expect(decoder.pending == 0)
    }
}
