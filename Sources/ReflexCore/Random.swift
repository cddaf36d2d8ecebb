#if canImport(Glibc)
import Glibc
#endif

/// A small, fast, seedable generator (SplitMix64) for reproducible test data, random benchmark
/// weights and simulators. Not for cryptography.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform float in [0, 1).
    public mutating func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// A standard normal sample (Box-Muller).
    public mutating func nextGaussian() -> Float {
        let u1 = Double((next() >> 11) + 1) * 0x1p-53
        let u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * Glibc.log(u1)).squareRoot() * Glibc.cos(2 * Double.pi * u2))
    }
}

extension Tensor {
    /// A tensor of N(0, std²) samples from `rng`.
    public static func gaussian(_ shape: [Int], std: Float = 1, rng: inout SplitMix64) -> Tensor {
        Tensor(shape: shape) { _ in rng.nextGaussian() * std }
    }

    /// A tensor of uniform samples in [lo, hi) from `rng`.
    public static func uniform(_ shape: [Int], in lo: Float = -1, _ hi: Float = 1, rng: inout SplitMix64) -> Tensor {
        Tensor(shape: shape) { _ in lo + (hi - lo) * rng.nextUniform() }
    }
}
