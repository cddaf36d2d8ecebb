import BridgeFirmware
import BridgeProtocol
import Foundation
import Glibc
import ReflexIO
import Testing

/// The pseudo-terminal pair from ReflexIO (also used by `reflex bench loop`).
typealias PTY = PseudoTerminal

@Suite(.serialized) struct SerialPortTests {
    @Test func rawModeAndBaud() throws {
        let pty = try PTY()
        for baud in [9600, 115_200, 1_000_000] {
            let port = try SerialPort(path: pty.slavePath, baud: baud)
            #expect(port.configuredBaud == baud)
            var t = termios()
            #expect(tcgetattr(port.fd, &t) == 0)
            #expect(t.c_lflag & tcflag_t(ICANON | ECHO | ISIG) == 0)
            #expect(t.c_oflag & tcflag_t(OPOST) == 0)
            #expect(t.c_iflag & (tcflag_t(ICRNL) | tcflag_t(IXON)) == 0)
            #expect(t.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS8))
            #expect(fcntl(port.fd, F_GETFL) & O_NONBLOCK != 0)
        }
    }

    @Test func bytesPassUnchangedBothWays() throws {
        let pty = try PTY()
        let port = try SerialPort(path: pty.slavePath, baud: 1_000_000)
        let all = (0...255).map { UInt8($0) }  // includes 0x00, \r, \n, XON/XOFF, ^C
        try port.write(all)
        #expect(pty.read(ms: 500) == all)
        pty.write(all)
        var got: [UInt8] = []
        let deadline = monotonicSeconds() + 1
        while got.count < 256 && monotonicSeconds() < deadline { got += try port.read(timeoutMs: 100) }
        #expect(got == all)
        #expect(try port.read(timeoutMs: 50).isEmpty)  // times out with nothing, does not block
    }

    @Test func clearErrors() throws {
        #expect(throws: SerialError.open(path: "/dev/does-not-exist", errno: ENOENT)) {
            try SerialPort(path: "/dev/does-not-exist")
        }
        #expect(throws: SerialError.unsupportedBaud(12345)) { try SerialPort(path: "/dev/null", baud: 12345) }
        #expect(SerialError.open(path: "/dev/x", errno: ENOENT).description == "cannot open serial port /dev/x: No such file or directory")
        do {
            _ = try SerialPort(path: "/dev/null")
            Issue.record("/dev/null accepted as a serial port")
        } catch let e as SerialError {
            guard case .configure(let path, _, _) = e else { Issue.record("wrong error \(e)"); return }
            #expect(path == "/dev/null")
        }
    }
}

/// The host client against the controller logic on the far side of a real pty.
@Suite(.serialized) struct BridgeClientTests {
    /// Runs the controller on the master side in a thread, with the wall clock, until `stop`. Servos
    /// with the IDs in `positions` answer its Present_Position reads (sign-magnitude, as the STS does).
    final class FarEnd: @unchecked Sendable {
        let pty: PTY
        var controller: Controller
        var servo: [UInt8] = []
        var positions: [UInt8: Int] = [:]
        let lock = NSLock()
        var running = true
        var thread: Thread?

        init(pty: PTY) {
            self.pty = pty
            controller = Controller(now: FarEnd.ms())
        }

        static func ms() -> UInt32 { UInt32(truncatingIfNeeded: Int64(monotonicSeconds() * 1000)) }

        func start() {
            let t = Thread { [self] in
                while lock.withLock({ running }) {
                    let bytes = pty.read(ms: 2)
                    lock.withLock {
                        for b in bytes { controller.receive(b, now: FarEnd.ms()) }
                        controller.tick(now: FarEnd.ms())
                        pty.write(controller.hostOut.array)
                        let out = controller.servoOut.array
                        servo += out
                        controller.hostOut.removeAll()
                        controller.servoOut.removeAll()
                        for reply in FarEnd.answers(to: out, positions) { for b in reply { controller.receiveServo(b, now: FarEnd.ms()) } }
                    }
                }
            }
            thread = t
            t.start()
        }

        func stop() { lock.withLock { running = false }; usleep(20_000) }

        /// Replies of the servos in `positions` to every SYNC_READ of Present_Position in `bus`.
        static func answers(to bus: [UInt8], _ positions: [UInt8: Int]) -> [[UInt8]] {
            var out: [[UInt8]] = [], i = 0
            while i + 4 <= bus.count {
                let len = Int(bus[i + 3]), end = i + 4 + len
                if bus[i + 4] == 0x82 && bus[i + 5] == 56 {
                    for id in bus[(i + 7)..<(end - 1)] {
                        guard let p = positions[id] else { continue }
                        let raw = p < 0 ? UInt16(0x8000 | -p) : UInt16(p)
                        let lo = UInt8(raw & 0xFF), hi = UInt8(raw >> 8)
                        out.append([0xFF, 0xFF, id, 4, 0, lo, hi, ~(id &+ 4 &+ lo &+ hi)])
                    }
                }
                i = end
            }
            return out
        }

        /// The servo-bus bytes without the controller's position reads.
        var writes: [UInt8] {
            let bus = lock.withLock { servo }
            var out: [UInt8] = [], i = 0
            while i + 4 <= bus.count {
                let end = i + 4 + Int(bus[i + 3])
                if bus[i + 4] != 0x82 { out += bus[i..<end] }
                i = end
            }
            return out
        }
    }

    @Test func configureEnableTargetsAndNack() throws {
        let pty = try PTY()
        let far = FarEnd(pty: pty)
        far.positions = [7: 100, 8: 4000]
        far.start()
        defer { far.stop() }
        let client = try BridgeClient(port: try SerialPort(path: pty.slavePath))
        let (s0, rtt) = try client.requestStatus()
        #expect(!s0.flags.contains(.configured) && rtt < 0.5)
        #expect(throws: BridgeError.self) { try client.request(.torque(enable: true)) }
        try client.request(.configure(Configuration(ids: ServoIDs([7, 8]))))
        let pose = try #require(try client.awaitMeasuredPose(jointCount: 2))
        #expect(pose.measured == MeasuredValues([100, 4000]) && pose.measuredMask == 0b11)
        try client.request(.torque(enable: true))
        let ack = try client.request(.targets(JointValues([100, 5000])))
        #expect(ack.detail == 1)  // 5000 clamped to 4095
        let (s1, _) = try client.requestStatus()
        #expect(s1.applied == JointValues([100, 4095]))
        #expect(s1.flags.contains(.torqueEnabled) && s1.watchdog == .armed)
        #expect(s1.crcErrors == 0 && s1.badFrames == 0 && s1.nacks == 1)
        let servo = far.writes
        // Goals = the measured pose {7: 100, 8: 4000}, torque on for 7 and 8, then SYNC_WRITE {7: 100, 8: 4095}.
        var goal: [UInt8] = [0xFF, 0xFF, 0xFE, 0x0A, 0x83, 0x2A, 0x02, 7, 100, 0, 8, 0xA0, 0x0F]
        goal.append(~goal[2...].reduce(0, &+))
        let torque7: [UInt8] = [0xFF, 0xFF, 7, 4, 3, 40, 1, 0xC8]   // ~(7+4+3+40+1) = ~0x37
        let torque8: [UInt8] = [0xFF, 0xFF, 8, 4, 3, 40, 1, 0xC7]   // ~0x38
        var sync: [UInt8] = [0xFF, 0xFF, 0xFE, 0x0A, 0x83, 0x2A, 0x02, 7, 100, 0, 8, 0xFF, 0x0F]
        var sum: UInt8 = 0
        for b in sync[2...] { sum &+= b }
        sync.append(~sum)
        #expect(sync.last == 0xC7)
        #expect(servo == goal + torque7 + torque8 + sync)
        #expect(client.decoder.counters.dropped == 0)
    }

    @Test func timesOutWhenNobodyAnswers() throws {
        let pty = try PTY()
        let client = try BridgeClient(port: try SerialPort(path: pty.slavePath))
        let t0 = monotonicSeconds()
        #expect(throws: BridgeError.self) { try client.requestStatus(timeout: 0.2) }
        #expect(monotonicSeconds() - t0 >= 0.19)
    }
}
