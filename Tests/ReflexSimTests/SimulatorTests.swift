import ReflexCore
import Testing
@testable import ReflexSim

@Suite struct SimulatorTests {
    @Test func sameSeedSameEpisode() {
        for family in TaskFamily.allCases {
            let a = Demonstration.record(family: family, seed: 42, noise: 0.02)
            let b = Demonstration.record(family: family, seed: 42, noise: 0.02)
            #expect(a.instruction == b.instruction)
            #expect(a.frames == b.frames)
            #expect(a.actions == b.actions)
            let c = TabletopSim(family: family, seed: 43)
            #expect(c.render() != a.frames[0], "a different seed gives a different scene")
        }
    }

    @Test func expertSolvesEveryFamily() {
        for family in TaskFamily.allCases {
            var ok = 0
            for seed in UInt64(0)..<60 where Demonstration.record(family: family, seed: seed).success { ok += 1 }
            #expect(ok == 60, "\(family): expert solved \(ok)/60")
        }
    }

    @Test func expertRecoversUnderNoise() {
        for family in TaskFamily.allCases {
            var ok = 0
            for seed in UInt64(100)..<140 where Demonstration.record(family: family, seed: seed, noise: 0.02).success { ok += 1 }
            #expect(ok >= 39, "\(family): noisy expert solved \(ok)/40")
        }
    }

    @Test func policyDrivenRecordingKeepsExpertLabels() throws {
        // An actor that never moves: the executed actions are its own, the gripper stays put, and every
        // frame is still labelled with what the expert would do from that (unchanging) state.
        let stuck = try Demonstration.record(family: .reach, seed: 7) { _, _ in [0, 0, 0, 0, 0, 0, 1] }
        #expect(!stuck.success)
        #expect(stuck.frames.count == TaskFamily.reach.stepLimit)
        #expect(stuck.executed.allSatisfy { $0 == [0, 0, 0, 0, 0, 0, 1] })
        #expect(Set(stuck.states.map { $0[0..<3] }).count == 1, "the gripper never moved")
        let sim = TabletopSim(family: .reach, seed: 7)
        #expect(stuck.actions.allSatisfy { $0 == Expert.action(for: sim) })
        #expect(stuck.frames[0] == sim.render())
        // An actor that copies the expert reproduces the expert's own recording.
        let copy = try Demonstration.record(family: .pickPlace, seed: 3) { _, sim in Expert.action(for: sim) }
        let expert = Demonstration.record(family: .pickPlace, seed: 3)
        #expect(copy.success && copy.actions == expert.actions && copy.states == expert.states)
    }

    @Test func objectCountOverrideForCurricula() {
        let one = TabletopSim(family: .pickPlace, seed: 9, objects: 1)
        #expect(one.objects.filter { $0.shape != .bowl }.count == 1)
        #expect(Demonstration.record(family: .pickPlace, seed: 9, objects: 1).success)
        let normal = TabletopSim(family: .pickPlace, seed: 9)
        #expect((3...4).contains(normal.objects.filter { $0.shape != .bowl }.count))
    }

    @Test func doingNothingFails() {
        for family in TaskFamily.allCases {
            var sim = TabletopSim(family: family, seed: 5)
            while !sim.done { sim.step([0, 0, 0, 0, 0, 0, 1]) }
            #expect(!sim.success)
            #expect(sim.steps == family.stepLimit)
        }
    }

    @Test func nonFiniteActionsDoNotMoveOrCrash() {
        var sim = TabletopSim(family: .reach, seed: 1)
        let before = sim.gripper
        sim.step([.nan, .infinity, -.infinity, 0, 0, 0, .nan])
        #expect(sim.gripper == before)
        #expect(sim.gripperOpen)
    }

    @Test func stepsAreClampedToMaxStepAndWorkspace() {
        var sim = TabletopSim(family: .reach, seed: 2)
        let before = sim.gripper
        sim.step([5, 0, 0, 0, 0, 0, 1])
        #expect(abs(sim.gripper.x - min(before.x + World.maxStep, World.workspaceMax.x)) < 1e-6)
        for _ in 0..<30 { sim.step([0, 0, -1, 0, 0, 0, 1]) }
        #expect(sim.gripper.z == World.workspaceMin.z)
    }

    @Test func graspNeedsTheGripperOverTheObject() {
        var sim = TabletopSim(family: .pickPlace, seed: 3)
        let target = sim.objects[sim.task.target].position
        // Fly to a point 0.2 away from the object, go down and close: nothing is grasped.
        func goto(_ p: Vec3) {
            for _ in 0..<40 {
                let g = sim.gripper
                sim.step([max(-0.1, min(0.1, p.x - g.x)), max(-0.1, min(0.1, p.y - g.y)), max(-0.1, min(0.1, p.z - g.z)), 0, 0, 0, 1])
            }
        }
        goto(Vec3(target.x + 0.2, target.y, 0.04))
        sim.step([0, 0, 0, 0, 0, 0, 0])
        #expect(sim.heldIndex == nil)
        sim.step([0, 0, 0.1, 0, 0, 0, 1])
        goto(Vec3(target.x, target.y, 0.04))
        sim.step([0, 0, 0, 0, 0, 0, 0])
        #expect(sim.heldIndex == sim.task.target)
    }

    @Test func npyHeaderIsAlignedAndExact() {
        let bytes = NPY.encode(float32: [1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(bytes.count == 128 + 24)  // 10-byte preamble + 59-byte dict + newline → padded to 128
        #expect(Array(bytes[0..<8]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let header = String(decoding: bytes[10..<128], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
        #expect(header.hasSuffix(" \n"))
        #expect(Array(bytes[128..<132]) == [0, 0, 0x80, 0x3F])  // 1.0f little-endian
        let one = NPY.encode(uint8: [7, 8], shape: [2])
        #expect(String(decoding: one[10..<64], as: UTF8.self).contains("'shape': (2,)"))
    }
}
