import Foundation
import ReflexIO

/// What `run --json` prints.
extension Run {
    struct EpisodeSummary: Encodable {
        var task: String
        var seed: UInt64
        var instruction: String
        var success: Bool
        var steps: Int
    }

    struct Summary: Encodable {
        var board: String
        var episodes: [EpisodeSummary]
        var successes: Int
        var ticks: Int
        var sent: Int
        var holds: Int
        var overruns: Int
        var staleFrames: Int
        var badFrames: Int
        var tickMs: [String: Double]
        var overheadMs: [String: Double]
        var policyMs: [String: Double]
        var recording: String?
        enum CodingKeys: String, CodingKey {
            case board, episodes, successes, ticks, sent, holds, overruns, recording
            case staleFrames = "stale_frames", badFrames = "bad_frames", tickMs = "tick_ms", overheadMs = "overhead_ms", policyMs = "policy_ms"
        }
    }
}

/// p50 / p95 / p99 of latency samples, as `run --json` reports them.
func latencyPercentiles(_ v: [Double]) -> [String: Double] {
    ["p50": percentile(v, 50), "p95": percentile(v, 95), "p99": percentile(v, 99)]
}
