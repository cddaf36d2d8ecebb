import Foundation
import ReflexCore
import ReflexIO
import ReflexModels

/// A real robot's runtime, built from a board profile: frame source (V4L2 camera or replay), the link to the
/// motors (with reconnects), the action source and the control loop; and the one stop sequence every way out
/// runs once the actuator is live.
public final class RobotRig {
    public let profile: BoardProfile
    public let frames: FrameSource
    public let actuator: ReconnectingActuator
    public let actions: ActionSource
    public let loop: ControlLoop
    private var stopInner: () throws -> Void

    /// Builds everything. Once the actuator is connected (this init returned) it is live: the caller must call
    /// `stop(warning:)` on every way out, including a failing `start()`. `info`/`warning` log.
    public init(profile: BoardProfile, vla: VLA, statistics: ActionStatistics?, maxImagePixels: Int,
                info: @escaping (String) -> Void, warning: @escaping (String) -> Void) throws {
        self.profile = profile
        // Everything that can fail on bad input first: the actuator connects last, and is live from then on.
        frames = try Self.frameSource(profile, maxImagePixels: maxImagePixels, info: info)
        let limits = try profile.safetyLimits()
        let scheduler = profile.acceleration.scheduler
        actions = ActionSourceFactory.make(scheduler, vla: vla, statistics: statistics)
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
                throw RuntimeError.invalidInput("\(profile.file): bridge sim needs camera sim")
            }
        }
        let actuator = try ReconnectingActuator(connect: connect)
        actuator.onEvent = { warning("\(profile.bridge.port!): \($0)") }
        self.actuator = actuator
        // `connect` sets the variable on every (re)connect: the stop sequence reads it when it runs.
        self.stopInner = { try stopInner() }
        loop = ControlLoop(source: frames, actuator: actuator, mapping: ActionMapping(robot: profile.robot),
                           limits: limits, frameBudgetMs: profile.control.frameBudgetMs,
                           maxFrameAgeMs: profile.camera.maxFrameAgeMs, maxActionAgeMs: scheduler.maxActionAgeMs,
                           maxBadFrames: profile.camera.maxBadFrames, historyCapacity: scheduler.settings.historyCapacity, actions: actions)
        loop.onBadFrame = { warning("bad frame, holding: \($0)") }
    }

    /// Takes the actuator's measured pose as the safety reference (before the first tick).
    public func start() throws { try loop.resynchronize() }

    /// Ticks at the profile's rate until `shouldStop()` or `maxTicks`. `afterTick` runs on the tick thread after
    /// every tick (watchdog pings, status lines): keep it short.
    public func run(maxTicks: Int?, shouldStop: () -> Bool, afterTick: (ControlLoop) -> Void) throws {
        var pacer = Pacer(rateHz: profile.control.rateHz)
        while !shouldStop() && (maxTicks.map { loop.stats.ticks < $0 } ?? true) {
            try loop.tick()
            afterTick(loop)
            pacer.wait()
        }
    }

    /// The stop sequence: the VLA worker stops, then hold, torque off when the profile says so, close the
    /// port. Without a link the controller's watchdog stops the motion; that is reported, not retried.
    public func stop(warning: (String) -> Void) {
        actions.shutdown()
        guard actuator.isConnected else { return warning("stop: the link is down; the controller's watchdog stops the motion") }
        do { try stopInner() } catch { warning("stop sequence failed: \(error)") }
    }

    /// The profile's camera: a V4L2 device, or a replay of a folder of frames or a video file.
    static func frameSource(_ profile: BoardProfile, maxImagePixels: Int, info: (String) -> Void) throws -> FrameSource {
        let c = profile.camera
        switch c.source {
        case .v4l2:
            do {
                let cam = try V4L2Camera(device: c.device!, width: c.width, height: c.height, fps: c.fps, pixelFormat: c.pixelFormat, buffers: c.buffers)
                info("camera \(c.device!): granted \(cam.format.width)x\(cam.format.height) \(cam.format.nativeFourCC) @\(cam.format.fps) (asked \(c.width)x\(c.height) \(c.pixelFormat) @\(c.fps))")
                cam.start()
                return cam
            } catch let e as CameraError {
                throw RuntimeError.runtime(e.description)
            }
        case .replay:
            return try replaySource(profile, maxImagePixels: maxImagePixels, info: info)
        case .sim:
            throw RuntimeError.invalidInput("\(profile.file): camera sim needs bridge sim")
        }
    }

    /// A replay camera over a folder of PNG/JPEG frames or a video file (field recordings).
    static func replaySource(_ profile: BoardProfile, maxImagePixels: Int, info: (String) -> Void) throws -> ReplaySource {
        let path = profile.camera.path!, fps = Double(profile.camera.fps)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw RuntimeError.invalidInput("\(profile.file): camera.path \(path): no such file or folder")
        }
        if isDir.boolValue {
            do { return try ReplaySource(directory: path, fps: fps) { try ImageFile.read($0, maxPixels: maxImagePixels) } } catch {
                throw RuntimeError.invalidInput("\(profile.file): camera.path \(path): no PNG/JPEG frames")
            }
        }
        let video: VideoFile
        do { video = try VideoFile(path: path, maxPixels: maxImagePixels) } catch let e as ModelError {
            throw RuntimeError.invalidInput("\(profile.file): camera.path: \(e)")
        }
        info("replaying \(path): \(video.width)x\(video.height) at \(fps) fps (file says \(String(format: "%.1f", video.fps)))")
        return ReplaySource(fps: fps) { try video.frame($0) }
    }
}
