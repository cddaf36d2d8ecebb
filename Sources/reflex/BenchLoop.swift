import ArgumentParser
import CMallocCounter
import Foundation
import ReflexCore
import ReflexIO
import ReflexRuntime

/// `reflex bench loop`: the control loop's own cost — everything but inference.
struct BenchLoop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loop",
        abstract: "Measure the control loop's overhead per tick (frame hand-off, mapping, safety, send) and its heap allocations.",
        discussion: """
            Runs ControlLoop.tick() through the runtime's sync action source with an instant VLA (a planar action \
            whose direction turns every 40 calls) and SP-VLA's scheduler on, so that the tick time is the loop's \
            overhead with both paths exercised — VLA ticks and generator ticks (the gate, the ridge fit, \
            un-normalization); first with an in-memory actuator, then the same in async mode (a 1 ms VLA on its own \
            thread, results picked up by later ticks, the generator serving the ticks between), the sync source again with \
            the Smith predictor as its generator, then with a \
            Feetech bus on a pseudo-terminal (real termios writes of one SYNC_WRITE per tick). Heap allocations are counted by the malloc \
            interposer linked into reflex; the target is none per tick after warm-up.
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

    /// An instant VLA: a planar action (passes the released motion test) that turns around every 40 calls,
    /// so the arm stays inside its limits however long the bench runs. Returns preallocated arrays.
    final class BackAndForthVLA: VLA {
        let forward: VLAOutput, backward: VLAOutput
        /// Seconds each call takes (async: slower than the back-to-back ticks, so they are served by the
        /// generator between results).
        let delay: Double
        var calls = 0
        init(delay: Double = 0) {
            self.delay = delay
            // Normalized as the statistics below map them: ±0.1 → ±1 for motion, gripper 0…1 → −1…1.
            let a: [Float] = [0.02, -0.01, 0.005, 0, 0.01, 0, 1]
            forward = VLAOutput(action: a, normalized: [0.2, -0.1, 0.05, 0, 0.1, 0, 1], seconds: 0)
            let b: [Float] = [-0.02, 0.01, -0.005, 0, -0.01, 0, 1]
            backward = VLAOutput(action: b, normalized: [-0.2, 0.1, -0.05, 0, -0.1, 0, 1], seconds: 0)
        }
        func infer(_ frame: CameraFrame) throws -> VLAOutput {
            calls += 1
            if delay > 0 { usleep(UInt32(delay * 1e6)) }
            return (calls / 40) % 2 == 0 ? forward : backward
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
        /// Share of ticks served by the generator.
        var generatorShare: Double
        enum CodingKeys: String, CodingKey {
            case actuator, ticks
            case overheadMs = "overhead_ms", allocationsPerTick = "allocations_per_tick", generatorShare = "generator_share"
        }
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
        var results: [Result] = []
        // The statistics the action normalizes with (±0.1 → ±1), as the simulator policy's.
        let statistics = ActionStatistics(q01: [-0.1, -0.1, -0.1, -0.1, -0.1, -0.1, 0], q99: [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 1], mask: nil)
        func measure(_ name: String, _ actuator: Actuator, mode: ExecutionMode = .sync, policy: SchedulerSettings.Policy = .spvla) throws {
            let scheduler = BoardProfile.Scheduler(mode: mode, settings: SchedulerSettings(policy: policy), maxActionAgeMs: 1000)
            let actions = ActionSourceFactory.make(scheduler, vla: BackAndForthVLA(delay: mode == .async ? 0.001 : 0), statistics: statistics)
            defer { actions.shutdown() }
            let loop = ControlLoop(source: try MemorySource(), actuator: actuator, mapping: ActionMapping(robot: robot), limits: limits,
                                   frameBudgetMs: 100, maxFrameAgeMs: 100, maxActionAgeMs: 1000,
                                   historyCapacity: scheduler.settings.historyCapacity, actions: actions)
            try loop.resynchronize()
            // async: ticks 0.5 ms apart (so the VLA worker, below the tick thread's priority, gets to run on a
            // busy machine) and at most 4000 of them; sync: back to back.
            let count = mode == .async ? min(ticks, 4000) : ticks
            let pause: UInt32 = mode == .async ? 500 : 0
            for _ in 0..<100 { try loop.tick(); if pause > 0 { usleep(pause) } }
            loop.resetStats()
            let before = rk_malloc_count()
            for _ in 0..<count { try loop.tick(); if pause > 0 { usleep(pause) } }
            let allocs = Double(rk_malloc_count() - before) / Double(count)
            let samples = loop.stats.overheadMs.values
            let share = Double(loop.stats.generatorActions) / Double(max(1, loop.stats.ticks))
            results.append(Result(actuator: name, ticks: count, overheadMs: ["p50": percentile(samples, 50), "p99": percentile(samples, 99), "max": samples.max() ?? 0],
                                  allocationsPerTick: allocs, generatorShare: share))
            log.info("\(name): overhead p50 \(String(format: "%.4f", percentile(samples, 50))) ms, p99 \(String(format: "%.4f", percentile(samples, 99))) ms; \(String(format: "%.1f", allocs)) heap allocations per tick; \(String(format: "%.0f", 100 * share))% generator ticks")
        }
        try measure("memory", NullActuator())
        try measure("memory-async", NullActuator(), mode: .async)
        try measure("memory-smith", NullActuator(), policy: .smith)
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
                print(r.actuator.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: " overhead p50 %.4f ms  p99 %.4f ms  max %.3f ms  allocations/tick %.1f  generator ticks %.0f%%",
                             r.overheadMs["p50"]!, r.overheadMs["p99"]!, r.overheadMs["max"]!, r.allocationsPerTick, 100 * r.generatorShare))
            }
        }
    }
}
