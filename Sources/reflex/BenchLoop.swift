import ArgumentParser
import CMallocCounter
import Foundation
import ReflexCore
import ReflexIO

/// `reflex bench loop`: the control loop's own cost — everything but inference.
struct BenchLoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loop",
        abstract: "Measure the control loop's overhead per tick (frame hand-off, mapping, safety, send) and its heap allocations.",
        discussion: """
            Runs ControlLoop.tick() with an instant policy (a fixed action) so that the tick time is the loop's \
            overhead, first with an in-memory actuator, then with a Feetech bus on a pseudo-terminal (real \
            termios writes of one SYNC_WRITE per tick). Heap allocations are counted by the malloc interposer \
            linked into reflex; the target is none per tick after warm-up.
            """
    )

    @Option(help: "Ticks to measure (after 100 warm-up ticks).")
    var ticks: Int = 20_000

    @Flag(help: "Print one JSON object on stdout.")
    var json = false

    func validate() throws {
        guard (1...100_000_000).contains(ticks) else { throw ValidationError("--ticks must be 1…100000000, got \(ticks)") }
    }

    final class MemorySource: FrameSource {
        var frame: CameraFrame
        init() throws { frame = CameraFrame(image: try RGBImage(width: 224, height: 224, pixels: [UInt8](repeating: 90, count: 224 * 224 * 3)), timestamp: 0, sequence: 0) }
        func latest() throws -> CameraFrame? {
            frame.timestamp = monotonicSeconds()
            return frame
        }
    }

    final class NullActuator: Actuator {
        var last: [Float] = [2048, 2048, 2048, 2048, 2048, 1]
        func reference() throws -> [Float] { last }
        func send(_ command: [Float]) throws { for i in command.indices { last[i] = command[i] } }
        func hold() throws {}
    }

    struct Result: Encodable {
        var actuator: String
        var ticks: Int
        var overheadMs: [String: Double]
        var allocationsPerTick: Double
        enum CodingKeys: String, CodingKey { case actuator, ticks; case overheadMs = "overhead_ms"; case allocationsPerTick = "allocations_per_tick" }
    }

    func run() throws {
        // A Feetech bus on a pseudo-terminal (real termios writes); on the other end emulated servos answer
        // the set-up's position read and take the writes.
        let servos = try FeetechServoEmulator(positions: Dictionary(uniqueKeysWithValues: (1...6).map { (UInt8($0), 2048) }))
        let pty = servos.pty
        let profile = try BoardProfile.parse("""
            board: { name: bench, memory_mb: 1024 }
            cpu: { threads: 1 }
            camera: { source: replay, path: /nonexistent }
            model: { path: /nonexistent }
            control: { rate_hz: 30 }
            bridge: { protocol: feetech, port: \(pty.slavePath) }
            robot:
              kind: joints
              joints:
            \((1...5).map { "    - { name: j\($0), servo_id: \($0), min: 0, max: 4095, home: 2048, units_per_action: 600, max_step: 40 }" }.joined(separator: "\n"))
              gripper: { servo_id: 6, open: 2600, closed: 1950, max_rate: 0.25 }
            """, file: "bench-loop")
        let robot = profile.robot
        let limits = try profile.safetyLimits()
        let action: [Float] = [0.01, -0.01, 0.02, 0, 0.01, 0, 1]
        var results: [Result] = []
        func measure(_ name: String, _ actuator: Actuator) throws {
            let loop = ControlLoop(source: try MemorySource(), actuator: actuator, mapping: ActionMapping(robot: robot), limits: limits,
                                   frameBudgetMs: 100, maxFrameAgeMs: 100) { _ in action }
            try loop.resynchronize()
            for _ in 0..<100 { try loop.tick() }
            loop.resetStats()
            let before = rk_malloc_count()
            for _ in 0..<ticks { try loop.tick() }
            let allocs = Double(rk_malloc_count() - before) / Double(ticks)
            let samples = loop.stats.overheadMs.values
            results.append(Result(actuator: name, ticks: ticks, overheadMs: ["p50": percentile(samples, 50), "p99": percentile(samples, 99), "max": samples.max() ?? 0],
                                  allocationsPerTick: allocs))
            log.info("\(name): overhead p50 \(String(format: "%.4f", percentile(samples, 50))) ms, p99 \(String(format: "%.4f", percentile(samples, 99))) ms; \(String(format: "%.1f", allocs)) heap allocations per tick")
        }
        try measure("memory", NullActuator())
        let bus = FeetechBus(port: try SerialPort(path: pty.slavePath, baud: 1_000_000))
        let feetech = try FeetechActuator(bus: bus, profile: profile)
        // Set up: from here on only the writes matter; a plain drain (as before the servos answered)
        // keeps the emulator's bookkeeping out of the allocation count.
        servos.stop()
        let drain = Thread { while true { _ = pty.read(ms: 1000) } }
        drain.start()
        try measure("feetech-pty", feetech)
        if json { try printJSON(results) } else {
            for r in results {
                print(r.actuator.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: " overhead p50 %.4f ms  p99 %.4f ms  max %.3f ms  allocations/tick %.1f",
                             r.overheadMs["p50"]!, r.overheadMs["p99"]!, r.overheadMs["max"]!, r.allocationsPerTick))
            }
        }
    }
}
