import ArgumentParser
import CBuildInfo
import Foundation
import Logging
import ReflexCore
import ReflexIO
import ReflexModels
import ReflexRuntime

/// The `reflex` command line. Subcommands live one per file; see README.md for the contract.
/// Exit codes: 0 success, 1 runtime failure, 2 invalid usage or input.
@main
struct Reflex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reflex",
        abstract: "Run Vision-Language-Action robot policies on a board's CPU.",
        discussion: """
            Logs go to stderr; with --json a command prints exactly one JSON object on stdout.
            Exit codes: 0 success, 1 runtime failure, 2 invalid usage or input.
            Environment: REFLEX_THREADS (worker threads, 1…256), REFLEX_ISA (force an int8 kernel path this \
            CPU supports), REFLEX_LOG_LEVEL (trace…critical, default info), REFLEX_MAX_IMAGE_PIXELS (largest \
            image decoded, default 40000000). A value these do not take is an error (exit 2).
            """,
        version: ReflexVersion.string,
        subcommands: [Run.self, Check.self, Capture.self, Predict.self, Eval.self, Bench.self, Quantize.self, Sim.self, Bridge.self]
    )

    static func main() {
        fixBLASCoreType()
        installCrashReporter()
        do {
            let settings = try EnvironmentSettings(ProcessInfo.processInfo.environment)
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = settings.logLevel
                return handler
            }
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(reporting: error)
        }
    }

    /// The one place errors leave the process: `reflex: error: ` and the message (which names the file,
    /// line, key or tensor where there is one) on stderr, and the README's exit code — 2 for invalid
    /// usage or input, 1 for a failure while doing valid work.
    static func exit(reporting error: Error) -> Never {
        let code: Int32
        let message: String
        switch error {
        case let e as CLIError:
            (code, message) = (e.exitCode, e.message)
        case let e as ExitCode:
            Foundation.exit(e.rawValue)  // the command printed its own report (check, eval's guard)
        case let e as ProfileError:
            (code, message) = (2, e.description)
        case let e as ModelError:
            (code, message) = (2, e.description)
        case let e as TensorError:
            (code, message) = (2, e.description)
        case let e as RuntimeError:
            (code, message) = (e.kind == .invalidInput ? 2 : 1, e.description)
        default:
            let parser = exitCode(for: error)
            if parser == .success { exit(withError: error) }  // --help, --version
            if parser.rawValue == 64 || error is ValidationError {  // ArgumentParser's usage errors (EX_USAGE)
                var text = fullMessage(for: error)
                if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
                (code, message) = (2, text)
            } else {
                (code, message) = (1, "\(error)")
            }
        }
        FileHandle.standardError.write(Data("reflex: error: \(message)\n".utf8))
        Foundation.exit(code)
    }
}

/// Re-executes the process once with OPENBLAS_CORETYPE set when OpenBLAS picked a baseline x86
/// core for a CPU that has AVX2/AVX-512 (see `BLASCoreType`). Respects an explicit setting.
private func fixBLASCoreType() {
    guard getenv("OPENBLAS_CORETYPE") == nil, getenv("REFLEX_NO_BLAS_REEXEC") == nil,
          let core = BLASCoreType.suggestedOverride else { return }
    setenv("OPENBLAS_CORETYPE", core, 1)
    setenv("REFLEX_NO_BLAS_REEXEC", "1", 1)  // never loop
    let args = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", args)
    // execv only returns on failure: carry on with the slow kernels.
    FileHandle.standardError.write(Data("reflex: warning: OpenBLAS uses its \(BLASCoreType.current) kernels; set OPENBLAS_CORETYPE=\(core) for full speed\n".utf8))
}

/// Errors the CLI reports with a chosen exit code.
struct CLIError: Error {
    let message: String
    let exitCode: Int32

    /// Bad flags, files or values: exit 2.
    static func invalidInput(_ message: String) -> CLIError { CLIError(message: message, exitCode: 2) }
    /// Failures while doing valid work: exit 1.
    static func runtime(_ message: String) -> CLIError { CLIError(message: message, exitCode: 1) }
}

/// Prints an Encodable as one JSON object (sorted keys) on stdout: the `--json` contract.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    writeJSONLine(try encoder.encode(value))
}

/// Writes serialized JSON and a newline to stdout.
func writeJSONLine(_ data: Data) {
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}

/// The CLI's logger (stderr; level from REFLEX_LOG_LEVEL, default info).
let log = Logger(label: "reflex")

/// `reflex --version`: "reflex 0.1.0 (aarch64, commit 1a2b3c4)". The number is the release (the Debian package's
/// version: the Makefile reads it from here); the commit is stamped at build time (CBuildInfo).
enum ReflexVersion {
    static let number = "0.1.0"
    #if arch(arm64)
    static let architecture = "aarch64"
    #elseif arch(x86_64)
    static let architecture = "x86_64"
    #else
    static let architecture = "unknown-arch"
    #endif
    static let commit = String(cString: rk_build_commit())
    static let string = "reflex \(number) (\(architecture), commit \(commit))"
}

/// A crash (a bug) prints one line instead of the runtime's backtrace full of build paths, then dies
/// by the same signal so systemd sees the crash and restarts the service (the MCU's watchdog has
/// already stopped the motion by then).
private func installCrashReporter() {
    for sig in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT] {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { sig in
            // A static string: nothing in a signal handler may allocate.
            let text: StaticString = "reflex: error: internal error: reflex crashed; this is a bug, please report it with the command that caused it\n"
            _ = write(2, text.utf8Start, text.utf8CodeUnitCount)
            signal(sig, SIG_DFL)
            raise(sig)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = Int32(bitPattern: UInt32(SA_RESETHAND))
        sigaction(sig, &action, nil)
    }
}
