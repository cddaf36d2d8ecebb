import Testing
@testable import ReflexCore

@Suite("Concat, slice, gather, embedding, transpose")
struct ShapeTests {
    /// A tensor whose elements are their own flat indices.
    func iota(_ shape: [Int]) -> Tensor { Tensor(shape: shape) { Float($0) } }

    @Test func concatAlongEachAxis() throws {
        let a = iota([2, 3, 4]), b = iota([2, 1, 4]).scaled(by: -1)
        let c = try Tensor.concat([a, b], axis: 1)
        #expect(c.shape == [2, 4, 4])
        for i in 0..<2 {
            for j in 0..<4 {
                for k in 0..<4 {
                    let want = j < 3 ? Float(i * 12 + j * 4 + k) : -Float(i * 4 + k)
                    #expect(c[flat: (i * 4 + j) * 4 + k] == want)
                }
            }
        }
        let last = try Tensor.concat([iota([3, 2]), iota([3, 5])], axis: -1)
        #expect(last.shape == [3, 7])
        #expect(last.scalars[0..<7] == [0, 1, 0, 1, 2, 3, 4])
        let first = try Tensor.concat([iota([1, 2]), iota([2, 2])], axis: 0)
        #expect(first.scalars == [0, 1, 0, 1, 2, 3])
    }

    @Test func concatRejectsMismatchedDimensions() {
        #expect(throws: TensorError.shapeMismatch(op: "concat", "axis 0: [[2, 3], [2, 4]]")) {
            try Tensor.concat([Tensor(zeros: [2, 3]), Tensor(zeros: [2, 4])], axis: 0)
        }
    }

    @Test func sliceAlongMiddleAxis() throws {
        let s = try iota([2, 5, 3]).slice(axis: 1, 1..<3)
        #expect(s.shape == [2, 2, 3])
        #expect(s.scalars == [3, 4, 5, 6, 7, 8, 18, 19, 20, 21, 22, 23])
        #expect(throws: TensorError.invalidArgument("slice: range 4..<6 out of bounds for axis 1 of [2, 5, 3]")) {
            try iota([2, 5, 3]).slice(axis: 1, 4..<6)
        }
    }

    @Test func gatherRowsKeepsOrderAndRepeats() throws {
        let t = iota([5, 3])
        let g = try t.gatherRows([4, 0, 4, 2])
        #expect(g.shape == [4, 3])
        #expect(g.scalars == [12, 13, 14, 0, 1, 2, 12, 13, 14, 6, 7, 8])
        #expect(throws: TensorError.invalidArgument("gatherRows: index 5 out of range for 5 rows of [5, 3]")) {
            try t.gatherRows([1, 5])
        }
    }

    @Test func embeddingLooksUpRowsAndRejectsBadIds() throws {
        let table = iota([10, 4])
        #expect(try table.embedding([3, 3, 9]).scalars == [12, 13, 14, 15, 12, 13, 14, 15, 36, 37, 38, 39])
        #expect(throws: TensorError.invalidArgument("embedding: token id 10 out of range for vocabulary of 10")) {
            try table.embedding([10])
        }
    }

    @Test(arguments: [(1, 1), (3, 70), (33, 65)])
    func transposeSwapsIndices(_ shape: (Int, Int)) throws {
        let t = iota([shape.0, shape.1])
        let tt = try t.transposed()
        #expect(tt.shape == [shape.1, shape.0])
        for i in 0..<shape.0 { for j in 0..<shape.1 { #expect(tt[j, i] == t[i, j]) } }
    }
}
