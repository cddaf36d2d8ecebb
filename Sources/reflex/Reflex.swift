import ArgumentParser
import Foundation
import Logging
import ReflexCore
import ReflexModels

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
            Environment: REFLEX_THREADS (worker threads), REFLEX_ISA (force an int8 kernel path).
            """,
        version: ReflexVersion.string,
        subcommands: [Run.self, Check.self, Capture.self, Predict.self, Eval.self, Bench.self, Quantize.self, Sim.self, Bridge.self]
    )

    static func main() {
        fixBLASCoreType()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["REFLEX_LOG_LEVEL"]
                .flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("reflex: error: \(error.message)\n".utf8))
            Foundation.exit(error.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            // ArgumentParser reports usage errors as EX_USAGE (64); our contract says 2.
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(code.rawValue == 64 ? 2 : (error is TensorError || error is ModelError ? 2 : 1))
        }
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

enum ReflexVersion {
    static let string = "0.1.0"
}
