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
}
