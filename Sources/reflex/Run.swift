import ArgumentParser
import Foundation
import ReflexCore
import ReflexIO
import ReflexModels
import ReflexSim

/// `reflex run`: the service. Camera → policy → safety → robot, at the profile's rate.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the robot loop described by a board profile (the systemd service's command).",
        discussion: """
            Each tick takes the newest frame, runs the policy, maps its action to a command, passes it through \
            the safety stage and sends it — or holds (stale frame, inference over the frame budget, non-finite \
            action, e-stop). A live status line goes to stderr; --json prints a summary object at exit.
            Under systemd (Type=notify) it sends READY=1 once model and devices are up and WATCHDOG=1 pings.
            SIGTERM/SIGINT: hold, stop, exit 0. A bad frame (a corrupt file in a replay) holds that tick and is \
            logged; camera.max_bad_frames of them in a row, or any other error once the actuator is live, run \
            the same stop sequence as SIGTERM (hold, torque off when configured, close) and exit 1.
            With the sim board (boards/sim.yaml) the simulator is camera and robot: the profile's episodes run \
            and an animated GIF of them is written (simulation.record).
            """
    )

    @Option(help: "Board profile (YAML).")
    var board: String

    @Option(help: "Simulated episodes to play (default: the profile's simulation.episodes).")
    var episodes: Int?

    @Option(help: "Directory for the recording (default: the profile's simulation.record).")
    var record: String?

    @Flag(name: .customLong("no-record"), help: "Do not write a recording.")
    var noRecord = false

    @Flag(help: "Run ticks back to back instead of at the profile's rate (simulator only).")
    var fast = false

    @Option(help: "Stop after this many ticks (robot boards; default: run until SIGTERM).")
    var ticks: Int?

    @OptionGroup var imageLimit: ImageLimitOptions

    @Flag(help: "Print one JSON summary object on stdout at exit.")
    var json = false

    func validate() throws {
        if let episodes, !(1...100_000).contains(episodes) { throw ValidationError("--episodes must be 1…100000, got \(episodes)") }
        if let ticks, ticks < 1 { throw ValidationError("--ticks must be at least 1, got \(ticks)") }
    }

    func run() throws {
        let profile: BoardProfile
        do { profile = try BoardProfile.load(board) } catch let e as ProfileError { throw CLIError.invalidInput(e.description) }
        StopSignal.install()
        if ProcessInfo.processInfo.environment["REFLEX_THREADS"] == nil {  // the environment wins (systemd overrides)
            Kernels.setThreads(min(profile.cpu.threads, ProcessInfo.processInfo.activeProcessorCount))
        }
        switch profile.camera.source {
        case .sim:
            try runSimulation(profile)
        case .v4l2, .replay:
            try runRobot(profile)
        }
    }

    /// The real loop: camera (or replay) → policy → safety → bridge, at the profile's rate.
    func runRobot(_ profile: BoardProfile) throws {
        guard let instruction = profile.model.instruction, !instruction.isEmpty else {
            throw CLIError.invalidInput("\(board): model.instruction is required on a robot board (or set REFLEX_MODEL_INSTRUCTION)")
        }
        let source: FrameSource
        switch profile.camera.source {
        case .replay:
            source = try replaySource(path: profile.camera.path!, fps: Double(profile.camera.fps))
        case .v4l2:
            let c = profile.camera
            do {
                let cam = try V4L2Camera(device: c.device!, width: c.width, height: c.height, fps: c.fps, pixelFormat: c.pixelFormat, buffers: c.buffers)
                log.info("camera \(c.device!): granted \(cam.format.width)x\(cam.format.height) \(cam.format.nativeFourCC) @\(cam.format.fps) (asked \(c.width)x\(c.height) \(c.pixelFormat) @\(c.fps))")
                cam.start()
                source = cam
            } catch let e as CameraError {
                throw CLIError.runtime(e.description)
            }
        case .sim:
            throw CLIError.invalidInput("\(board): camera sim needs bridge sim")
        }
        let precision: Precision = profile.model.quantization == "int8" ? .int8 : .fp32
        let t0 = monotonicSeconds()
        let policy = try VLAPolicy(directory: profile.model.path, precision: precision, unnormKey: profile.model.unnormKey)
        log.info("loaded \(profile.model.path) (\(policy.precision.rawValue)) in \(String(format: "%.0f", (monotonicSeconds() - t0) * 1000)) ms")
        var stopInner: () throws -> Void = {}
        let connect: () throws -> Actuator = {
            let port = try SerialPort(path: profile.bridge.port!, baud: profile.bridge.baud)
            switch profile.bridge.protocol {
            case .reflex:
                let a = try BridgeActuator(client: try BridgeClient(port: port), profile: profile)
                stopInner = { try a.stop() }
                return a
            case .feetech:
                let a = try FeetechActuator(bus: FeetechBus(port: port), profile: profile)
                stopInner = { try a.stop() }
                return a
            case .sim:
                throw CLIError.invalidInput("\(board): bridge sim needs camera sim")
            }
        }
        let actuator = try bridgeRuntime { try ReconnectingActuator(connect: connect) }
        actuator.onEvent = { log.warning("\(profile.bridge.port!): \($0)") }
        // From here on the actuator is live: every way out — SIGTERM, --ticks, an error — runs the same stop
        // sequence (hold, torque off when the profile says so, close the port).
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        func stop() {
            notifier.notify("STOPPING=1")
            guard actuator.isConnected else { return log.warning("stop: the link is down; the controller's watchdog stops the motion") }
            do { try stopInner() } catch { log.error("stop sequence failed: \(error)") }
        }
        let loop: ControlLoop
        do {
            loop = ControlLoop(source: source, actuator: actuator, mapping: ActionMapping(robot: profile.robot),
                               limits: try profile.safetyLimits(), frameBudgetMs: profile.control.frameBudgetMs,
                               maxFrameAgeMs: profile.camera.maxFrameAgeMs, maxBadFrames: profile.camera.maxBadFrames) { image in
                try policy.act(image, instruction: instruction).action
            }
            loop.onBadFrame = { log.warning("bad frame, holding: \($0)") }
            try loop.resynchronize()
            notifier.notify("READY=1\nSTATUS=running \(profile.board.name)")
            log.info("running \(profile.board.name) at \(profile.control.rateHz) Hz: \"\(instruction)\"")
            try pace(loop, profile: profile, notifier: notifier)
        } catch {
            log.error("stopping the robot: \(error)")
            stop()
            throw CLIError.runtime("\(error)")
        }
        stop()
        let st = loop.stats
        log.info("stopped after \(st.ticks) ticks: \(st.sent) sent, \(st.holds) holds (\(st.overruns) overruns, \(st.staleFrames) stale frames, \(st.badFrames) bad frames); tick p50/p99 \(String(format: "%.1f/%.1f", percentile(st.tickMs.values, 50), percentile(st.tickMs.values, 99))) ms, loop overhead p99 \(String(format: "%.2f", percentile(st.overheadMs.values, 99))) ms")
        if json {
            try printJSON(Summary(board: profile.board.name, episodes: [], successes: 0, ticks: st.ticks, sent: st.sent, holds: st.holds,
                                  overruns: st.overruns, staleFrames: st.staleFrames, badFrames: st.badFrames, tickMs: latencyPercentiles(st.tickMs.values),
                                  overheadMs: latencyPercentiles(st.overheadMs.values), policyMs: [:], recording: nil))
        }
    }

    /// Ticks at the profile's rate until SIGTERM/SIGINT or `--ticks`, with watchdog pings and a status line.
    func pace(_ loop: ControlLoop, profile: BoardProfile, notifier: SystemdNotifier) throws {
        let tty = isatty(2) != 0
        let period = 1 / profile.control.rateHz
        var next = monotonicSeconds(), lastPing = next, lastLine = 0.0
        defer { if tty { FileHandle.standardError.write(Data("\n".utf8)) } }
        while !StopSignal.requested && (ticks.map { loop.stats.ticks < $0 } ?? true) {
            try loop.tick()
            let now = monotonicSeconds()
            if let w = notifier.watchdogInterval, now - lastPing > w { notifier.notify("WATCHDOG=1"); lastPing = now }
            if tty && now - lastLine > 0.2 {
                lastLine = now
                let st = loop.stats
                let v = st.tickMs.values
                let line = String(format: "tick %d | sent %d holds %d overruns %d bad frames %d link-down %d | tick ms p50 %.1f p95 %.1f p99 %.1f%@", st.ticks, st.sent,
                                  st.holds, st.overruns, st.badFrames, st.linkDown, percentile(v, 50), percentile(v, 95), percentile(v, 99),
                                  loop.lastHold.map { " HOLD (\($0))" } ?? "")
                FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
            }
            next += period
            let wait = next - monotonicSeconds()
            if wait > 0 { usleep(UInt32(wait * 1e6)) } else { next = monotonicSeconds() }
        }
    }

    struct EpisodeSummary: Encodable {
        var task: String
        var seed: UInt64
        var instruction: String
        var success: Bool
        var steps: Int
    }

    struct Summary: Encodable {
        var board: String
        var episodes: [EpisodeSummary]
        var successes: Int
        var ticks: Int
        var sent: Int
        var holds: Int
        var overruns: Int
        var staleFrames: Int
        var badFrames: Int
        var tickMs: [String: Double]
        var overheadMs: [String: Double]
        var policyMs: [String: Double]
        var recording: String?
        enum CodingKeys: String, CodingKey {
            case board, episodes, successes, ticks, sent, holds, overruns, recording
            case staleFrames = "stale_frames", badFrames = "bad_frames", tickMs = "tick_ms", overheadMs = "overhead_ms", policyMs = "policy_ms"
        }
    }

    func runSimulation(_ profile: BoardProfile) throws {
        guard let simCfg = profile.simulation else { throw CLIError.invalidInput("\(board): no simulation section") }
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        let policy = try loadSimPolicy(profile.model.path, precision: profile.model.quantization == "int8" ? .int8 : .fp32)
        let limits = try profile.safetyLimits()
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
        var tickMs: [Double] = [], overheadMs: [Double] = [], policyMs: [Double] = []
        var totals = ControlLoop.Stats()
        var lastPing = monotonicSeconds()
        for e in 0..<count {
            if StopSignal.requested { break }
            let family = TaskFamily(name: simCfg.tasks[e % simCfg.tasks.count])!
            let seed = simCfg.seed + UInt64(e)
            let succeededSoFar = summaries.filter(\.success).count
            var instruction = ""
            let outcome: SimEpisodeOutcome
            do {
                outcome = try runSimEpisode(family: family, seed: seed, policy: policy, realTime: !fast, rateHz: profile.control.rateHz,
                                            frameBudgetMs: profile.control.frameBudgetMs, limits: limits) { rig, loop in
                instruction = rig.sim.task.instruction
                if let recorder { try recorder.add(annotate(rig.sim.render(), success: rig.sim.success)) }
                if let w = notifier.watchdogInterval, monotonicSeconds() - lastPing > w {
                    notifier.notify("WATCHDOG=1")
                    lastPing = monotonicSeconds()
                }
                if tty {  // the status line is only built for a terminal
                    let a = loop.lastAction ?? []
                    let act = a.count >= 7 ? String(format: "%+.3f %+.3f %+.3f grip %.2f", a[0], a[1], a[2], a[6]) : "-"
                    let line = String(format: "episode %d/%d %@ step %d/%d | action %@ | tick %.1f ms%@ | success %d/%d",
                                      e + 1, count, family.rawValue, rig.sim.steps, family.stepLimit, act,
                                      loop.stats.tickMs.last ?? 0, loop.lastHold.map { " HOLD (\($0))" } ?? "", succeededSoFar, e)
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
            summaries.append(EpisodeSummary(task: family.rawValue, seed: seed, instruction: instruction, success: outcome.success, steps: outcome.steps))
            tickMs += outcome.loop.tickMs.values
            overheadMs += outcome.loop.overheadMs.values
            policyMs += outcome.policyMs
            for k in [\ControlLoop.Stats.ticks, \.sent, \.holds, \.overruns, \.staleFrames, \.badFrames] { totals[keyPath: k] += outcome.loop[keyPath: k] }
            log.info("episode \(e + 1)/\(count) \(family.rawValue) seed \(seed) \"\(instruction)\": \(outcome.success ? "SUCCESS" : "failed") in \(outcome.steps) steps (\(outcome.loop.holds) holds, \(outcome.loop.overruns) overruns)")
        }
        notifier.notify("STOPPING=1")
        try recorder?.close()
        let summary = Summary(board: profile.board.name, episodes: summaries, successes: summaries.filter(\.success).count,
                              ticks: totals.ticks, sent: totals.sent, holds: totals.holds, overruns: totals.overruns,
                              staleFrames: totals.staleFrames, badFrames: totals.badFrames, tickMs: latencyPercentiles(tickMs), overheadMs: latencyPercentiles(overheadMs), policyMs: latencyPercentiles(policyMs),
                              recording: recorder?.path)
        log.info("\(summary.successes)/\(summaries.count) episodes succeeded; \(totals.ticks) ticks, \(totals.holds) holds, \(totals.overruns) overruns; tick p50/p99 \(String(format: "%.1f/%.1f", percentile(tickMs, 50), percentile(tickMs, 99))) ms, loop overhead p99 \(String(format: "%.2f", percentile(overheadMs, 99))) ms")
        if let r = recorder { log.info("recording: \(r.path) (\(r.frames) frames)") }
        if json { try printJSON(summary) } else if let r = recorder { print("recording: \(r.path)") }
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

    /// A replay camera over a folder of PNG/JPEG frames or a video file (field recordings).
    func replaySource(path: String, fps: Double) throws -> ReplaySource {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CLIError.invalidInput("\(board): camera.path \(path): no such file or folder")
        }
        if isDir.boolValue {
            let limit = imageLimit.limit
            do { return try ReplaySource(directory: path, fps: fps) { try ImageFile.read($0, maxPixels: limit) } } catch {
                throw CLIError.invalidInput("\(board): camera.path \(path): no PNG/JPEG frames")
            }
        }
        let video: VideoFile
        do { video = try VideoFile(path: path, maxPixels: imageLimit.limit) } catch let e as ModelError { throw CLIError.invalidInput("\(board): camera.path: \(e)") }
        log.info("replaying \(path): \(video.width)x\(video.height) at \(fps) fps (file says \(String(format: "%.1f", video.fps)))")
        return ReplaySource(fps: fps) { try video.frame($0) }
    }
}

/// p50 / p95 / p99 of latency samples, as `run --json` reports them.
func latencyPercentiles(_ v: [Double]) -> [String: Double] {
    ["p50": percentile(v, 50), "p95": percentile(v, 95), "p99": percentile(v, 99)]
}
