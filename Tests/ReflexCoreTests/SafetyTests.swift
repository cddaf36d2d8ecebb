import Testing
@testable import ReflexCore

@Suite struct SafetyTests {
    func stage() throws -> SafetyStage {
        let limits = try SafetyStage.Limits(lower: [-1, -1, 0, 0], upper: [1, 1, 0.5, 1], maxStep: [0.1, 0.1, 0.05, 1])
        return SafetyStage(limits: limits, initial: [0, 0, 0.2, 1])
    }

    @Test func passesCommandsWithinLimitsUnchanged() throws {
        var s = try stage()
        #expect(s.filter([0.05, -0.05, 0.22, 0]) == .send([0.05, -0.05, 0.22, 0]))
        #expect(s.counters.limited == 0)
    }

    @Test func stepLimitIsRelativeToTheLastSentCommand() throws {
        var s = try stage()
        #expect(s.filter([5, -5, 0.2, 1]) == .send([0.1, -0.1, 0.2, 1]))
        #expect(s.filter([5, -5, 0.2, 1]) == .send([0.2, -0.2, 0.2, 1]))
        #expect(s.counters.limited == 2)
    }

    @Test func clampsToAbsoluteLimits() throws {
        var s = try stage()
        s.reset(to: [0.98, 0, 0.49, 1])
        #expect(s.filter([1.05, 0, 0.6, 1]) == .send([1, 0, 0.5, 1]))
    }

    @Test func nonFiniteHoldsAndKeepsTheReference() throws {
        var s = try stage()
        #expect(s.filter([.nan, 0, 0.2, 1]) == .hold(.nonFinite))
        #expect(s.filter([0, .infinity, 0.2, 1]) == .hold(.nonFinite))
        #expect(s.counters.nonFinite == 2 && s.counters.held == 2)
        #expect(s.last == [0, 0, 0.2, 1])
        #expect(s.filter([0.3, 0, 0.2, 1]) == .send([0.1, 0, 0.2, 1]))
    }

    @Test func estopLatchesUntilReleased() throws {
        var s = try stage()
        s.estop()
        #expect(s.filter([0, 0, 0.2, 1]) == .hold(.estop))
        #expect(s.filter([0, 0, 0.2, 1]) == .hold(.estop))
        s.releaseEStop()
        #expect(s.filter([0, 0, 0.2, 1]) == .send([0, 0, 0.2, 1]))
    }

    @Test func gripperRateLimit() throws {
        let limits = try SafetyStage.Limits(lower: [0], upper: [1], maxStep: [0.25])
        var s = SafetyStage(limits: limits, initial: [1])
        #expect(s.filter([0]) == .send([0.75]))
        #expect(s.filter([0]) == .send([0.5]))
    }

    @Test func noReferenceHolds() throws {
        let limits = try SafetyStage.Limits(lower: [0], upper: [1], maxStep: [1])
        var s = SafetyStage(limits: limits)
        #expect(s.filter([0.5]) == .hold(.noReference))
    }

    @Test func rejectsBadLimits() {
        #expect(throws: TensorError.self) { try SafetyStage.Limits(lower: [1], upper: [0], maxStep: [1]) }
        #expect(throws: TensorError.self) { try SafetyStage.Limits(lower: [0], upper: [1], maxStep: [-1]) }
        #expect(throws: TensorError.self) { try SafetyStage.Limits(lower: [0, 0], upper: [1], maxStep: [1]) }
        #expect(throws: TensorError.self) { try SafetyStage.Limits(lower: [.nan], upper: [1], maxStep: [1]) }
    }
}
