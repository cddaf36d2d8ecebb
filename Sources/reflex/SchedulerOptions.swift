import ArgumentParser
import Foundation
import ReflexCore

extension SchedulerSettings.Policy: ExpressibleByArgument {}
extension SchedulerSettings.MotionTest: ExpressibleByArgument {}

/// The scheduler's flags, shared by the commands that run the loop in the simulator (`eval`): the same
/// names and defaults as the profile's `acceleration.scheduler` keys.
struct SchedulerOptions: ParsableArguments {
    @Option(help: "Scheduler: none (every acting tick runs the VLA), spvla (SP-VLA's gate may hand a tick to its extrapolator, as released) or smith (the newest VLA action corrected for the motion since its frame; in async also each late VLA result).")
    var scheduler: SchedulerSettings.Policy = SchedulerSettings().policy

    @Option(help: "Executed actions the scheduler remembers (n).")
    var buffer: Int = SchedulerSettings().buffer

    @Option(help: "Freshness: least share of VLA actions in the buffer for the generator to act (released: 4 of 6).")
    var tau: Double = SchedulerSettings().tau

    @Option(name: .customLong("motion-test"), help: "planar (released code: |z|/max(|x|,|y|) < z-xy-ratio, |z| < z-max) or speed (paper: every axis within [v-min, v-max]).")
    var motionTest: SchedulerSettings.MotionTest = SchedulerSettings().motionTest

    @Option(name: .customLong("step-skip"), help: "How many of the newest actions the motion test checks.")
    var stepSkip: Int = SchedulerSettings().stepSkip

    @Option(name: .customLong("z-xy-ratio"), help: "planar motion test: largest |z| / max(|x|, |y|).")
    var zXYRatio: Double = SchedulerSettings().zXYRatio

    @Option(name: .customLong("z-max"), help: "planar motion test: largest |z| (normalized units).")
    var zMax: Double = SchedulerSettings().zMax

    @Option(name: .customLong("v-min"), help: "speed motion test: least per-axis speed (normalized units).")
    var vMin: Double = SchedulerSettings().vMin

    @Option(name: .customLong("v-max"), help: "speed motion test: largest per-axis speed (normalized units).")
    var vMax: Double = SchedulerSettings().vMax

    @Option(help: "smith: the policy's proportional gain in normalized units (0 repeats the VLA action uncorrected).")
    var gain: Double = SchedulerSettings().gain

    @Option(name: .customLong("max-generated"), help: "smith in sync mode: generated steps allowed after each VLA step.")
    var maxGenerated: Int = SchedulerSettings().maxGenerated

    @Option(name: .customLong("saturation-factor"), help: "smith: a saturated action bounds the error from below; assume this many times that bound (1 never overshoots).")
    var saturationFactor: Double = SchedulerSettings().saturationFactor

    @Option(name: .customLong("transit-only"), help: "smith in sync mode: generate only after a VLA action at top speed (true) or after any (false).")
    var transitOnly: Bool = SchedulerSettings().transitOnly

    var settings: SchedulerSettings {
        SchedulerSettings(policy: scheduler, buffer: buffer, tau: tau, motionTest: motionTest, stepSkip: stepSkip,
                          zXYRatio: zXYRatio, zMax: zMax, vMin: vMin, vMax: vMax, gain: gain, maxGenerated: maxGenerated, saturationFactor: saturationFactor,
                          transitOnly: transitOnly)
    }

    func validate() throws {
        if let p = settings.problem { throw ValidationError("--\(p.key.replacingOccurrences(of: "_", with: "-")): \(p.message)") }
    }
}
