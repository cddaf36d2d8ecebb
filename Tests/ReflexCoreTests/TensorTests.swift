import Testing
@testable import ReflexCore

@Suite("Tensor storage and shape")
struct TensorTests {
    @Test func storageIs64ByteAligned() {
        for n in [1, 3, 17, 1000] {
            let t = Tensor(zeros: [n])
            t.withUnsafeBufferPointer { #expect(UInt(bitPattern: $0.baseAddress!) % 64 == 0) }
        }
    }

    @Test func copyOnWriteKeepsValueSemantics() throws {
        let a = try Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        var b = a
        b[1, 1] = 9
        #expect(a.scalars == [1, 2, 3, 4])
        #expect(b.scalars == [1, 2, 3, 9])
    }

    @Test func valueCountMustMatchShape() {
        #expect(throws: TensorError.invalidArgument("Tensor(shape: [2, 3]) needs 6 values, got 5")) {
            try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5])
        }
    }

    @Test func reshapeChecksElementCount() throws {
        let t = Tensor(zeros: [4, 6])
        #expect(try t.reshaped([2, 12]).shape == [2, 12])
        #expect(throws: TensorError.shapeMismatch(op: "reshape", "[4, 6] cannot become [5, 5]")) {
            try t.reshaped([5, 5])
        }
    }
}
