import Testing
@testable import ReflexCore

/// The semantic set's cut, SP-VLA's speed-adaptive θ and the settings' checks, on hand-worked numbers.
@Suite struct PruningSettingsTests {
    /// count(cumsum < θ) + 1 of the scores sorted descending, returned in original order.
    @Test func semanticSetCutsTheCumulativeScore() {
        let s = AttentionSelector()
        let scores: [Float] = [0.1, 0.4, 0.2, 0.3]  // descending: 1 (0.4), 3 (0.7), 2 (0.9), 0 (1.0)
        #expect(s.semanticSet(scores, theta: 0.5) == [1, 3])
        #expect(s.semanticSet(scores, theta: 0.4) == [1])  // 0.4 is not below 0.4: none below, one kept
        #expect(s.semanticSet(scores, theta: 0.75) == [1, 2, 3])
        #expect(s.semanticSet(scores, theta: 1) == [0, 1, 2, 3])
        #expect(s.semanticSet(scores, theta: 0.01) == [1])  // always at least one
        // Ties keep the lower index first.
        #expect(s.semanticSet([0.25, 0.25, 0.25, 0.25], theta: 0.3) == [0, 1])
    }

    /// θ = 1 below z_thre, then 1 − (min(z, 1) − z_thre) · z_min / (1 − z_thre) on |z| of the previous action.
    @Test func adaptiveThetaFollowsTheReleasedRule() {
        let a = AdaptiveTheta()  // 0.5, 0.9
        #expect(a.theta(previous: nil) == 1)
        #expect(a.theta(previous: [0.9, 0.9, 0.4, 0, 0, 0, 1]) == 1)
        #expect(abs(a.theta(previous: [0, 0, -0.75, 0, 0, 0, 1]) - 0.55) < 1e-6)
        #expect(abs(a.theta(previous: [0, 0, 1, 0, 0, 0, 1]) - 0.1) < 1e-9)
        #expect(abs(a.theta(previous: [0, 0, 3, 0, 0, 0, 1]) - 0.1) < 1e-9)  // |z| is capped at 1
        #expect(abs(AdaptiveTheta(zThreshold: 0.3, zMin: 0.7).theta(previous: [0, 0, 0.65, 0, 0, 0, 0]) - 0.65) < 1e-6)  // 1 − 0.35 · 0.7 / 0.7
        let selector = AttentionSelector(theta: 0.2, adaptive: a)
        #expect(selector.threshold(SelectionContext(previousAction: nil)) == 1)
        #expect(abs(selector.threshold(SelectionContext(previousAction: [0, 0, 1, 0, 0, 0, 0])) - 0.1) < 1e-9)
    }

    @Test func unionKeepsOrderAndDropsDuplicates() {
        #expect(SPVLASelector.union([0, 3, 5], [1, 3, 6, 7]) == [0, 1, 3, 5, 6, 7])
        #expect(SPVLASelector.union([], [2]) == [2] && SPVLASelector.union([4], []) == [4])
    }

    @Test func problemsNameTheKey() {
        #expect(PruningSettings(theta: 0).problem?.key == "theta")
        #expect(PruningSettings(theta: 1.5).problem?.key == "theta")
        #expect(PruningSettings(theta: .nan).problem?.key == "theta")
        #expect(PruningSettings(theta: 1).problem == nil)
        #expect(PruningSettings(adaptive: AdaptiveTheta(zThreshold: 1, zMin: 0.9)).problem?.key == "adaptive.z_thre")
        #expect(PruningSettings(adaptive: AdaptiveTheta(zThreshold: 0.5, zMin: 0)).problem?.key == "adaptive.z_min")
        #expect(PruningSettings(method: .spvla, adaptive: AdaptiveTheta()).problem == nil)
        #expect(PruningSettings(method: .none).makeSelector() == nil)
        #expect(PruningSettings(method: .attention, attentionBlock: .feature).makeSelector()?.attentionBlock == .feature)
        #expect(PruningSettings(method: .edges).makeSelector()?.attentionBlock == nil)
        #expect(PruningSettings(method: .spvla).makeSelector()?.name == "spvla")
    }
}
