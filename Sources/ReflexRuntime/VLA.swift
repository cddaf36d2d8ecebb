import ReflexCore
import ReflexIO
import ReflexModels

/// One VLA inference as the runtime sees it: an image in, a 7-D action out (robot units and the model's
/// normalized units).
///
/// Contract: `infer` blocks for the whole inference and may be called from any one thread at a time
/// (the control loop's in `sync` mode, the VLA worker's in `async` mode), never concurrently.
public protocol VLA: AnyObject {
    /// One action for a frame (its image, and what the source knows of it, e.g. the end effector's position).
    func infer(_ frame: CameraFrame) throws -> VLAOutput
}

/// A VLA told what to do in words: the simulated episodes set each episode's instruction.
public protocol InstructableVLA: VLA {
    var instruction: String { get set }
}

/// What one inference produced.
public struct VLAOutput: Sendable {
    /// Robot units (after un-normalization).
    public var action: [Float]
    /// The model's normalized units ([-1, 1]).
    public var normalized: [Float]
    /// Inference time, seconds.
    public var seconds: Double

    public init(action: [Float], normalized: [Float], seconds: Double) {
        self.action = action
        self.normalized = normalized
        self.seconds = seconds
    }
}

/// A loaded checkpoint with the instruction it acts on.
public final class InstructedPolicy: InstructableVLA {
    public let policy: VLAPolicy
    /// The task (a robot board's `model.instruction`, or each simulated episode's). Setting it starts an
    /// episode: nothing of the previous one conditions the next step.
    public var instruction: String { didSet { policy.reset() } }
    /// Patches the language model read, summed over inferences, and the inferences counted (for eval's
    /// `mean_kept_patches`); `totalPatches` per inference.
    public private(set) var keptPatchesSum = 0
    public private(set) var inferences = 0
    public private(set) var totalPatches = 0

    public init(_ policy: VLAPolicy, instruction: String) {
        self.policy = policy
        self.instruction = instruction
    }

    public func infer(_ frame: CameraFrame) throws -> VLAOutput {
        let step = try policy.act(frame.image, instruction: instruction, endEffector: frame.endEffector)
        keptPatchesSum += step.keptPatches.count
        inferences += 1
        totalPatches = step.totalPatches
        return VLAOutput(action: step.action, normalized: step.normalizedAction, seconds: step.timings.total / 1000)
    }
}

extension ActionSlot {
    /// A VLA result into the slot. Element-wise when the sizes match, so the slot keeps its own storage and a
    /// later element-wise write (a generator step) never copies it.
    mutating func fill(with out: VLAOutput, frameTimestamp: Double) {
        func copy(_ values: [Float], into target: inout [Float]) {
            if target.count == values.count {
                for i in values.indices { target[i] = values[i] }
            } else {
                target = values
            }
        }
        copy(out.action, into: &action)
        copy(out.normalized, into: &normalized)
        self.frameTimestamp = frameTimestamp
        computeSeconds = out.seconds
    }
}
