import ArgumentParser

/// `reflex bench …`: throughput and latency measurements.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure kernel throughput and model latency on this machine.",
        subcommands: [BenchKernels.self, BenchModel.self, BenchLoop.self]
    )
}
