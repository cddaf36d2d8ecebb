import Glibc
import BridgeProtocol
import Testing
@testable import ReflexIO

/// The serial link drops mid-run (the far end of the pty goes away): the loop holds, the actuator
/// reconnects with backoff to the device when it is back — measuring the pose again before torque —
/// and commands resume on the new link from the measured pose, limited by max_step.
@Suite(.serialized) struct ReconnectTests {
    final class Box { var servos: FeetechServoEmulator?; init(_ s: FeetechServoEmulator) { servos = s } }
    final class Events { var list: [String] = [] }

    /// A one-joint arm on the emulated bus in `box` (reopened by the actuator while `box.servos` is set),
    /// a loop whose policy always returns `action`, and the actuator's link events.
    static func rig(_ box: Box, joint: String, action: [Float]) throws -> (ControlLoop, ReconnectingActuator, Events) {
        let profile = try BoardProfile.parse("""
            board: { name: t, memory_mb: 1024 }
            cpu: { threads: 1 }
            camera: { source: replay, path: /x }
            model: { path: /x }
            control: { rate_hz: 30 }
            bridge: { protocol: feetech, port: /x }
            robot:
              kind: joints
              joints:
                - \(joint)
            """, file: "t.yaml")
        let events = Events()
        let actuator = try ReconnectingActuator {
            guard let servos = box.servos else { throw SerialError.closed(path: "(no device)") }
            return try FeetechActuator(bus: FeetechBus(port: try SerialPort(path: servos.path)), profile: profile)
        }
        actuator.onEvent = { events.list.append($0) }
        let loop = ControlLoop(source: ScriptedSource(), actuator: actuator, mapping: ActionMapping(robot: profile.robot),
                               limits: try profile.safetyLimits(), frameBudgetMs: 100, maxFrameAgeMs: 100) { _ in action }
        return (loop, actuator, events)
    }

    @Test func loopHoldsWhileTheLinkIsDownAndResumesFromTheMeasuredPoseAfterReconnect() throws {
        let box = Box(try FeetechServoEmulator(positions: [1: 2048]))
        let (loop, actuator, events) = try Self.rig(box, joint: "{ name: a, servo_id: 1, min: 0, max: 4095, home: 2048, units_per_action: 100, max_step: 40 }",
                                                    action: [0.1, 0, 0, 0, 0, 0, 1])
        try loop.resynchronize()
        try loop.tick()
        usleep(50_000)
        let sync1: FeetechServoEmulator.Packet = .init(id: 0xFE, instruction: 0x83, params: [0x2A, 2, 1, 0x0A, 0x08])  // 2048 + 0.1 × 100
        #expect(box.servos!.packets.suffix(2) == [.init(id: 1, instruction: 0x03, params: [0x28, 1]), sync1])
        // The device vanishes; while it is gone the arm sags to 1500 (torque lost with the link).
        box.servos!.unplug()
        box.servos = nil  // the last reference: the pty's master closes
        for _ in 0..<3 { try loop.tick() }
        #expect(loop.stats.linkDown >= 1 && actuator.disconnects == 1 && !actuator.isConnected)
        #expect(loop.lastHold == "link down")
        // It comes back with the arm at 1500; after the backoff the actuator reconnects.
        box.servos = try FeetechServoEmulator(positions: [1: 1500])
        usleep(250_000)
        let sentBefore = loop.stats.sent
        try loop.tick()  // reconnects: pose read, goal = pose, torque on; this tick's command is not sent
        #expect(actuator.reconnects == 1 && actuator.isConnected && loop.stats.sent == sentBefore)
        try loop.tick()  // from 1500, +10 (the policy's 0.1 × 100)
        try loop.tick()
        usleep(50_000)
        #expect(box.servos!.packets == [
            .init(id: 0xFE, instruction: 0x82, params: [0x38, 0x02, 1]),           // pose read first
            .init(id: 0xFE, instruction: 0x83, params: [0x2A, 2, 1, 0xDC, 0x05]),  // goal = 1500, so torque on holds it
            .init(id: 1, instruction: 0x03, params: [0x28, 1]),                    // torque on
            .init(id: 0xFE, instruction: 0x83, params: [0x2A, 2, 1, 0xE6, 0x05]),  // 1510
            .init(id: 0xFE, instruction: 0x83, params: [0x2A, 2, 1, 0xF0, 0x05]),  // 1520
        ])
        #expect(loop.stats.sent == sentBefore + 2)
        #expect(events.list.contains { $0.hasPrefix("link restored (reconnect 1)") })
    }

    @Test func aReconnectIntoAnOutOfLimitsPoseStaysDownAndSaysWhy() throws {
        let box = Box(try FeetechServoEmulator(positions: [1: 2048]))
        let (loop, actuator, events) = try Self.rig(box, joint: "{ name: elbow, servo_id: 1, min: 1000, max: 3000, home: 2048, units_per_action: 100, max_step: 40 }",
                                                    action: [0, 0, 0, 0, 0, 0, 1])
        try loop.resynchronize()
        box.servos!.unplug()
        box.servos = nil
        try loop.tick()  // link lost
        box.servos = try FeetechServoEmulator(positions: [1: 3500])  // someone pushed the elbow past its limit
        for _ in 0..<4 { usleep(150_000); try loop.tick() }
        #expect(!actuator.isConnected && actuator.reconnects == 0)
        #expect(events.list.filter { $0.hasPrefix("reconnect failed") } == [
            "reconnect failed: joint 'elbow' (servo 1) is at 3500, outside its limits 1000…3000: move it by hand into range; torque not enabled"])
        usleep(50_000)
        #expect(box.servos!.packets.allSatisfy { $0.instruction == 0x82 })  // only reads: nothing written, no torque
        #expect(!box.servos!.torqueEnabled(1))
        // Moved back by hand: the next attempt connects, from the measured pose.
        box.servos!.setPosition(1, 2900)
        for _ in 0..<40 where !actuator.isConnected { usleep(100_000); try loop.tick() }
        #expect(actuator.isConnected && loop.safety.last == [2900, 1])
    }
}
