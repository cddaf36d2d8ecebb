import Foundation
import Testing
import ReflexTestSupport
@testable import ReflexCore

@Suite("Normalisation, activations and softmax")
struct NormActivationTests {
    static let widths = [1, 5, 16, 31, 64, 100, 896, 1025]

    @Test(arguments: widths)
    func rmsNormMatchesReference(_ n: Int) throws {
        var rng = freshRNG()
        let x = Tensor.gaussian([3, n], std: 3, rng: &rng), w = Tensor.gaussian([n], rng: &rng)
        let y = try x.rmsNorm(weight: w, eps: 1e-6)
        for r in 0..<3 {
            let ref = rmsNormRef(Array(toDouble(x)[(r * n)..<((r + 1) * n)]), toDouble(w), eps: 1e-6)
            #expect(maxAbsError(Array(toDouble(y)[(r * n)..<((r + 1) * n)]), ref) < 1e-5 * (ref.map(abs).max() ?? 1) + 1e-6)
        }
    }

    @Test(arguments: widths)
    func layerNormMatchesReference(_ n: Int) throws {
        var rng = freshRNG()
        let x = Tensor.gaussian([4, n], std: 2, rng: &rng)
        let shifted = try x.adding(Tensor(shape: [n]) { _ in 5 })  // non-zero mean
        let w = Tensor.gaussian([n], rng: &rng), b = Tensor.gaussian([n], rng: &rng)
        let y = try shifted.layerNorm(weight: w, bias: b, eps: 1e-6)
        for r in 0..<4 {
            let ref = layerNormRef(Array(toDouble(shifted)[(r * n)..<((r + 1) * n)]), toDouble(w), toDouble(b), eps: 1e-6)
            #expect(maxAbsError(Array(toDouble(y)[(r * n)..<((r + 1) * n)]), ref) < 2e-5 * ((ref.map(abs).max() ?? 1) + 1))
        }
    }

    @Test func normWeightSizeIsChecked() {
        let x = Tensor(zeros: [2, 8])
        #expect(throws: TensorError.shapeMismatch(op: "rmsNorm", "weight [7] for rows of 8")) {
            try x.rmsNorm(weight: Tensor(zeros: [7]), eps: 1e-5)
        }
    }

    @Test(arguments: [1, 15, 17, 4099, 100_003])
    func activationsMatchReference(_ n: Int) throws {
        var rng = freshRNG()
        // Wide range, including saturating tails.
        let x = Tensor.uniform([n], in: -12, 12, rng: &rng)
        let xd = toDouble(x)
        let checks: [(String, Tensor, (Double) -> Double)] = [
            ("gelu-erf", x.gelu(.erf), geluErfRef), ("gelu-tanh", x.gelu(.tanh), geluTanhRef),
            ("silu", x.silu(), siluRef), ("exp", x.exp(), { Foundation.exp($0) }),
        ]
        for (name, y, f) in checks {
            let yd = toDouble(y)
            for i in 0..<n {
                let want = f(xd[i])
                #expect(abs(yd[i] - want) <= 1e-6 + 2e-6 * abs(want), "\(name)(\(xd[i])) = \(yd[i]), want \(want)")
            }
        }
        let up = Tensor.gaussian([n], rng: &rng)
        let sm = try Tensor.siluMul(gate: x, up: up)
        for i in 0..<n {
            let want = siluRef(xd[i]) * Double(up[flat: i])
            #expect(abs(Double(sm[flat: i]) - want) <= 1e-6 + 2e-6 * abs(want))
        }
    }

    @Test(arguments: [1, 2, 17, 256, 1000])
    func softmaxMatchesReference(_ n: Int) {
        var rng = freshRNG()
        let x = Tensor.gaussian([3, n], std: 6, rng: &rng)
        let y = x.softmax()
        for r in 0..<3 {
            let ref = softmaxRef(Array(toDouble(x)[(r * n)..<((r + 1) * n)]))
            #expect(maxAbsError(Array(toDouble(y)[(r * n)..<((r + 1) * n)]), ref) < 1e-6)
        }
    }
}
