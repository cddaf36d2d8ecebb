import Testing
import ReflexTestSupport
@testable import ReflexCore

@Suite("Patch embedding (conv as im2col + GEMM)")
struct PatchEmbeddingTests {
    @Test(arguments: [(3, 28, 42, 14, 8), (3, 14, 14, 14, 5), (1, 12, 8, 4, 3), (2, 6, 6, 3, 7)])
    func matchesDirectConvolution(_ c: (Int, Int, Int, Int, Int)) throws {
        let (ch, h, w, p, d) = c
        var rng = freshRNG()
        let image = Tensor.gaussian([ch, h, w], rng: &rng)
        let weight = Tensor.gaussian([d, ch, p, p], rng: &rng)
        let bias = Tensor.gaussian([d], rng: &rng)
        let y = try Tensor.patchEmbed(image: image, weight: weight, bias: bias, patch: p)
        let gh = h / p, gw = w / p
        #expect(y.shape == [gh * gw, d])
        let img = toDouble(image), wt = toDouble(weight)
        var ref = [Double]()
        for py in 0..<gh {
            for px in 0..<gw {
                for o in 0..<d {
                    var s = Double(bias[flat: o])
                    for cc in 0..<ch {
                        for ky in 0..<p {
                            for kx in 0..<p {
                                s += img[(cc * h + py * p + ky) * w + px * p + kx] * wt[((o * ch + cc) * p + ky) * p + kx]
                            }
                        }
                    }
                    ref.append(s)
                }
            }
        }
        #expect(relativeError(toDouble(y), ref) < 1e-5)
    }

    @Test func rejectsImageNotDivisibleByPatch() {
        #expect(throws: TensorError.shapeMismatch(op: "patchEmbed", "image [3, 15, 14], weight [4, 3, 14, 14], patch 14")) {
            try Tensor.patchEmbed(image: Tensor(zeros: [3, 15, 14]), weight: Tensor(zeros: [4, 3, 14, 14]), bias: nil, patch: 14)
        }
    }
}
