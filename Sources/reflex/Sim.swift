import ArgumentParser
import Foundation
import ReflexCore
import ReflexIO
import ReflexModels
import ReflexRuntime
import ReflexSim

/// `reflex sim …`: the tabletop simulator's own tools.
struct Sim: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tabletop simulator tools: record expert demonstrations, render scenes.",
        discussion: "Task families: \(TaskFamily.allCases.map(\.rawValue).joined(separator: ", ")). Format: docs/demonstrations.md.",
        subcommands: [SimRecord.self, SimRender.self]
    )
}

extension TaskFamily: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

/// Parses `--task NAME|all`.
func taskFamilies(_ name: String) throws -> [TaskFamily] {
    if name == "all" { return TaskFamily.allCases }
    guard let f = TaskFamily(name: name) else {
        throw ValidationError("--task: unknown task '\(name)' (known: \(TaskFamily.allCases.map(\.rawValue).joined(separator: ", ")), all)")
    }
    return [f]
}

/// `reflex sim record`: expert demonstrations in the documented `.npy` + JSON layout.
struct SimRecord: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record scripted-expert demonstrations (frames, instruction, actions).",
        discussion: """
            Writes DIR/manifest.json and one folder per episode with frames.npy (uint8 [T,224,224,3]), \
            actions.npy (float32 [T,7], the expert's label per frame), executed.npy (float32 [T,7], what was \
            applied: label + noise), states.npy (float32 [T,8]), objects.npy (float32 [T,6,6]: every object's x, y, shape, colour, held, \
            is-target) and episode.json. See docs/demonstrations.md.
            Episode seeds are S, S+1, …, S+N−1 per task. `reflex eval` defaults to seeds from 1000000 on, so \
            keep training seeds below that.
            With --policy DIR the policy drives (each frame through the runtime: preprocess → model → \
            action decoding; the simulator applies the same workspace and step clamps as the safety stage) \
            and the expert labels every frame it sees (DAgger). Those episodes are all kept, failed or not: \
            the labels stay valid, and the policy's failures are the states worth labelling.
            """
    )

    @Option(help: "Task family (pick_place, push, reach) or all.")
    var task: String

    @Option(help: "Episodes per task family.")
    var episodes: Int

    @Option(help: "First episode seed.")
    var seed: UInt64 = 0

    @Option(help: "Output directory (created; must not contain a manifest already).")
    var out: String

    @Option(help: "Std-dev of Gaussian noise added to the executed position deltas (DART); labels stay clean.")
    var noise: Float = 0

    @Flag(help: "Keep failed expert episodes (dropped by default).")
    var keepFailures = false

    @Option(help: "A trained policy that drives while the expert labels (DAgger); default: the expert drives.")
    var policy: String?

    @Option(help: "Graspable objects per scene, 1…4 (default: 3 or 4, as in eval) — a curriculum knob for training data.")
    var objects: Int?

    func validate() throws {
        _ = try taskFamilies(task)
        guard episodes > 0 else { throw ValidationError("--episodes must be positive, got \(episodes)") }
        try validateSeeds(seed, episodes)
        guard noise >= 0, noise.isFinite else { throw ValidationError("--noise must be ≥ 0, got \(noise)") }
        if let objects, !(1...4).contains(objects) { throw ValidationError("--objects must be 1…4, got \(objects)") }
    }

    func run() throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: out + "/manifest.json") {
            throw CLIError.invalidInput("\(out)/manifest.json exists: choose an empty --out directory")
        }
        // The policy loads before anything is written: a bad --policy leaves no empty --out behind.
        let actor: ((RGBImage, TabletopSim) throws -> [Float])? = try policy.map { dir in
            let vla = InstructedPolicy(try loadSimPolicy(dir, precision: .fp32), instruction: "")
            return { image, sim in
                vla.instruction = sim.task.instruction
                return try vla.infer(CameraFrame(image: image, timestamp: 0, sequence: 0)).action
            }
        }
        let driver = policy == nil ? "expert" : "policy"
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        var entries: [[String: Any]] = []
        var frames = 0, failures = 0
        let t0 = monotonicNanos()
        for family in try taskFamilies(task) {
            for i in 0..<episodes {
                let s = seed + UInt64(i)
                let demo = try Demonstration.record(family: family, seed: s, noise: noise, objects: objects, actor: actor)
                if !demo.success {
                    failures += 1
                    if !keepFailures && policy == nil { continue }
                }
                let dir = "\(family.rawValue)_\(s)"
                try write(demo, to: out + "/" + dir)
                frames += demo.frames.count
                entries.append(["dir": dir, "task": family.rawValue, "seed": s, "instruction": demo.instruction,
                                "steps": demo.frames.count, "success": demo.success])
                if entries.count % 50 == 0 {
                    log.info("recorded \(entries.count) episodes, \(frames) frames, \(failures) failures (\(String(format: "%.1f", Double(monotonicNanos() - t0) / 1e9)) s)")
                }
            }
        }
        let manifest: [String: Any] = [
            "format": "reflex-sim-demonstrations/1", "image_size": [Renderer.size, Renderer.size],
            "action_convention": "dx dy dz droll dpitch dyaw gripper (1 open, 0 closed); table units",
            "noise": noise, "objects_per_scene": objects.map { "\($0)" } ?? "3-4", "episodes": entries, "frames": frames,
            "driver": policy.map { "policy \($0)" } ?? "expert", "\(driver)_failures": failures,
        ]
        let data = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: out + "/manifest.json"))
        log.info("wrote \(entries.count) episodes (\(frames) frames, \(failures) \(driver) failures) to \(out)")
    }

    func write(_ demo: Demonstration, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let t = demo.frames.count
        func save(_ bytes: [UInt8], _ name: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        try save(NPY.encode(uint8: demo.frames.flatMap(\.pixels), shape: [t, Renderer.size, Renderer.size, 3]), "frames.npy")
        try save(NPY.encode(float32: demo.actions.flatMap { $0 }, shape: [t, 7]), "actions.npy")
        try save(NPY.encode(float32: demo.executed.flatMap { $0 }, shape: [t, 7]), "executed.npy")
        try save(NPY.encode(float32: demo.states.flatMap { $0 }, shape: [t, 8]), "states.npy")
        try save(NPY.encode(float32: demo.objects.flatMap { $0 }, shape: [t, TabletopSim.maxObjects, 6]), "objects.npy")
        let meta: [String: Any] = ["task": demo.family.rawValue, "seed": demo.seed, "instruction": demo.instruction,
                                   "steps": t, "success": demo.success]
        try JSONSerialization.data(withJSONObject: meta, options: [.sortedKeys]).write(to: URL(fileURLWithPath: dir + "/episode.json"))
    }
}

/// `reflex sim render`: one scene (and optionally its expert rollout) as PNG files.
struct SimRender: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render an episode's first frame (or every expert frame with --rollout) to PNG."
    )

    @Option(help: "Task family (pick_place, push, reach).")
    var task: TaskFamily

    @Option(help: "Episode seed.")
    var seed: UInt64 = 0

    @Option(help: "Output directory.")
    var out: String

    @Flag(help: "Run the expert and write every frame.")
    var rollout = false

    func run() throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var sim = TabletopSim(family: task, seed: seed)
        print(sim.task.instruction)
        var i = 0
        repeat {
            try ImageFile.writePNG(sim.render(), to: String(format: "%@/%@_%llu_%03d.png", out, task.rawValue, seed, i))
            if !rollout { break }
            sim.step(Expert.action(for: sim))
            i += 1
        } while !sim.done
        if rollout {
            try ImageFile.writePNG(sim.render(), to: String(format: "%@/%@_%llu_%03d.png", out, task.rawValue, seed, i))
            print("steps \(sim.steps), success \(sim.success)")
        }
    }
}
