import BridgeFirmware
import BridgeProtocol
import Glibc
import ReflexCore
import Testing
@testable import ReflexIO

/// The first command starts from the arm's measured pose, not the profile's home: a direct Feetech bus
/// reads Present_Position before torque, the bridge reads it from the controller's STATUS; a pose
/// outside the limits (or a servo that does not answer) refuses torque with an error naming the joint.
@Suite(.serialized) struct StartPoseTests {
    static let profile = try! BoardProfile.parse("""
        board: { name: t, memory_mb: 1024 }
        cpu: { threads: 1 }
        camera: { source: replay, path: /x }
        model: { path: /x }
        control: { rate_hz: 30 }
        bridge: { protocol: feetech, port: /x }
        robot:
          kind: joints
          joints:
            - { name: shoulder_pan, servo_id: 1, min: 1000, max: 3000, home: 2048, units_per_action: 100, max_step: 25 }
            - { name: shoulder_lift, servo_id: 2, min: 1000, max: 3000, home: 2048, units_per_action: 100, max_step: 25 }
          gripper: { servo_id: 6, open: 2600, closed: 1950, max_rate: 0.25 }
        """, file: "t.yaml")

    typealias Packet = FeetechServoEmulator.Packet

    static func syncWrite(_ items: [(UInt8, Int)]) -> Packet {
        Packet(id: 0xFE, instruction: 0x83, params: [0x2A, 2] + items.flatMap { [$0.0, UInt8($0.1 & 0xFF), UInt8($0.1 >> 8)] })
    }

    static func loop(_ actuator: Actuator) throws -> ControlLoop {
        // Joint 1 +0.5 × 100, joint 2 −0.5 × 100, gripper fully open: each limited by the safety stage.
        ControlLoop(source: ScriptedSource(), actuator: actuator, mapping: ActionMapping(robot: profile.robot),
                    limits: try profile.safetyLimits(), frameBudgetMs: 100, maxFrameAgeMs: 100) { _ in [0.5, -0.5, 0, 0, 0, 0, 1] }
    }

    @Test func feetechStartsFromTheMeasuredPoseNotHome() throws {
        let servos = try FeetechServoEmulator(positions: [1: 1200, 2: 2900, 6: 2275])
        defer { servos.stop() }
        let actuator = try FeetechActuator(bus: FeetechBus(port: try SerialPort(path: servos.path)), profile: Self.profile)
        #expect(try actuator.reference() == [1200, 2900, 0.5])  // gripper 2275 = halfway between closed 1950 and open 2600
        let loop = try Self.loop(actuator)
        try loop.resynchronize()
        try loop.tick()
        usleep(50_000)
        #expect(servos.packets == [
            Packet(id: 0xFE, instruction: 0x82, params: [0x38, 2, 1, 2, 6]),      // read the pose, torque still off
            Self.syncWrite([(1, 1200), (2, 2900), (6, 2275)]),                      // goals = the pose
            Packet(id: 1, instruction: 0x03, params: [0x28, 1]),                    // then torque on
            Packet(id: 2, instruction: 0x03, params: [0x28, 1]),
            Packet(id: 6, instruction: 0x03, params: [0x28, 1]),
            // First command: 1200 + 25 and 2900 − 25 (max_step), gripper 0.5 + 0.25 → 1950 + 0.75 × 650 = 2437.5.
            // From home it would have been 2048 + 25 — an 848-unit jump for shoulder_pan.
            Self.syncWrite([(1, 1225), (2, 2875), (6, 2438)]),
        ])
        #expect(servos.torqueEnabled(1) && servos.position(1) == 1225)
    }

    @Test func feetechRefusesTorqueForAJointOutsideItsLimits() throws {
        let servos = try FeetechServoEmulator(positions: [1: 2048, 2: 3900, 6: 2275])
        defer { servos.stop() }
        let bus = FeetechBus(port: try SerialPort(path: servos.path))
        let error = try #require(throws: PoseError.self) { try FeetechActuator(bus: bus, profile: Self.profile) }
        #expect(error == .outOfLimits(joint: "shoulder_lift", servo: 2, position: 3900, min: 1000, max: 3000))
        #expect(error.description == "joint 'shoulder_lift' (servo 2) is at 3900, outside its limits 1000…3000: move it by hand into range; torque not enabled")
        usleep(50_000)
        #expect(servos.packets == [Packet(id: 0xFE, instruction: 0x82, params: [0x38, 2, 1, 2, 6])])  // read only: nothing written
        #expect(!servos.torqueEnabled(1) && !servos.torqueEnabled(2) && !servos.torqueEnabled(6))
        // Negative (sign-magnitude) and gripper positions are checked too.
        servos.setPosition(2, 2048)
        servos.setPosition(1, -16)
        #expect(throws: PoseError.outOfLimits(joint: "shoulder_pan", servo: 1, position: -16, min: 1000, max: 3000)) {
            try FeetechActuator(bus: bus, profile: Self.profile)
        }
        servos.setPosition(1, 2048)
        servos.setPosition(6, 2700)
        #expect(throws: PoseError.outOfLimits(joint: "gripper", servo: 6, position: 2700, min: 1950, max: 2600)) {
            try FeetechActuator(bus: bus, profile: Self.profile)
        }
        #expect(servos.packets.allSatisfy { $0.instruction == 0x82 })
    }

    @Test func feetechNamesAServoThatDoesNotAnswer() throws {
        let servos = try FeetechServoEmulator(positions: [1: 2048, 2: 2048, 6: 2275])
        defer { servos.stop() }
        servos.setSilent(6)
        let bus = FeetechBus(port: try SerialPort(path: servos.path))
        let error = try #require(throws: PoseError.self) { try FeetechActuator(bus: bus, profile: Self.profile, readTimeout: 0.1) }
        #expect(error.description == "servo 6 (joint 'gripper') did not report its position within 100 ms (SYNC_READ, then READ): check its power, cable, ID and baud; torque not enabled")
        usleep(50_000)
        #expect(servos.packets == [Packet(id: 0xFE, instruction: 0x82, params: [0x38, 2, 1, 2, 6]),
                                   Packet(id: 6, instruction: 0x02, params: [0x38, 2])])
    }

    // MARK: the bridge: the controller reads the servos, the host reads its STATUS

    typealias FarEnd = BridgeClientTests.FarEnd

    @Test func bridgeStartsFromTheMeasuredPose() throws {
        let pty = try PTY()
        let far = FarEnd(pty: pty)
        far.positions = [1: 1200, 2: 2900, 6: 2275]
        far.start()
        defer { far.stop() }
        let actuator = try BridgeActuator(client: try BridgeClient(port: try SerialPort(path: pty.slavePath)), profile: Self.profile)
        #expect(try actuator.reference() == [1200, 2900, 0.5])
        #expect(actuator.poseStatus.flags.contains(.positionsMeasured) && actuator.poseStatus.measured == MeasuredValues([1200, 2900, 2275]))
        let loop = try Self.loop(actuator)
        try loop.resynchronize()
        try loop.tick()
        let status = try actuator.client.requestStatus().status
        #expect(status.applied == JointValues([1225, 2875, 2438]))
        #expect(status.flags.contains(.torqueEnabled) && status.clampedTargets == 0)
        // On the servo bus: goals = the measured pose, torque on, then the first (step-limited) command.
        func torque(_ id: UInt8) -> [UInt8] { [0xFF, 0xFF, id, 4, 3, 0x28, 1, ~(id &+ 4 &+ 3 &+ 0x28 &+ 1)] }
        func sync(_ items: [(UInt8, UInt16)]) -> [UInt8] {
            var b = ByteBuffer<64>()
            Feetech.syncWriteGoalPosition(ids: ServoIDs(items.map(\.0)), positions: JointValues(items.map(\.1)), into: &b)
            return b.array
        }
        #expect(far.writes == sync([(1, 1200), (2, 2900), (6, 2275)]) + torque(1) + torque(2) + torque(6) + sync([(1, 1225), (2, 2875), (6, 2438)]))
    }

    @Test func bridgeRefusesTorqueForAJointOutsideItsLimits() throws {
        let pty = try PTY()
        let far = FarEnd(pty: pty)
        far.positions = [1: 2048, 2: 3900, 6: 2275]
        far.start()
        defer { far.stop() }
        let client = try BridgeClient(port: try SerialPort(path: pty.slavePath))
        let error = try #require(throws: PoseError.self) { try BridgeActuator(client: client, profile: Self.profile) }
        #expect(error.description == "joint 'shoulder_lift' (servo 2) is at 3900, outside its limits 1000…3000: move it by hand into range; torque not enabled")
        #expect(far.writes.isEmpty)  // configured, read, never enabled
        let status = try client.requestStatus().status
        #expect(status.flags.contains(.configured) && !status.flags.contains(.torqueEnabled))
        // The controller refuses on its own too, should a host skip the check.
        let refusal = try #require(throws: BridgeError.self) { try client.request(.torque(enable: true)) }
        #expect(refusal.description == "the motor controller refused torque: positionOutOfLimits (a joint's measured position is outside its configured limits: move it by hand into range)")
        #expect(far.writes.isEmpty)
    }

    @Test func bridgeNamesAServoThatDoesNotAnswer() throws {
        let pty = try PTY()
        let far = FarEnd(pty: pty)
        far.positions = [1: 2048, 6: 2275]  // servo 2 silent
        far.start()
        defer { far.stop() }
        let client = try BridgeClient(port: try SerialPort(path: pty.slavePath))
        let error = try #require(throws: PoseError.self) { try BridgeActuator(client: client, profile: Self.profile, poseTimeout: 0.4) }
        #expect(error.description == "servo 2 (joint 'shoulder_lift') did not report its position to the motor controller within 400 ms: check its power, cable, ID and baud; torque not enabled")
        #expect(far.writes.isEmpty)
    }
}
