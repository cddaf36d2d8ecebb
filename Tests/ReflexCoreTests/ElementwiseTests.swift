import Testing
import ReflexTestSupport
@testable import ReflexCore

@Suite("Elementwise arithmetic")
struct ElementwiseTests {
    @Test(arguments: [1, 7, 16, 33, 1000, 70_001])
    func addAndMultiplyMatchReference(_ n: Int) throws {
        var rng = freshRNG()
        let a = Tensor.gaussian([n], rng: &rng), b = Tensor.gaussian([n], rng: &rng)
        let s = try a.adding(b), p = try a.multiplying(b)
        for i in 0..<n {
            #expect(s[flat: i] == a[flat: i] + b[flat: i])
            #expect(p[flat: i] == a[flat: i] * b[flat: i])
        }
        let sc = a.scaled(by: -2.5)
        #expect((0..<n).allSatisfy { sc[flat: $0] == a[flat: $0] * -2.5 })
    }

    @Test func rowVectorBroadcastsOverRows() throws {
        var rng = freshRNG()
        var x = Tensor.gaussian([4, 3, 5], rng: &rng)
        let row = Tensor.gaussian([5], rng: &rng)
        let y = try x.adding(row)
        for i in 0..<x.count { #expect(y[flat: i] == x[flat: i] + row[flat: i % 5]) }
        let original = x
        try x.add(row)
        for i in 0..<x.count { #expect(x[flat: i] == original[flat: i] + row[flat: i % 5]) }
    }

    @Test func incompatibleShapesAreRejected() {
        let a = Tensor(zeros: [2, 3]), b = Tensor(zeros: [3, 2])
        #expect(throws: TensorError.shapeMismatch(op: "add", "[2, 3] and [3, 2] (need equal shapes or a [3] row)")) {
            try a.adding(b)
        }
    }
}
