import ArgumentParser
import Foundation
import ReflexCore
import ReflexIO
import ReflexModels
import ReflexRuntime
import ReflexSim

/// The simulated board: the profile's episodes, a GIF recording.
extension Run {
    func runSimulation(_ profile: BoardProfile) throws {
        guard let simCfg = profile.simulation else { throw CLIError.invalidInput("\(board): no simulation section") }
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        let policy = try loadSimPolicy(profile.model.path, precision: profile.model.quantization == "int8" ? .int8 : .fp32,
                                       options: VLAPolicy.Options(pruning: profile.acceleration.pruning))
        let runner = try EpisodeRunner(policy: policy, options: EpisodeRunner.Options(
            realTime: !fast, rateHz: profile.control.rateHz, frameBudgetMs: profile.control.frameBudgetMs,
            limits: try profile.safetyLimits(), scheduler: profile.acceleration.scheduler.settings, mode: profile.acceleration.scheduler.mode,
            vlaLatencyMs: nil, maxActionAgeMs: profile.acceleration.scheduler.maxActionAgeMs))
        let count = episodes ?? simCfg.episodes
        guard count > 0 else { throw CLIError.invalidInput("--episodes must be positive") }
        var recorder: GIFRecorder?
        let recordDir = noRecord ? nil : (record ?? simCfg.recordDirectory)
        if let recordDir {
            try FileManager.default.createDirectory(atPath: recordDir, withIntermediateDirectories: true)
            recorder = try GIFRecorder(path: recordDir + "/episodes.gif", width: Renderer.size, height: Renderer.size,
                                       frameDelay: 1 / profile.control.rateHz)
        }
        notifier.notify("READY=1\nSTATUS=simulated board running")
        let tty = isatty(2) != 0
        var summaries: [EpisodeSummary] = []
        var tickMs: [Double] = [], overheadMs: [Double] = [], vlaMs: [Double] = [], generatorMs: [Double] = [], actionAgeMs: [Double] = []
        var seconds = 0.0
        var totals = ControlLoop.Stats()
        var lastPing = monotonicSeconds()
        for e in 0..<count {
            if StopSignal.requested { break }
            let family = TaskFamily(name: simCfg.tasks[e % simCfg.tasks.count])!
            let seed = simCfg.seed + UInt64(e)
            let succeededSoFar = summaries.filter(\.success).count
            let outcome: EpisodeRunner.Outcome
            do {
                outcome = try runner.run(family: family, seed: seed) { rig, loop in
                if let recorder { try recorder.add(annotate(rig.sim.render(), success: rig.sim.success)) }
                if let w = notifier.watchdogInterval, monotonicSeconds() - lastPing > w {
                    notifier.notify("WATCHDOG=1")
                    lastPing = monotonicSeconds()
                }
                if tty {  // the status line is only built for a terminal
                    let a = loop.lastAction ?? []
                    let act = a.count >= 7 ? String(format: "%+.3f %+.3f %+.3f grip %.2f", a[0], a[1], a[2], a[6]) : "-"
                    let st = loop.stats
                    let line = String(format: "episode %d/%d %@ step %d/%d | %@ %@ | vla %d gen %d hold %d | tick %.1f ms%@ | success %d/%d",
                                      e + 1, count, family.rawValue, rig.sim.steps, family.stepLimit, loop.lastOrigin.rawValue, act,
                                      st.vlaActions, st.generatorActions, st.holds,
                                      st.tickMs.last ?? 0, loop.lastHold.map { " HOLD (\($0))" } ?? "", succeededSoFar, e)
                    FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
                }
                if StopSignal.requested { throw StopRequested() }
            }
            } catch is StopRequested {
                if tty { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
                log.notice("stop requested: holding and shutting down")
                break
            }
            if tty { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            // A running board stops on the loop's failure (eval instead scores the episode and goes on).
            if let why = outcome.stoppedBy { throw ControlLoopFailure(description: why) }
            summaries.append(EpisodeSummary(task: family.rawValue, seed: seed, instruction: outcome.instruction, success: outcome.success, steps: outcome.steps))
            tickMs += outcome.loop.tickMs.values
            overheadMs += outcome.loop.overheadMs.values
            vlaMs += outcome.loop.vlaMs.values
            generatorMs += outcome.loop.generatorMs.values
            actionAgeMs += outcome.loop.actionAgeMs.values
            seconds += outcome.seconds
            for k in [\ControlLoop.Stats.ticks, \.sent, \.holds, \.overruns, \.staleFrames, \.badFrames, \.vlaActions, \.generatorActions,
                      \.switches, \.noAction] { totals[keyPath: k] += outcome.loop[keyPath: k] }
            log.info("episode \(e + 1)/\(count) \(family.rawValue) seed \(seed) \"\(outcome.instruction)\": \(outcome.success ? "SUCCESS" : "failed") in \(outcome.steps) steps (\(outcome.loop.holds) holds, \(outcome.loop.overruns) overruns)")
        }
        notifier.notify("STOPPING=1")
        try recorder?.close()
        let summary = Summary(board: profile.board.name, episodes: summaries, stats: totals, tickMs: tickMs, overheadMs: overheadMs,
                              vlaMs: vlaMs, generatorMs: generatorMs, actionAgeMs: actionAgeMs, seconds: seconds, recording: recorder?.path,
                              mode: profile.acceleration.scheduler.mode.rawValue)
        log.info("\(summary.successes)/\(summaries.count) episodes succeeded; \(totals.ticks) ticks, \(totals.holds) holds, \(totals.overruns) overruns; tick p50/p99 \(String(format: "%.1f/%.1f", percentile(tickMs, 50), percentile(tickMs, 99))) ms, loop overhead p99 \(String(format: "%.2f", percentile(overheadMs, 99))) ms")
        if let r = recorder { log.info("recording: \(r.path) (\(r.frames) frames)") }
        if json { try printJSON(Merged(summary, summary.figures)) } else if let r = recorder { print("recording: \(r.path)") }
    }

    struct StopRequested: Error {}

    /// Marks success frames with a green border so the recording shows the outcome.
    func annotate(_ image: RGBImage, success: Bool) -> RGBImage {
        guard success else { return image }
        var img = image
        let w = img.width, h = img.height
        for y in 0..<h {
            for x in 0..<w where x < 4 || y < 4 || x >= w - 4 || y >= h - 4 {
                let i = (y * w + x) * 3
                img.pixels[i] = 40; img.pixels[i + 1] = 200; img.pixels[i + 2] = 60
            }
        }
        return img
    }
}
