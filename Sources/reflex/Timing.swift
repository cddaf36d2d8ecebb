import ReflexCore

/// Repeats `body` until at least `minReps` runs and `minSeconds` of total time (capped at
/// `maxReps`), after one untimed warm-up, and returns the median run time in seconds.
/// Medians, because this machine is shared and noisy.
func medianSeconds(minReps: Int = 3, maxReps: Int = 25, minSeconds: Double = 0.3, warmup: Bool = true,
                   _ body: () throws -> Void) rethrows -> Double {
    if warmup { try body() }
    var times: [Double] = []
    var total = 0.0
    while times.count < maxReps && (times.count < minReps || total < minSeconds) {
        let t0 = monotonicNanos()
        try body()
        let dt = Double(monotonicNanos() - t0) * 1e-9
        times.append(dt)
        total += dt
    }
    times.sort()
    return times[times.count / 2]
}
