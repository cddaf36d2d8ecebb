import Testing
import ReflexTestSupport
@testable import ReflexCore

@Suite("Matrix products through OpenBLAS")
struct MatMulTests {
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (1, 7, 5), (3, 5, 7), (17, 33, 65), (64, 64, 64), (5, 130, 31), (129, 17, 257)]

    @Test(arguments: shapes)
    func matmulMatchesDoubleReference(_ shape: (Int, Int, Int)) throws {
        let (m, n, k) = shape
        var rng = freshRNG()
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = Tensor.gaussian(ta ? [k, m] : [m, k], rng: &rng)
            let b = Tensor.gaussian(tb ? [n, k] : [k, n], rng: &rng)
            let c = try Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
            #expect(c.shape == [m, n])
            let ad = ta ? transpose(toDouble(a), rows: k, cols: m) : toDouble(a)
            let bd = tb ? toDouble(b) : transpose(toDouble(b), rows: k, cols: n)
            let ref = matmulABt(ad, bd, m: m, n: n, k: k)
            #expect(relativeError(toDouble(c), ref) < 1e-5, "m \(m) n \(n) k \(k) ta \(ta) tb \(tb)")
        }
    }

    @Test func linearAddsBiasPerOutput() throws {
        var rng = freshRNG()
        let x = Tensor.gaussian([2, 3, 19], rng: &rng)
        let w = Tensor.gaussian([11, 19], rng: &rng)
        let b = Tensor.gaussian([11], rng: &rng)
        let y = try Tensor.linear(x, weight: w, bias: b)
        #expect(y.shape == [2, 3, 11])
        var ref = matmulABt(toDouble(x), toDouble(w), m: 6, n: 11, k: 19)
        for i in ref.indices { ref[i] += Double(b[flat: i % 11]) }
        #expect(relativeError(toDouble(y), ref) < 1e-5)
    }

    @Test func batchedMatmulMatchesPerBatchProducts() throws {
        var rng = freshRNG()
        let a = Tensor.gaussian([3, 5, 9], rng: &rng)
        let b = Tensor.gaussian([3, 9, 4], rng: &rng)
        let c = try Tensor.batchedMatmul(a, b)
        #expect(c.shape == [3, 5, 4])
        for i in 0..<3 {
            let ai = Array(toDouble(a)[(i * 45)..<((i + 1) * 45)])
            let bi = transpose(Array(toDouble(b)[(i * 36)..<((i + 1) * 36)]), rows: 9, cols: 4)
            let ref = matmulABt(ai, bi, m: 5, n: 4, k: 9)
            #expect(relativeError(Array(toDouble(c)[(i * 20)..<((i + 1) * 20)]), ref) < 1e-5)
        }
        let bt = Tensor.gaussian([3, 4, 9], rng: &rng)
        let ct = try Tensor.batchedMatmul(a, bt, transposeB: true)
        let ref0 = matmulABt(Array(toDouble(a)[0..<45]), Array(toDouble(bt)[0..<36]), m: 5, n: 4, k: 9)
        #expect(relativeError(Array(toDouble(ct)[0..<20]), ref0) < 1e-5)
    }

    @Test func shapeMismatchNamesTheShapes() {
        let a = Tensor(zeros: [3, 4]), b = Tensor(zeros: [5, 6])
        #expect(throws: TensorError.shapeMismatch(op: "matmul", "[3, 4] · [5, 6]: inner sizes 4 ≠ 5")) {
            try Tensor.matmul(a, b)
        }
        #expect(throws: TensorError.shapeMismatch(op: "linear", "input [3, 4] with weight [5, 6] (expects [out, 4])")) {
            try Tensor.linear(a, weight: b)
        }
    }
}
