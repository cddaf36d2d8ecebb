import Glibc
import BridgeProtocol
import Testing
@testable import ReflexIO

/// The serial link drops mid-run (the far end of the pty goes away): the loop holds, the actuator
/// reconnects with backoff to the device when it is back, and commands resume on the new link.
@Suite(.serialized) struct ReconnectTests {
    final class Box { var pty: PseudoTerminal?; init(_ p: PseudoTerminal) { pty = p } }

    @Test func loopHoldsWhileTheLinkIsDownAndResumesAfterReconnect() throws {
        let box = Box(try PseudoTerminal())
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
                - { name: a, servo_id: 1, min: 0, max: 4095, home: 2048, units_per_action: 100, max_step: 40 }
            """, file: "t.yaml")
        let actuator = try ReconnectingActuator {
            guard let pty = box.pty else { throw SerialError.closed(path: "(no device)") }
            return try FeetechActuator(bus: FeetechBus(port: try SerialPort(path: pty.slavePath)), profile: profile)
        }
        let loop = ControlLoop(source: ScriptedSource(), actuator: actuator, mapping: ActionMapping(robot: profile.robot),
                               limits: try profile.safetyLimits(), frameBudgetMs: 100, maxFrameAgeMs: 100) { _ in [0.1, 0, 0, 0, 0, 0, 1] }
        try loop.resynchronize()
        try loop.tick()
        let first = box.pty!.read(ms: 200)
        #expect(first.count == 8 + 11)  // torque enable + one SYNC_WRITE for one servo
        // The device vanishes.
        box.pty = nil
        for _ in 0..<3 { try loop.tick() }
        #expect(loop.stats.linkDown >= 1 && actuator.disconnects == 1 && !actuator.isConnected)
        #expect(loop.lastHold == "link down")
        // It comes back; after the backoff the actuator reconnects and commands resume there.
        box.pty = try PseudoTerminal()
        usleep(250_000)
        try loop.tick()
        try loop.tick()
        #expect(actuator.reconnects == 1 && actuator.isConnected)
        let after = box.pty!.read(ms: 200)
        #expect(after.prefix(8) == [0xFF, 0xFF, 0x01, 0x04, 0x03, 0x28, 0x01, 0xCE])  // torque re-enabled first
        #expect(after.count == 8 + 2 * 11)
        #expect(loop.stats.sent == 3)
    }
}
