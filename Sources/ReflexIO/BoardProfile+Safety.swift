import ReflexCore

extension BoardProfile {
    /// The safety stage's limits in this robot's command space: cartesian → (x, y, z, gripper);
    /// joints → (joint 1…n in servo units, gripper command 0…1).
    public func safetyLimits() throws -> SafetyStage.Limits {
        let r = robot
        switch r.kind {
        case .cartesian:
            return try SafetyStage.Limits(lower: r.workspaceMin.map(Float.init) + [0], upper: r.workspaceMax.map(Float.init) + [1],
                                          maxStep: r.maxStep.map(Float.init) + [Float(r.gripperMaxRate)])
        case .joints:
            return try SafetyStage.Limits(lower: r.joints.map { Float($0.min) } + [0], upper: r.joints.map { Float($0.max) } + [1],
                                          maxStep: r.joints.map { Float($0.maxStep) } + [Float(r.gripperMaxRate)])
        }
    }
}
