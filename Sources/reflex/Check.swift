import ArgumentParser
import Foundation
import ReflexCore
import ReflexIO
import ReflexModels

/// `reflex check`: validate a board profile, its model and (unless offline) its devices.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a board profile, its model and its devices.",
        discussion: """
            Exit codes: 0 everything checked is good; 2 the profile (or the model it names) is invalid; \
            1 a device or resource check failed (a model folder that does not exist included). The model is \
            loaded and runs one prediction on a synthetic frame; a non-finite output makes it invalid. \
            --offline skips what only exists on the target board: the camera, the serial port, the CPU \
            feature match, and a model at an absolute path that is not installed here.
            """
    )

    @Option(help: "Board profile (YAML, see boards/README.md).")
    var board: String

    @Flag(help: "Skip devices and target-only resources (for checking profiles on a workstation).")
    var offline = false

    @OptionGroup var imageLimit: ImageLimitOptions

    @Flag(help: "Print one JSON object on stdout.")
    var json = false

    struct Item: Encodable {
        var check: String
        var status: String  // ok, skipped, failed
        var detail: String
    }

    func run() throws {
        let profile: BoardProfile
        do {
            profile = try BoardProfile.load(board)
        } catch let e as ProfileError {
            throw CLIError.invalidInput(e.description)
        }
        var items: [Item] = [Item(check: "profile", status: "ok", detail: "\(profile.board.name): \(profile.board.description)")]
        var invalid = false, failed = false
        func add(_ check: String, _ status: String, _ detail: String) {
            items.append(Item(check: check, status: status, detail: detail))
        }

        // CPU
        let host = hostFeatures()
        let missing = profile.cpu.features.filter { !host.contains($0) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        if offline {
            add("cpu", "skipped", "\(profile.cpu.threads) threads, features [\(profile.cpu.features.joined(separator: ", "))] (this host: \(cores) cores, [\(host.sorted().joined(separator: ", "))])")
        } else if !missing.isEmpty {
            failed = true
            add("cpu", "failed", "this CPU lacks \(missing.joined(separator: ", ")) (has \(host.sorted().joined(separator: ", "))): wrong profile for this board?")
        } else {
            add("cpu", "ok", "\(profile.cpu.threads) threads on \(cores) cores" + (profile.cpu.threads > cores ? " (more threads than cores: expect contention)" : ""))
        }

        // Model: loaded, and one prediction on a synthetic frame must give a finite action.
        let modelPath = profile.model.path
        if !FileManager.default.fileExists(atPath: modelPath + "/config.json") {
            if offline && profile.model.declaredPath.hasPrefix("/") {  // a board's install location, checked on the board
                add("model", "skipped", "\(modelPath) is not installed here (install it on the board)")
            } else {
                failed = true
                add("model", "failed", "\(modelPath)/config.json not found" + (profile.model.declaredPath.hasPrefix("/") ? "" : " (a relative model.path is relative to the profile's folder)"))
            }
        } else {
            do {
                let precision: Precision = profile.model.quantization == "int8" ? .int8 : .fp32
                let loader = try OpenVLALoader(directory: modelPath, precision: precision)
                let stats = try loader.config.statistics(unnormKey: profile.model.unnormKey, path: modelPath + "/config.json")
                let bytes = loader.weights.shards.values.reduce(0) { $0 + $1.tensors.values.reduce(0) { $0 + $1.byteRange.count } }
                let resident = loader.precision == .int8 && !loader.isQuantizedCheckpoint ? bytes / 4 : bytes
                let mb = Double(resident) / 1_048_576
                if mb > Double(profile.board.memoryMB) * 0.75 {
                    failed = true
                    add("model", "failed", String(format: "%@: weights need ~%.0f MB resident, more than 75%% of the board's %d MB", modelPath, mb, profile.board.memoryMB))
                } else {
                    let policy = try VLAPolicy(directory: modelPath, precision: precision, unnormKey: profile.model.unnormKey,
                                               options: VLAPolicy.Options(pruning: profile.acceleration.pruning))
                    let step = try policy.act(try BenchModel.syntheticFrame(), instruction: profile.model.instruction ?? "pick up the block")
                    guard step.action.allSatisfy(\.isFinite) else {
                        throw PolicyError.nonFiniteLogits(step: 0)
                    }
                    add("model", "ok", String(format: "%@: %@, %@, ~%.0f MB resident of %d MB%@; one prediction on a synthetic frame in %.0f ms", modelPath,
                                              loader.config.textConfig.modelType, loader.precision.rawValue, mb, profile.board.memoryMB,
                                              stats == nil ? ", no norm_stats" : "", step.timings.total))
                    // The prediction is a first latency figure: say what it means for the scheduler's settings (a
                    // second, warm prediction when the first, cold one is over a limit).
                    let sched = profile.acceleration.scheduler
                    var ms = step.timings.total
                    if ms > min(profile.control.frameBudgetMs, sched.maxActionAgeMs) {
                        ms = try policy.act(try BenchModel.syntheticFrame(), instruction: profile.model.instruction ?? "pick up the block").timings.total
                    }
                    if sched.mode == .sync && ms > profile.control.frameBudgetMs {
                        add("latency", "warning", String(format: "sync mode: a warm prediction took %.0f ms, over control.frame_budget_ms %.0f: every VLA tick would hold (use acceleration.scheduler.mode: async)", ms, profile.control.frameBudgetMs))
                    } else if sched.mode == .async && ms > sched.maxActionAgeMs {
                        add("latency", "warning", String(format: "async mode: a warm prediction took %.0f ms, over max_action_age_ms %.0f: no VLA result would ever be applied", ms, sched.maxActionAgeMs))
                    }
                }
            } catch let e as PolicyError {
                invalid = true
                add("model", "failed", "\(modelPath): \(e)")
            } catch let e as ModelError {
                invalid = true
                add("model", "failed", "\(e)")
            } catch {
                invalid = true
                add("model", "failed", "\(modelPath): \(error)")
            }
        }

        // Camera
        switch profile.camera.source {
        case .sim:
            add("camera", "ok", "simulator frames \(profile.camera.width)×\(profile.camera.height)")
        case .replay:
            let path = profile.camera.path ?? ""
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
                do {
                    let v = try VideoFile(path: path, maxPixels: imageLimit.limit)
                    _ = try v.frame(0)
                    add("camera", "ok", "replay of video \(path): \(v.width)x\(v.height), \(v.frameCount.map(String.init) ?? "?") frames")
                } catch {
                    failed = true
                    add("camera", "failed", "\(error)")
                }
            } else {
                let frames = ReplaySource.imageFiles(in: path)
                if frames.isEmpty { failed = true; add("camera", "failed", "replay folder \(path) has no PNG/JPEG frames") }
                else {
                    do {
                        let first = try ImageFile.read(frames[0], maxPixels: imageLimit.limit)
                        add("camera", "ok", "replay of \(frames.count) frames from \(path) (first: \(first.width)x\(first.height))")
                    } catch {
                        failed = true
                        add("camera", "failed", "\(error)")
                    }
                }
            }
        case .v4l2:
            let dev = profile.camera.device ?? ""
            if offline {
                add("camera", "skipped", "\(dev) \(profile.camera.width)×\(profile.camera.height)@\(profile.camera.fps) \(profile.camera.pixelFormat)")
            } else {
                let c = profile.camera
                do {
                    let cam = try V4L2Camera(device: dev, width: c.width, height: c.height, fps: c.fps, pixelFormat: c.pixelFormat, buffers: c.buffers)
                    let g = cam.format
                    add("camera", "ok", "\(dev): granted \(g.width)x\(g.height) \(g.nativeFourCC) @\(String(format: "%.1f", g.fps)) (asked \(c.width)x\(c.height) \(c.pixelFormat) @\(c.fps))")
                } catch {
                    failed = true
                    add("camera", "failed", "\(error)")
                }
            }
        }

        // Bridge
        switch profile.bridge.protocol {
        case .sim:
            add("bridge", "ok", "simulator")
        case .reflex, .feetech:
            let port = profile.bridge.port ?? ""
            if offline {
                add("bridge", "skipped", "\(profile.bridge.protocol.rawValue) on \(port) at \(profile.bridge.baud) baud")
            } else {
                do {
                    _ = try SerialPort(path: port, baud: profile.bridge.baud)
                    add("bridge", "ok", "\(port) opens at \(profile.bridge.baud) baud")
                } catch {
                    failed = true
                    add("bridge", "failed", "\(error)")
                }
            }
        }

        let status = invalid ? 2 : (failed ? 1 : 0)
        if json {
            struct Out: Encodable { var board: String; var ok: Bool; var checks: [Item] }
            try printJSON(Out(board: board, ok: status == 0, checks: items))
        } else {
            for i in items {
                let mark = i.status == "ok" ? "ok     " : (i.status == "skipped" ? "skipped" : (i.status == "warning" ? "WARNING" : "FAILED "))
                print("\(mark) \(i.check.padding(toLength: 8, withPad: " ", startingAt: 0)) \(i.detail)")
            }
            print(status == 0 ? "\(board): all checks passed" + (offline ? " (offline)" : "") : "\(board): problems found")
        }
        if status != 0 { throw ExitCode(Int32(status)) }
    }

    /// The CPU features a profile can name that this CPU has.
    func hostFeatures() -> Set<String> {
        var s = Set<String>()
        for isa in KernelISA.supported where isa != .scalar { s.insert(isa.description) }
        return s
    }

}
