import ArgumentParser
import Foundation
import ReflexCore
import ReflexIO
import ReflexModels
import ReflexRuntime
import ReflexSim

/// The real robot: camera (or replay) → policy → safety → bridge, with one stop sequence.
extension Run {
    /// The real loop: camera (or replay) → policy → safety → bridge, at the profile's rate.
    func runRobot(_ profile: BoardProfile) throws {
        guard let instruction = profile.model.instruction, !instruction.isEmpty else {
            throw CLIError.invalidInput("\(board): model.instruction is required on a robot board (or set REFLEX_MODEL_INSTRUCTION)")
        }
        let precision: Precision = profile.model.quantization == "int8" ? .int8 : .fp32
        let t0 = monotonicSeconds()
        let policy = try VLAPolicy(directory: profile.model.path, precision: precision, unnormKey: profile.model.unnormKey,
                                   options: VLAPolicy.Options(pruning: profile.acceleration.pruning))
        log.info("loaded \(profile.model.path) (\(policy.precision.rawValue), pruning \(profile.acceleration.pruning.summary)) in \(String(format: "%.0f", (monotonicSeconds() - t0) * 1000)) ms")
        let rig = try bridgeRuntime {
            try RobotRig(profile: profile, vla: InstructedPolicy(policy, instruction: instruction), statistics: policy.statistics,
                         maxImagePixels: imageLimit.limit, info: { log.info("\($0)") }, warning: { log.warning("\($0)") })
        }
        // From here on the actuator is live: every way out — SIGTERM, --ticks, an error — runs the same stop
        // sequence (hold, torque off when the profile says so, close the port).
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        func stop() {
            notifier.notify("STOPPING=1")
            rig.stop { log.warning("\($0)") }
        }
        let loop = rig.loop
        let scheduler = profile.acceleration.scheduler
        var started = monotonicSeconds()
        do {
            try rig.start()
            notifier.notify("READY=1\nSTATUS=running \(profile.board.name)")
            log.info("running \(profile.board.name) at \(profile.control.rateHz) Hz, \(scheduler.mode.rawValue) mode, scheduler \(scheduler.settings.policy.rawValue): \"\(instruction)\"")
            started = monotonicSeconds()
            defer { if isatty(2) != 0 { FileHandle.standardError.write(Data("\n".utf8)) } }
            try rig.run(maxTicks: ticks, shouldStop: { StopSignal.requested }, afterTick: statusAndWatchdog(notifier))
        } catch {
            log.error("stopping the robot: \(error)")
            stop()
            throw CLIError.runtime("\(error)")
        }
        stop()
        let st = loop.stats
        log.info("stopped after \(st.ticks) ticks: \(st.sent) sent (\(st.vlaActions) VLA, \(st.generatorActions) generated), \(st.holds) holds (\(st.overruns) overruns, \(st.staleFrames) stale frames, \(st.badFrames) bad frames, \(st.noAction) without an action); tick p50/p99 \(String(format: "%.1f/%.1f", percentile(st.tickMs.values, 50), percentile(st.tickMs.values, 99))) ms, loop overhead p99 \(String(format: "%.2f", percentile(st.overheadMs.values, 99))) ms")
        if json {
            let summary = Summary(board: profile.board.name, episodes: [], stats: st, tickMs: st.tickMs.values, overheadMs: st.overheadMs.values,
                                  vlaMs: st.vlaMs.values, generatorMs: st.generatorMs.values, actionAgeMs: st.actionAgeMs.values,
                                  seconds: monotonicSeconds() - started, recording: nil, mode: scheduler.mode.rawValue)
            try printJSON(Merged(summary, summary.figures))
        }
    }

    /// The status line and the watchdog pings, after every tick (the loop itself runs in `RobotRig.run`).
    func statusAndWatchdog(_ notifier: SystemdNotifier) -> (ControlLoop) -> Void {
        let tty = isatty(2) != 0
        var lastPing = monotonicSeconds(), lastLine = 0.0
        return { loop in
            let now = monotonicSeconds()
            if let w = notifier.watchdogInterval, now - lastPing > w { notifier.notify("WATCHDOG=1"); lastPing = now }
            guard tty && now - lastLine > 0.2 else { return }
            lastLine = now
            let st = loop.stats
            let v = st.tickMs.values
            let line = String(format: "tick %d | vla %d gen %d hold %d (overruns %d bad frames %d link-down %d) | tick ms p50 %.1f p95 %.1f p99 %.1f%@", st.ticks,
                              st.vlaActions, st.generatorActions, st.holds, st.overruns, st.badFrames, st.linkDown, percentile(v, 50), percentile(v, 95), percentile(v, 99),
                              loop.lastHold.map { " HOLD (\($0))" } ?? "")
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
        }
    }
}
