import ArgumentParser
import Foundation
import Logging
import ReflexCore
import ReflexModels

/// The process-wide settings read from the environment, validated once at start-up: a value that is not
/// what the variable takes is an error naming the variable (exit 2), never silently ignored.
struct EnvironmentSettings {
    /// `REFLEX_THREADS`: worker threads (1…256).
    var threads: Int?
    /// `REFLEX_ISA`: the int8 kernel path to force (one this CPU supports).
    var isa: KernelISA?
    /// `REFLEX_LOG_LEVEL`: trace, debug, info, notice, warning, error, critical.
    var logLevel: Logger.Level = .info
    /// `REFLEX_MAX_IMAGE_PIXELS`: the largest image any command decodes.
    var maxImagePixels: Int?

    static let variables = ["REFLEX_THREADS", "REFLEX_ISA", "REFLEX_LOG_LEVEL", "REFLEX_MAX_IMAGE_PIXELS"]

    init(_ env: [String: String]) throws {
        func bad(_ name: String, _ why: String) -> CLIError {
            CLIError.invalidInput("\(name)=\(env[name]!): \(why)")
        }
        if let t = env["REFLEX_THREADS"] {
            guard let n = Int(t), (1...256).contains(n) else { throw bad("REFLEX_THREADS", "expected an integer 1…256") }
            threads = n
        }
        if let s = env["REFLEX_ISA"] {
            let names = KernelISA.supported.map(\.description)
            guard let isa = KernelISA(name: s), isa == .auto || isa.isSupported else {
                throw bad("REFLEX_ISA", "this CPU can run \(names.joined(separator: ", ")) (or auto)")
            }
            self.isa = isa
        }
        if let s = env["REFLEX_LOG_LEVEL"] {
            guard let level = Logger.Level(rawValue: s.lowercased()) else {
                throw bad("REFLEX_LOG_LEVEL", "expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            logLevel = level
        }
        if let s = env["REFLEX_MAX_IMAGE_PIXELS"] {
            guard let n = Int(s), n >= 1 else { throw bad("REFLEX_MAX_IMAGE_PIXELS", "expected a positive integer (pixels)") }
            maxImagePixels = n
        }
    }

    /// The settings of this process (validated in `Reflex.main`, so reading them again cannot fail).
    static var current: EnvironmentSettings {
        (try? EnvironmentSettings(ProcessInfo.processInfo.environment)) ?? (try! EnvironmentSettings([:]))
    }
}

/// `--max-image-pixels`, shared by the commands that decode image or video files.
struct ImageLimitOptions: ParsableArguments {
    @Option(name: .customLong("max-image-pixels"),
            help: "Refuse images (and video frames) that declare more pixels than this, before decoding them (default: REFLEX_MAX_IMAGE_PIXELS or 40000000).")
    var maxImagePixels: Int?

    func validate() throws {
        if let maxImagePixels, maxImagePixels < 1 { throw ValidationError("--max-image-pixels must be at least 1, got \(maxImagePixels)") }
    }

    /// The flag, else the environment, else the default.
    var limit: Int { maxImagePixels ?? EnvironmentSettings.current.maxImagePixels ?? ImageFile.defaultMaxPixels }
}
