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

/// SQAP-VLA's three criteria on hand-worked grids.
@Suite struct SQAPSelectorTests {
    func input(_ scores: [Float], grid: Int, ee: (x: Double, y: Double)? = nil) -> SelectionInput {
        SelectionInput(images: [], gridWidth: grid, gridHeight: grid, patchSize: 14, attention: scores,
                       context: SelectionContext(endEffectorPixel: ee))
    }

    @Test func topKThenCoverage() throws {
        // 4×4 grid; the top two scores are patches 5 and 6 (centre); keep 2/16, coverage 4/16.
        var scores = [Float](repeating: 0, count: 16)
        scores[5] = 0.3; scores[6] = 0.2; scores[10] = 0.1
        #expect(try SQAPSelector(keep: 2.0 / 16, coverage: 2.0 / 16).select(input(scores, grid: 4)) == [5, 6])
        // Farthest from {5 (1,1), 6 (2,1)}: (3,3) = 15 at distance² 5, then (0,3) = 12 — ties to the lower index.
        #expect(try SQAPSelector(keep: 2.0 / 16, coverage: 0.25).select(input(scores, grid: 4)) == [5, 6, 12, 15])
        // ⌈share · n⌉ with at least one.
        #expect(SQAPSelector.share(0.01, of: 16) == 1 && SQAPSelector.share(0.5, of: 15) == 8 && SQAPSelector.share(1, of: 7) == 7)
        #expect(SQAPSelector.topK([0.1, 0.5, 0.5, 0.2], 2) == [1, 2])
    }

    @Test func endEffectorPatchesAreKept() throws {
        let scores = [Float](repeating: 0.1, count: 16)
        // ee at pixel (21, 21): the centre of patch (1,1) is (21, 21); radius 1 patch width (14 px) reaches the four
        // orthogonal neighbours' centres exactly, not the diagonal ones (19.8 px).
        let kept = try SQAPSelector(keep: 1.0 / 16, eeRadius: 1, coverage: 1.0 / 16).select(input(scores, grid: 4, ee: (21, 21)))
        #expect(kept == [0, 1, 4, 5, 6, 9])  // 0 from top-k (all tie: lowest index), 1, 4, 5, 6, 9 from the ee
        #expect(SQAPSelector.protected(around: (21, 21), radius: 0, gridWidth: 4, gridHeight: 4, patchSize: 14) == [5])
        #expect(SQAPSelector.protected(around: (-100, -100), radius: 2, gridWidth: 4, gridHeight: 4, patchSize: 14).isEmpty)
    }

    @Test func settingsCheckTheSQAPKeys() {
        #expect(PruningSettings(keep: 0).problem?.key == "keep")
        #expect(PruningSettings(layer: 0).problem?.key == "layer")
        #expect(PruningSettings(eeRadius: -1).problem?.key == "ee_radius")
        #expect(PruningSettings(coverage: 1.5).problem?.key == "coverage")
        #expect(PruningSettings(method: .sqap, layer: 3).makeSelector()?.llmLayer == 3)
        #expect(PruningSettings(method: .attention, vitBlocks: 1).problem?.key == "vit_blocks")
        #expect(PruningSettings(method: .edges, vitBlocks: -1).problem?.key == "vit_blocks")
        #expect(PruningSettings(method: .edges, vitBlocks: 2).problem == nil)
    }
}
