import CKernels
import Testing
import ReflexTestSupport
@testable import ReflexCore

@Suite("int8 quantization and GEMM on every kernel path")
struct QuantizationTests {
    /// Plain int32 loops, independent of CKernels' own reference.
    func int32Reference(_ a: [Int8], _ w: [Int8], m: Int, n: Int, k: Int) -> [Int32] {
        var c = [Int32](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Int32 = 0
                for p in 0..<k { s &+= Int32(a[i * k + p]) * Int32(w[j * k + p]) }
                c[i * n + j] = s
            }
        }
        return c
    }

    func randomInt8(_ count: Int, _ rng: inout SplitMix64) -> [Int8] {
        (0..<count).map { _ in Int8(Int(rng.next() % 255) - 127) }
    }

    /// Runs the packed int32 product for `isa` with the given thread count.
    func packedProduct(_ a: [Int8], _ w: [Int8], m: Int, n: Int, k: Int, isa: KernelISA) throws -> [Int32] {
        let packed = try #require(w.withUnsafeBufferPointer { rk_q8_pack($0.baseAddress, Int32(n), Int32(k), Int32(k), isa.raw) })
        defer { rk_q8_free(packed) }
        #expect(KernelISA(rawValue: Int32(packed.pointee.isa.rawValue)) == isa)
        var c = [Int32](repeating: -1, count: m * n)
        a.withUnsafeBufferPointer { ap in
            c.withUnsafeMutableBufferPointer { cp in
                rk_q8_gemm_i32(packed, ap.baseAddress, Int32(m), Int32(k), cp.baseAddress, Int32(n))
            }
        }
        return c
    }

    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (1, 17, 3), (1, 64, 257), (1, 130, 64), (2, 3, 5), (3, 15, 31), (5, 16, 32),
        (7, 65, 33), (13, 63, 100), (64, 64, 64), (65, 17, 4), (6, 130, 257), (65, 130, 31),
    ]

    @Test(arguments: KernelISA.supported)
    func gemmIsBitExactAgainstInt32Reference(_ isa: KernelISA) throws {
        var rng = freshRNG()
        for (m, n, k) in Self.shapes {
            let a = randomInt8(m * k, &rng), w = randomInt8(n * k, &rng)
            let want = int32Reference(a, w, m: m, n: n, k: k)
            for threads in [1, 2] {
                Kernels.setThreads(threads)
                let got = try packedProduct(a, w, m: m, n: n, k: k, isa: isa)
                #expect(got == want, "\(isa) m \(m) n \(n) k \(k) threads \(threads)")
            }
        }
        Kernels.setThreads(Kernels.threads)
    }

    @Test(arguments: KernelISA.supported)
    func extremeValuesDoNotOverflowOrSaturate(_ isa: KernelISA) throws {
        // ±127 everywhere over a Llama-2 MLP depth: sums reach 127²·11008 ≈ 1.8e8.
        let m = 3, n = 5, k = 11008
        var rng = freshRNG()
        let a = (0..<(m * k)).map { _ in Int8(rng.next() % 2 == 0 ? 127 : -127) }
        var w = (0..<(n * k)).map { _ in Int8(rng.next() % 2 == 0 ? 127 : -127) }
        for p in 0..<k { w[p] = a[p] }  // row 0 of W equals row 0 of A: the maximum positive sum
        let got = try packedProduct(a, w, m: m, n: n, k: k, isa: isa)
        #expect(got == int32Reference(a, w, m: m, n: n, k: k))
        #expect(got[0] == 127 * 127 * Int32(k))
    }

    @Test func unsupportedPathIsRefused() {
        let foreign: [KernelISA] = KernelISA.allCases.filter { $0 != .auto && !$0.isSupported }
        for isa in foreign {
            #expect(throws: TensorError.invalidArgument("QuantizedLinear: kernel path \(isa) is not supported on this CPU")) {
                try QuantizedLinear(weight: Tensor(zeros: [4, 4]), isa: isa)
            }
        }
    }

    @Test(arguments: [1, 7, 64, 100, 4096])
    func rowQuantizationRoundsToNearestWithinRange(_ cols: Int) {
        var rng = freshRNG()
        var x = Tensor.gaussian([4, cols], std: 3, rng: &rng)
        for c in 0..<cols { x[3, c] = 0 }  // an all-zero row
        let q = QuantizedRows(x)
        for r in 0..<4 {
            let maxAbs = (0..<cols).map { abs(x[r, $0]) }.max()!
            let scale = q.scales[r]
            if maxAbs == 0 {
                #expect(q.values[(r * cols)..<((r + 1) * cols)].allSatisfy { $0 == 0 })
                continue
            }
            #expect(abs(scale - maxAbs / 127) <= 1e-6 * scale)
            for c in 0..<cols {
                let v = Int(q.values[r * cols + c]), exact = Double(x[r, c]) / Double(scale)
                #expect(abs(Double(v) - exact) <= 0.5 + 1e-4, "row \(r) col \(c): \(v) for \(exact)")
                #expect(v >= -127 && v <= 127)
            }
        }
    }

    @Test(arguments: KernelISA.supported)
    func quantizedLinearMatchesDequantizedReference(_ isa: KernelISA) throws {
        var rng = freshRNG()
        let (m, n, k) = (9, 37, 129)
        let x = Tensor.gaussian([m, k], rng: &rng)
        let w = Tensor.gaussian([n, k], rng: &rng), b = Tensor.gaussian([n], rng: &rng)
        let layer = try QuantizedLinear(weight: w, bias: b, isa: isa)
        let y = try layer(x)
        // The layer must compute exactly dequant(q_x) · dequant(q_w)ᵀ + b (up to fp32 rounding).
        var ref = matmulABt(toDouble(QuantizedRows(x).dequantized()), toDouble(QuantizedRows(w).dequantized()), m: m, n: n, k: k)
        for i in ref.indices { ref[i] += Double(b[flat: i % n]) }
        #expect(relativeError(toDouble(y), ref) < 1e-6)
    }

    @Test func quantizedLinearStaysCloseToFloatLayer() throws {
        var rng = freshRNG()
        let (m, n, k) = (32, 256, 896)
        let x = Tensor.gaussian([m, k], rng: &rng), w = Tensor.gaussian([n, k], rng: &rng)
        let exact = matmulABt(toDouble(x), toDouble(w), m: m, n: n, k: k)
        let err = relativeError(toDouble(try QuantizedLinear(weight: w)(x)), exact)
        // Per-token × per-channel int8 on Gaussian data: expected ≈ √2 · (max|x|/127)/√12 ≈ 1.1 %.
        #expect(err < 0.015, "relative error \(err)")
        #expect(err > 0.001, "suspiciously exact: \(err)")
    }

    @Test func reservedMinusOneTwentyEightIsRejected() {
        var rows = QuantizedRows(Tensor(shape: [2, 2]) { Float($0) })
        rows.values[3] = -128
        #expect(throws: TensorError.invalidArgument("QuantizedLinear: value -128 at index 3; symmetric int8 uses [-127, 127]")) {
            try QuantizedLinear(quantized: rows)
        }
    }
}
