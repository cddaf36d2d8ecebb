import Foundation
import ReflexCore

/// A board profile: everything `reflex run` needs to drive one robot from one board, in one YAML
/// file. Schema and examples: boards/README.md. Parsing is strict (unknown keys, wrong types and
/// out-of-range values are errors naming file, key path and line); any scalar can be overridden
/// by an environment variable named after its key path (`camera.device` → `REFLEX_CAMERA_DEVICE`).
public struct BoardProfile: Sendable {
    /// Which board this is.
    public struct Board: Sendable {
        public var name: String
        public var description: String
        /// RAM available to Reflex (the model's weights must fit, with room for activations).
        public var memoryMB: Int
    }

    /// CPU resources: worker threads and the ISA features the board's cores have (checked against
    /// the running CPU by `reflex check` so a profile for the wrong board is noticed).
    public struct CPU: Sendable { public var threads: Int; public var features: [String] }

    /// Where frames come from.
    public struct Camera: Sendable {
        public enum Source: String, Sendable { case v4l2, replay, sim }
        public var source: Source
        /// V4L2 device node (v4l2) or image folder (replay).
        public var device: String?
        public var path: String?
        public var width: Int
        public var height: Int
        public var fps: Int
        /// FOURCC requested from the driver (YUYV, MJPG, RGB3, …).
        public var pixelFormat: String
        public var buffers: Int
        /// Frames older than this at the start of a tick are rejected (the tick holds).
        public var maxFrameAgeMs: Double
        /// Consecutive bad frames (corrupt, undecodable) after which `run` stops the robot and exits 1.
        public var maxBadFrames: Int = 50
    }

    /// The policy.
    public struct Model: Sendable {
        /// The checkpoint folder, resolved (see `load`).
        public var path: String
        public var unnormKey: String?
        public var instruction: String?
        public var quantization: String
        /// `path` as the profile (or the environment) wrote it: an absolute one names a board's install location.
        public var declaredPath: String = ""
    }

    /// The control loop's timing.
    public struct Control: Sendable {
        public var rateHz: Double
        /// Inference that would not finish within this budget makes the tick hold.
        public var frameBudgetMs: Double
    }

    /// Token pruning and scheduling parameters.
    public struct Acceleration: Sendable {
        /// Visual-token pruning (`acceleration.pruning`).
        public var pruning: PruningSettings
        public var scheduler: Scheduler
    }

    /// How ticks are served (`acceleration.scheduler`): SP-VLA's gate and generator, and the execution mode.
    public struct Scheduler: Sendable {
        public var mode: ExecutionMode = .sync
        public var settings = SchedulerSettings()
        /// An action computed from a frame older than this when it would be applied is never applied.
        public var maxActionAgeMs: Double = 1000
        public init(mode: ExecutionMode = .sync, settings: SchedulerSettings = SchedulerSettings(), maxActionAgeMs: Double = 1000) {
            self.mode = mode
            self.settings = settings
            self.maxActionAgeMs = maxActionAgeMs
        }
    }

    /// The link to the motors.
    public struct Bridge: Sendable {
        public enum WireProtocol: String, Sendable { case reflex, feetech, sim }
        public var `protocol`: WireProtocol
        public var port: String?
        public var baud: Int
        public var heartbeatMs: Int
        public var watchdogMs: Int
        /// What happens on SIGTERM / fault: keep holding position, or disable torque.
        public var torqueOffOnStop: Bool
    }

    /// One servo-driven joint of a joint-space robot.
    public struct Joint: Sendable {
        public var name: String
        public var servoID: Int
        /// Servo units (0…4095 per turn on STS3215).
        public var min: Double
        public var max: Double
        public var home: Double
        /// Servo units per unit of the model's action component (e.g. ticks per radian).
        public var unitsPerAction: Double
        /// Largest change per tick, servo units.
        public var maxStep: Double
    }

    /// The arm, its limits, and how the model's 7-D action maps onto commands.
    public struct Robot: Sendable {
        public enum Kind: String, Sendable { case cartesian, joints }
        public var kind: Kind
        public var actionDims: Int
        /// cartesian: end-effector workspace box and per-axis step limit.
        public var workspaceMin: [Double]
        public var workspaceMax: [Double]
        public var maxStep: [Double]
        /// joints: one entry per action component used (in order), before the gripper.
        public var joints: [Joint]
        public var gripperServoID: Int?
        /// Gripper command (0 closed … 1 open) in servo units, and its rate limit per tick (command units).
        public var gripperOpen: Double
        public var gripperClosed: Double
        public var gripperMaxRate: Double

        public init(kind: Kind, actionDims: Int = 7, workspaceMin: [Double] = [], workspaceMax: [Double] = [], maxStep: [Double] = [],
                    joints: [Joint] = [], gripperServoID: Int? = nil, gripperOpen: Double = 1, gripperClosed: Double = 0,
                    gripperMaxRate: Double = 1) {
            self.kind = kind
            self.actionDims = actionDims
            self.workspaceMin = workspaceMin
            self.workspaceMax = workspaceMax
            self.maxStep = maxStep
            self.joints = joints
            self.gripperServoID = gripperServoID
            self.gripperOpen = gripperOpen
            self.gripperClosed = gripperClosed
            self.gripperMaxRate = gripperMaxRate
        }
    }

    /// The simulated board's episodes.
    public struct Simulation: Sendable {
        public var tasks: [String]
        public var episodes: Int
        public var seed: UInt64
        public var recordDirectory: String?
    }

    public var file: String
    public var board: Board
    public var cpu: CPU
    public var camera: Camera
    public var model: Model
    public var control: Control
    public var acceleration: Acceleration
    public var bridge: Bridge
    public var robot: Robot
    public var simulation: Simulation?

    /// Task names a sim profile may list (kept in sync with ReflexSim's families by a test).
    public static let simTasks = ["pick_place", "push", "reach"]
    public static let cpuFeatures = ["neon", "dotprod", "i8mm", "avx2", "avx512vnni"]
}
