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
        var mode: String
        /// The origin mix; its effective rate is per second of wall time the loop ran (a real-time run), or of
        /// VLA + generator compute (`--fast` on the sim board, as `eval` in sync mode). Encoded beside the rest.
        var figures: OriginFigures
        enum CodingKeys: String, CodingKey {
            case board, episodes, successes, ticks, sent, holds, overruns, recording, mode
            case staleFrames = "stale_frames", badFrames = "bad_frames", tickMs = "tick_ms", overheadMs = "overhead_ms", policyMs = "policy_ms"
        }

        /// From the loop's counters and samples (summed over episodes by the caller); `seconds` is what the
        /// effective rate divides by.
        init(board: String, episodes: [EpisodeSummary], stats st: ControlLoop.Stats, tickMs: [Double], overheadMs: [Double],
             vlaMs: [Double], generatorMs: [Double], actionAgeMs: [Double], seconds: Double, recording: String?, mode: String) {
            self.board = board
            self.episodes = episodes
            successes = episodes.filter(\.success).count
            ticks = st.ticks
            sent = st.sent
            holds = st.holds
            overruns = st.overruns
            staleFrames = st.staleFrames
            badFrames = st.badFrames
            self.tickMs = latencyPercentiles(tickMs)
            self.overheadMs = latencyPercentiles(overheadMs)
            policyMs = latencyPercentiles(vlaMs)
            self.recording = recording
            self.mode = mode
            figures = OriginFigures(vla: st.vlaActions, generator: st.generatorActions, holds: st.holds, switches: st.switches,
                                    vlaMs: vlaMs, generatorMs: generatorMs, actionAgeMs: actionAgeMs, seconds: seconds)
        }
    }
}

/// p50 / p95 / p99 of latency samples, as `run --json` reports them.
func latencyPercentiles(_ v: [Double]) -> [String: Double] {
    ["p50": percentile(v, 50), "p95": percentile(v, 95), "p99": percentile(v, 99)]
}
