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
            let scheduler = profile.acceleration.scheduler
            let actions = SyncActionSource(vla: InstructedPolicy(policy, instruction: instruction),
                                           scheduler: SPVLAScheduler(settings: scheduler.settings), statistics: policy.statistics)
            loop = ControlLoop(source: source, actuator: actuator, mapping: ActionMapping(robot: profile.robot),
                               limits: try profile.safetyLimits(), frameBudgetMs: profile.control.frameBudgetMs,
                               maxFrameAgeMs: profile.camera.maxFrameAgeMs, maxActionAgeMs: scheduler.maxActionAgeMs,
                               maxBadFrames: profile.camera.maxBadFrames, historyCapacity: scheduler.settings.buffer, actions: actions)
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
