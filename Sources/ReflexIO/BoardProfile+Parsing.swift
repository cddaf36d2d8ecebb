import Foundation
import ReflexCore
import Yams

/// Reading a profile: strict YAML, every value range-checked where it is read, errors naming file, line
/// and key path (schema: boards/README.md).
extension BoardProfile {
    /// Reads and validates `path`. Relative input paths in the file (`model.path`, a replay
    /// `camera.path`) are resolved against the profile's own folder, so a profile means the same
    /// thing from any working directory; output paths (`simulation.record`) and values from the
    /// environment are relative to the working directory.
    public static func load(_ path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> BoardProfile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProfileError(file: path, keyPath: "", line: nil, message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ProfileError(file: path, keyPath: "", line: nil, message: "not UTF-8 text")
        }
        return try parse(text, file: path, environment: environment)
    }

    /// Parses profile text (`file` is used in error messages).
    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> BoardProfile {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            let (line, problem) = yamlProblem(e, text: text)
            throw ProfileError(file: file, keyPath: "", line: line, message: "not valid YAML: \(problem)")
        }
        let env = environment.filter { $0.key.hasPrefix("REFLEX_") }
        let top = YAMLCursor(node: root, path: [], file: file, environment: env)
        guard root != nil else { throw top.error("the profile is empty") }
        let s = try top.mapping(known: ["board", "cpu", "camera", "model", "control", "acceleration", "bridge", "robot", "simulation"])
        func section(_ key: String, required: Bool = true) throws -> YAMLCursor {
            if let c = s[key] { return c }
            if required { throw top.error("missing section '\(key)'") }
            return YAMLCursor(node: nil, path: [key], file: file, environment: env)
        }

        let bNode = try section("board")
        let b = try bNode.mapping(known: ["name", "description", "memory_mb"])
        let board = Board(name: try req(b, "name", bNode).string(), description: try b["description"]?.string() ?? "",
                          memoryMB: try req(b, "memory_mb", bNode).int(64...1_048_576))

        let c = try section("cpu").mapping(known: ["threads", "features"])
        let features = try (c["features"]?.sequence() ?? []).map { try $0.choice(cpuFeatures) }
        let cpu = CPU(threads: try req(c, "threads", top).int(1...256), features: features)

        let camNode = try section("camera")
        let cam = try camNode.mapping(known: ["source", "device", "path", "width", "height", "fps", "pixel_format", "buffers", "max_frame_age_ms", "max_bad_frames"])
        let source = Camera.Source(rawValue: try req(cam, "source", camNode).choice(["v4l2", "replay", "sim"]))!
        var camera = Camera(
            source: source, device: try cam["device"]?.optionalString(), path: try opt(cam, "path", camNode).inputPath(),
            width: try opt(cam, "width", camNode).int(16...8192, default: 640), height: try opt(cam, "height", camNode).int(16...8192, default: 480),
            fps: try opt(cam, "fps", camNode).int(1...240, default: 30),
            pixelFormat: try opt(cam, "pixel_format", camNode).string(default: "YUYV"),
            buffers: try opt(cam, "buffers", camNode).int(2...4, default: 3),
            maxFrameAgeMs: try opt(cam, "max_frame_age_ms", camNode).double(1...10_000, default: 150),
            maxBadFrames: try opt(cam, "max_bad_frames", camNode).int(1...100_000, default: 50))
        if camera.device == nil, source == .v4l2, let d = env["REFLEX_CAMERA_DEVICE"] { camera.device = d }
        guard camera.pixelFormat.utf8.count == 4, camera.pixelFormat.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw opt(cam, "pixel_format", camNode).error("a FOURCC is 4 ASCII characters (YUYV, MJPG, RGB3), got '\(camera.pixelFormat)'")
        }
        if source == .v4l2, camera.device == nil { throw camNode.error("source v4l2 needs 'device' (e.g. /dev/video0)") }
        if source == .replay, camera.path == nil { throw camNode.error("source replay needs 'path' (a folder of PNG/JPEG frames)") }

        let mNode = try section("model")
        let m = try mNode.mapping(known: ["path", "unnorm_key", "instruction", "quantization"])
        var model = Model(path: try req(m, "path", mNode).inputPath()!, unnormKey: try m["unnorm_key"]?.optionalString(),
                          instruction: try m["instruction"]?.optionalString(),
                          quantization: try opt(m, "quantization", mNode).choice(["fp32", "int8"], default: "fp32"))
        model.declaredPath = try req(m, "path", mNode).string()

        let ctlNode = try section("control")
        let ctl = try ctlNode.mapping(known: ["rate_hz", "frame_budget_ms"])
        let rate = try req(ctl, "rate_hz", ctlNode).double(0.1...1000)
        let budget = try opt(ctl, "frame_budget_ms", ctlNode).double(0.1...60_000, default: 1000 / rate)
        guard budget <= 1000 / rate + 1e-9 else {
            throw try req(ctl, "frame_budget_ms", ctlNode).error("\(budget) ms does not fit in one tick at \(rate) Hz (\(1000 / rate) ms)")
        }
        let control = Control(rateHz: rate, frameBudgetMs: budget)

        let accNode = try section("acceleration", required: false)
        let acc = try accNode.mapping(known: ["pruning", "scheduler"])
        let prNode = opt(acc, "pruning", accNode)
        let pruning = try parsePruning(prNode)
        let scNode = opt(acc, "scheduler", accNode)
        let sc = try scNode.mapping(known: ["mode", "policy", "buffer", "tau", "motion_test", "step_skip", "z_xy_ratio", "z_max",
                                            "v_min", "v_max", "gain", "max_generated", "saturation_factor", "transit_only",
                                            "max_action_age_ms"])
        let defaults = SchedulerSettings()
        let settings = SchedulerSettings(
            policy: SchedulerSettings.Policy(rawValue: try opt(sc, "policy", scNode).choice(SchedulerSettings.Policy.allCases.map(\.rawValue), default: "none"))!,
            buffer: try opt(sc, "buffer", scNode).int(2...64, default: defaults.buffer),
            tau: try opt(sc, "tau", scNode).double(0...1, default: defaults.tau),
            motionTest: SchedulerSettings.MotionTest(rawValue: try opt(sc, "motion_test", scNode).choice(["planar", "speed"], default: "planar"))!,
            stepSkip: try opt(sc, "step_skip", scNode).int(1...64, default: defaults.stepSkip),
            zXYRatio: try opt(sc, "z_xy_ratio", scNode).double(0...1000, default: defaults.zXYRatio),
            zMax: try opt(sc, "z_max", scNode).double(0...1000, default: defaults.zMax),
            vMin: try opt(sc, "v_min", scNode).double(0...1000, default: defaults.vMin),
            vMax: try opt(sc, "v_max", scNode).double(0...1000, default: defaults.vMax),
            gain: try opt(sc, "gain", scNode).double(0...2, default: defaults.gain),
            maxGenerated: try opt(sc, "max_generated", scNode).int(0...64, default: defaults.maxGenerated),
            saturationFactor: try opt(sc, "saturation_factor", scNode).double(1...10, default: defaults.saturationFactor),
            transitOnly: try opt(sc, "transit_only", scNode).bool(default: defaults.transitOnly))
        if let p = settings.problem { throw opt(sc, p.key, scNode).error(p.message) }
        let period = 1000 / rate
        let maxActionAge = try opt(sc, "max_action_age_ms", scNode).double(0...600_000, default: max(1000, period))
        guard maxActionAge >= period - 1e-9 else {
            throw opt(sc, "max_action_age_ms", scNode).error("\(maxActionAge) ms is shorter than one control period (\(period) ms at \(rate) Hz): no action could ever be applied")
        }
        let acceleration = Acceleration(
            pruning: pruning,
            scheduler: Scheduler(mode: ExecutionMode(rawValue: try opt(sc, "mode", scNode).choice(["sync", "async"], default: "sync"))!,
                                 settings: settings, maxActionAgeMs: maxActionAge))

        let brNode = try section("bridge")
        let br = try brNode.mapping(known: ["protocol", "port", "baud", "heartbeat_ms", "watchdog_ms", "torque_off_on_stop"])
        let proto = Bridge.WireProtocol(rawValue: try req(br, "protocol", brNode).choice(["reflex", "feetech", "sim"]))!
        let baud = try opt(br, "baud", brNode).int(50...4_000_000, default: 1_000_000)
        guard SerialPort.standardBauds[baud] != nil else {
            throw opt(br, "baud", brNode).error("\(baud) is not a standard baud rate (\(SerialPort.standardBauds.keys.sorted().map(String.init).joined(separator: ", ")))")
        }
        let bridge = Bridge(protocol: proto, port: try br["port"]?.optionalString(), baud: baud,
                            heartbeatMs: try opt(br, "heartbeat_ms", brNode).int(10...10_000, default: 100),
                            watchdogMs: try opt(br, "watchdog_ms", brNode).int(20...60_000, default: 500),
                            torqueOffOnStop: try opt(br, "torque_off_on_stop", brNode).bool(default: false))
        if proto != .sim, bridge.port == nil { throw brNode.error("protocol \(proto.rawValue) needs 'port' (e.g. /dev/ttyACM0)") }
        guard bridge.heartbeatMs < bridge.watchdogMs else {
            throw try req(br, "heartbeat_ms", brNode).error("\(bridge.heartbeatMs) ms must be shorter than watchdog_ms (\(bridge.watchdogMs) ms)")
        }

        let robot = try parseRobot(try section("robot"))
        if proto == .sim, robot.kind != .cartesian { throw try section("robot").error("the sim bridge drives a cartesian robot (kind: cartesian)") }
        if proto != .sim, robot.kind != .joints { throw try section("robot").error("protocol \(proto.rawValue) drives servos: kind must be joints") }
        if (source == .sim) != (proto == .sim) {
            throw brNode.error("camera source sim and bridge protocol sim go together (the simulator is both camera and robot)")
        }

        var simulation: Simulation?
        if let simNode = s["simulation"] {
            let sm = try simNode.mapping(known: ["tasks", "episodes", "seed", "record"])
            let tasks = try (sm["tasks"]?.sequence(count: 1...16) ?? []).map { try $0.choice(simTasks) }
            simulation = Simulation(tasks: tasks.isEmpty ? simTasks : tasks,
                                    episodes: try opt(sm, "episodes", simNode).int(1...100_000, default: 3),
                                    seed: UInt64(try opt(sm, "seed", simNode).int(0...Int(Int32.max), default: 1_000_000)),
                                    recordDirectory: try sm["record"]?.optionalString())
        } else if source == .sim {
            throw top.error("a sim profile needs a 'simulation' section (tasks, episodes, seed, record)")
        }
        return BoardProfile(file: file, board: board, cpu: cpu, camera: camera, model: model, control: control,
                            acceleration: acceleration, bridge: bridge, robot: robot, simulation: simulation)
    }

    /// `acceleration.pruning`: method, θ (fixed or speed-adaptive) and the attention block.
    static func parsePruning(_ node: YAMLCursor) throws -> PruningSettings {
        let pr = try node.mapping(known: ["method", "theta", "adaptive", "attention_block", "positions", "keep", "layer", "ee_radius",
                                          "coverage", "vit_blocks", "enabled", "keep_tokens"])
        for old in ["enabled", "keep_tokens"] where pr[old] != nil {
            throw pr[old]!.error("replaced by 'method' (none, edges, attention, spvla, sqap) and 'theta' or 'keep' (see boards/README.md)")
        }
        let defaults = PruningSettings()
        var settings = PruningSettings(
            method: PruneMethod(rawValue: try opt(pr, "method", node).choice(PruneMethod.allCases.map(\.rawValue), default: defaults.method.rawValue))!,
            theta: try opt(pr, "theta", node).double(0...1, default: defaults.theta),
            attentionBlock: AttentionBlock(rawValue: try opt(pr, "attention_block", node).choice(AttentionBlock.allCases.map(\.rawValue), default: defaults.attentionBlock.rawValue))!,
            positions: TokenPositions(rawValue: try opt(pr, "positions", node).choice(TokenPositions.allCases.map(\.rawValue), default: defaults.positions.rawValue))!,
            keep: try opt(pr, "keep", node).double(0...1, default: defaults.keep),
            layer: try opt(pr, "layer", node).int(1...1024, default: defaults.layer),
            eeRadius: try opt(pr, "ee_radius", node).double(0...1000, default: defaults.eeRadius),
            coverage: try opt(pr, "coverage", node).double(0...1, default: defaults.coverage),
            vitBlocks: try opt(pr, "vit_blocks", node).int(0...1024, default: defaults.vitBlocks))
        var ad: [String: YAMLCursor] = [:]
        if let adNode = pr["adaptive"] {
            ad = try adNode.mapping(known: ["z_thre", "z_min"])
            let d = AdaptiveTheta()
            settings.adaptive = AdaptiveTheta(zThreshold: try opt(ad, "z_thre", adNode).double(0...1, default: d.zThreshold),
                                              zMin: try opt(ad, "z_min", adNode).double(0...1, default: d.zMin))
        }
        if let p = settings.problem {
            if p.key.hasPrefix("adaptive."), let adNode = pr["adaptive"] {
                throw opt(ad, String(p.key.dropFirst("adaptive.".count)), adNode).error(p.message)
            }
            throw opt(pr, p.key, node).error(p.message)
        }
        return settings
    }

    static func parseRobot(_ node: YAMLCursor) throws -> Robot {
        let r = try node.mapping(known: ["kind", "action_dims", "workspace_min", "workspace_max", "max_step", "joints", "gripper"])
        let kind = Robot.Kind(rawValue: try req(r, "kind", node).choice(["cartesian", "joints"]))!
        // The model's action: cartesian reads dx, dy, dz (and the gripper as component 7); joints read one
        // component per joint and the gripper last.
        let dims = try opt(r, "action_dims", node).int(kind == .cartesian ? 3...32 : 2...32, default: 7)
        var robot = Robot(kind: kind, actionDims: dims, workspaceMin: [], workspaceMax: [], maxStep: [], joints: [],
                          gripperServoID: nil, gripperOpen: 1, gripperClosed: 0, gripperMaxRate: 1)
        let g = try opt(r, "gripper", node).mapping(known: ["servo_id", "open", "closed", "max_rate"])
        robot.gripperOpen = try opt(g, "open", node).double(-1e6...1e6, default: 1)
        robot.gripperClosed = try opt(g, "closed", node).double(-1e6...1e6, default: 0)
        robot.gripperMaxRate = try opt(g, "max_rate", node).double(0...1, default: 1)
        robot.gripperServoID = try g["servo_id"].map { try $0.int(0...253) }
        switch kind {
        case .cartesian:
            robot.workspaceMin = try req(r, "workspace_min", node).doubles(count: 3...3, range: -100...100)
            robot.workspaceMax = try req(r, "workspace_max", node).doubles(count: 3...3, range: -100...100)
            robot.maxStep = try req(r, "max_step", node).doubles(count: 3...3, range: 0...100)
            for i in 0..<3 where robot.workspaceMin[i] >= robot.workspaceMax[i] {
                throw try req(r, "workspace_max", node).error("axis \(i): max \(robot.workspaceMax[i]) must exceed min \(robot.workspaceMin[i])")
            }
        case .joints:
            let items = try req(r, "joints", node).sequence(count: 1...(dims - 1))
            var ids = Set<Int>()
            for item in items {
                let j = try item.mapping(known: ["name", "servo_id", "min", "max", "home", "units_per_action", "max_step"])
                let joint = Joint(name: try req(j, "name", item).string(), servoID: try req(j, "servo_id", item).int(0...253),
                                  min: try req(j, "min", item).double(0...4095), max: try req(j, "max", item).double(0...4095),
                                  home: try req(j, "home", item).double(0...4095),
                                  unitsPerAction: try req(j, "units_per_action", item).double(-1e6...1e6),
                                  maxStep: try req(j, "max_step", item).double(0...4095))
                guard joint.min < joint.max else { throw try req(j, "max", item).error("max \(joint.max) must exceed min \(joint.min)") }
                guard (joint.min...joint.max).contains(joint.home) else {
                    throw try req(j, "home", item).error("home \(joint.home) lies outside min…max (\(joint.min)…\(joint.max))")
                }
                guard ids.insert(joint.servoID).inserted else { throw try req(j, "servo_id", item).error("servo ID \(joint.servoID) is used twice") }
                robot.joints.append(joint)
            }
            if let gid = robot.gripperServoID, ids.contains(gid) {
                throw try req(g, "servo_id", node).error("servo ID \(gid) is also a joint")
            }
            if robot.gripperServoID != nil {
                for (k, v) in [("open", robot.gripperOpen), ("closed", robot.gripperClosed)] where !(0...4095).contains(v) {
                    throw try req(g, k, node).error("\(v) is not a servo position (0…4095)")
                }
            }
        }
        return robot
    }
}

private func req(_ m: [String: YAMLCursor], _ key: String, _ parent: YAMLCursor) throws -> YAMLCursor {
    if let c = m[key] { return c }
    if parent.environment[parent.environmentName + "_" + key.uppercased()] != nil { return opt(m, key, parent) }
    throw parent.error("missing key '\(key)'")
}

private func opt(_ m: [String: YAMLCursor], _ key: String, _ parent: YAMLCursor) -> YAMLCursor {
    m[key] ?? YAMLCursor(node: nil, path: parent.path + [key], file: parent.file, environment: parent.environment)
}

/// A YAML error as one line and its location: Yams's descriptions quote the document (a duplicate key's
/// quotes the whole mapping), which is noise in an error message.
func yamlProblem(_ e: YamlError, text: String) -> (line: Int?, message: String) {
    switch e {
    case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
        return (mark.line, problem + (context.map { " (\($0.text))" } ?? ""))
    case let .reader(problem, _, _, _):
        return (nil, problem)
    case let .duplicatedKeysInMapping(duplicates, context):
        // The line of the key's last occurrence (the duplicate) inside the mapping.
        let key = duplicates.sorted().first ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let last = lines.indices.last { i in
            i + 1 >= context.mark.line && lines[i].drop { $0 == " " }.hasPrefix(key + ":")
        }
        return (last.map { $0 + 1 } ?? context.mark.line,
                "duplicate key \(duplicates.sorted().map { "'\($0)'" }.joined(separator: ", "))")
    default:
        return (nil, "\(e)")
    }
}
