import Foundation
import Testing
@testable import ReflexIO

/// Profiles shipped in boards/ and the errors bad ones give.
@Suite struct BoardProfileTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

    static let valid = """
        board: { name: test, description: a test board, memory_mb: 4096 }
        cpu: { threads: 4, features: [neon, dotprod] }
        camera:
          source: v4l2
          device: /dev/video0
          width: 640
          height: 480
          fps: 30
          pixel_format: MJPG
        model: { path: /models/x, quantization: int8 }
        control: { rate_hz: 5, frame_budget_ms: 150 }
        bridge: { protocol: feetech, port: /dev/ttyUSB0, baud: 1000000 }
        robot:
          kind: joints
          joints:
            - { name: a, servo_id: 1, min: 1000, max: 3000, home: 2048, units_per_action: 600, max_step: 40 }
            - { name: b, servo_id: 2, min: 1000, max: 3000, home: 2048, units_per_action: 600, max_step: 40 }
          gripper: { servo_id: 6, open: 2600, closed: 1950, max_rate: 0.25 }
        """

    @Test func shippedProfilesParse() throws {
        let names = ["sim", "jetson-orin-nano", "jetson-agx-orin", "raspberry-pi-5", "rock-5b"]
        for n in names {
            let p = try BoardProfile.load("\(Self.repo)/boards/\(n).yaml", environment: [:])
            #expect(p.board.name == n)
            _ = try p.safetyLimits()
        }
        let sim = try BoardProfile.load("\(Self.repo)/boards/sim.yaml", environment: [:])
        #expect(sim.camera.source == .sim && sim.bridge.protocol == .sim && sim.simulation?.episodes == 3)
        let pi = try BoardProfile.load("\(Self.repo)/boards/raspberry-pi-5.yaml", environment: [:])
        #expect(pi.cpu.threads == 3 && pi.acceleration.scheduler.mode == .async && pi.cpu.features == ["neon", "dotprod"] && pi.robot.joints.count == 5)
    }

    @Test func validProfileValues() throws {
        let p = try BoardProfile.parse(Self.valid, file: "t.yaml")
        #expect(p.camera.pixelFormat == "MJPG" && p.camera.buffers == 3)
        #expect(p.control.frameBudgetMs == 150)
        let l = try p.safetyLimits()
        #expect(l.lower == [1000, 1000, 0] && l.upper == [3000, 3000, 1] && l.maxStep == [40, 40, 0.25])
    }

    @Test func environmentOverrides() throws {
        let p = try BoardProfile.parse(Self.valid, file: "t.yaml",
                                       environment: ["REFLEX_CAMERA_DEVICE": "/dev/video7", "REFLEX_BRIDGE_PORT": "/dev/ttyACM3", "HOME": "/root"])
        #expect(p.camera.device == "/dev/video7" && p.bridge.port == "/dev/ttyACM3")
        #expect(throws: ProfileError.self) {
            try BoardProfile.parse(Self.valid, file: "t.yaml", environment: ["REFLEX_CAMERA_FPS": "fast"])
        }
        do {
            _ = try BoardProfile.parse(Self.valid, file: "t.yaml", environment: ["REFLEX_CONTROL_RATE_HZ": "0"])
            Issue.record("rate 0 accepted")
        } catch let e as ProfileError {
            #expect(e.description.contains("control.rate_hz") && e.description.contains("REFLEX_CONTROL_RATE_HZ"))
        }
    }

    /// (mutation, expected key path, expected line, a phrase of the message)
    static let badCases: [(String, String, Int?, String)] = [
        ("camera:\n  sourse: v4l2", "camera.sourse", 4, "did you mean 'source'"),
        ("fps: 30", "camera.fps", 8, "out of range"),  // replaced below with fps: 999
        ("width: 640", "camera.width", 6, "expected an integer"),
        ("pixel_format: MJPG", "camera.pixel_format", 9, "FOURCC"),
        ("baud: 1000000", "bridge.baud", 12, "not a standard baud"),
        ("rate_hz: 5", "control.frame_budget_ms", 11, "does not fit"),
        ("home: 2048, units", "robot.joints.0.home", 16, "outside min…max"),
        ("servo_id: 2,", "robot.joints.1.servo_id", 17, "used twice"),
        ("protocol: feetech", "bridge.protocol", 12, "not one of"),
        ("threads: 4", "cpu.threads", 2, "out of range"),
        ("features: [neon, dotprod]", "cpu.features.1", 2, "not one of"),
    ]

    @Test func badProfilesNameFileKeyAndLine() throws {
        let replacements: [String: String] = [
            "camera:\n  sourse: v4l2": "camera:\n  sourse: v4l2",
            "fps: 30": "fps: 999",
            "width: 640": "width: wide",
            "pixel_format: MJPG": "pixel_format: MJPEG",
            "baud: 1000000": "baud: 1000001",
            "rate_hz: 5": "rate_hz: 10",
            "home: 2048, units": "home: 4000, units",
            "servo_id: 2,": "servo_id: 1,",
            "protocol: feetech": "protocol: can",
            "threads: 4": "threads: 0",
            "features: [neon, dotprod]": "features: [neon, sve2]",
        ]
        for (key, path, line, phrase) in Self.badCases {
            var text = Self.valid
            if key.hasPrefix("camera:\n  sourse") {
                text = text.replacingOccurrences(of: "  source: v4l2", with: "  sourse: v4l2")
            } else {
                text = text.replacingOccurrences(of: key, with: replacements[key]!)
            }
            do {
                _ = try BoardProfile.parse(text, file: "bad.yaml")
                Issue.record("accepted a bad profile (\(path))")
            } catch let e as ProfileError {
                #expect(e.file == "bad.yaml")
                #expect(e.keyPath == path, "\(e)")
                if let line { #expect(e.line == line, "\(e)") }
                #expect(e.description.contains(phrase), "\(e)")
                #expect(e.description.hasPrefix("bad.yaml:"), "\(e)")
            }
        }
    }

    @Test func structuralErrors() {
        func message(_ text: String) -> String {
            do { _ = try BoardProfile.parse(text, file: "s.yaml"); return "accepted" } catch { return "\(error)" }
        }
        #expect(message("").contains("empty"))
        #expect(message("board: [1, 2").contains("not valid YAML"))
        #expect(message(Self.valid.replacingOccurrences(of: "control: { rate_hz: 5, frame_budget_ms: 150 }\n", with: "")).contains("missing section 'control'"))
        #expect(message(Self.valid + "\nextra: 1").contains("unknown key"))
        #expect(message(Self.valid.replacingOccurrences(of: "port: /dev/ttyUSB0, ", with: "")).contains("needs 'port'"))
        #expect(message(Self.valid.replacingOccurrences(of: "kind: joints", with: "kind: cartesian")).contains("workspace_min"))
        #expect(message(Self.valid.replacingOccurrences(of: "source: v4l2", with: "source: sim")).contains("go together"))
    }
}
