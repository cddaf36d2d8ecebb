// Helpers shared by the test targets: fresh random inputs and error measures.
import Foundation
import ReflexCore

/// Fresh random inputs every run, unless REFLEX_TEST_SEED pins the seed.
public func freshRNG() -> SplitMix64 {
    if let s = ProcessInfo.processInfo.environment["REFLEX_TEST_SEED"], let v = UInt64(s) {
        return SplitMix64(seed: v)
    }
    return SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
}

public func toDouble(_ t: Tensor) -> [Double] { t.scalars.map(Double.init) }

/// ‖a − b‖ / ‖b‖ (Frobenius); ‖a − b‖ when b is zero.
public func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "comparing \(a.count) with \(b.count) values")
    var num = 0.0, den = 0.0
    for i in a.indices { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i] }
    return den == 0 ? num.squareRoot() : (num / den).squareRoot()
}

public func maxAbsError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "comparing \(a.count) with \(b.count) values")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
