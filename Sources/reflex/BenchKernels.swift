import ArgumentParser
import CKernels
import Foundation
import ReflexCore

/// `reflex bench kernels`: OpenBLAS sgemm and our int8 GEMM/GEMV on the matrix shapes of real VLA
/// language models, plus memory bandwidth and the share of a decoder layer spent outside GEMM.
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "GEMM/GEMV throughput per kernel and ISA path on real model shapes.",
        discussion: """
            Shapes (K×N): Qwen2.5-0.5B 896×896, 896×4864, 4864×896, 896×151936; Llama-2-7B 4096×4096, \
            4096×11008, 11008×4096; M = 1, 64, 256, 512 rows. gops = 2·M·N·K / time / 1e9; \
            gbps = bytes of weights read / time. Each figure is the median of repeated runs.
            """
    )

    @Flag(help: "Print one JSON object on stdout (progress stays on stderr).")
    var json = false

    @Option(help: "Comma-separated int8 paths to measure (default: every supported path but scalar).")
    var isa: String?

    @Option(help: "Comma-separated row counts M.")
    var m: String = "1,64,256,512"

    @Option(help: "Shape set: qwen, llama or all.")
    var shapes: ShapeSet = .all

    @Option(help: "Worker threads (default: REFLEX_THREADS or the CPUs available).")
    var threads: Int?

    @Option(help: "Minimum seconds of timed runs per figure.")
    var minSeconds: Double = 0.3

    @Flag(help: "Skip the decoder-layer measurement.")
    var noLayer = false

    @Flag(help: "Skip the 512 MB GEMV that measures streaming from DRAM.")
    var noDram = false

    enum ShapeSet: String, ExpressibleByArgument, CaseIterable { case qwen, llama, all }

    func validate() throws {
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be 1…256, got \(threads)") }
        guard minSeconds.isFinite, (0.001...3600).contains(minSeconds) else { throw ValidationError("--min-seconds must be 0.001…3600, got \(minSeconds)") }
        _ = try parsedPaths()
        _ = try parsedRows()
    }

    func parsedPaths() throws -> [KernelISA] {
        guard let isa else { return KernelISA.supported.filter { $0 != .scalar } }
        return try isa.split(separator: ",").map { name in
            guard let p = KernelISA(name: String(name)), p != .auto else {
                throw ValidationError("--isa: unknown path '\(name)' (known: \(KernelISA.allCases.dropFirst().map(\.description).joined(separator: ", ")))")
            }
            guard p.isSupported else { throw ValidationError("--isa: path '\(name)' is not supported on this CPU") }
            return p
        }
    }

    func parsedRows() throws -> [Int] {
        try m.split(separator: ",").map {
            guard let v = Int($0), v >= 1 else { throw ValidationError("--m: '\($0)' is not a positive row count") }
            return v
        }
    }

    func run() throws {
        if let threads { Kernels.setThreads(threads) } else { Kernels.setThreads(Kernels.threads) }
        let paths = try parsedPaths(), rows = try parsedRows()
        var report = KernelReport(threads: Kernels.threads, isaBest: KernelISA.best.description)

        // Buffers well beyond the last-level cache (this VM reports a 260 MB L3).
        log.info("memory bandwidth: \(Kernels.threads) threads, 1 GiB buffers")
        (report.memoryBandwidthGBps, report.memoryReadGBps) = Self.memoryBandwidth(bytes: 1 << 30, minSeconds: minSeconds)

        for shape in Self.shapes(shapes) {
            report.results += try Self.benchShape(k: shape.k, n: shape.n, model: shape.model, rows: rows,
                                                  paths: paths, minSeconds: minSeconds)
        }
        if rows.contains(1) && !noDram {
            // A weight matrix larger than every cache: what decoding a big model streams per token.
            report.results += try Self.benchDRAMGemv(k: 8192, n: 65536, paths: paths, minSeconds: minSeconds)
        }
        if !noLayer {
            log.info("decoder layer: Qwen2.5-0.5B, 256 tokens, fp32")
            report.decoderLayer = try Self.benchLayer(tokens: 256, minSeconds: minSeconds)
        }
        if json {
            try printJSON(report)
        } else {
            print(report.table())
        }
    }

    struct Shape { let model: String, k: Int, n: Int }

    static func shapes(_ set: ShapeSet) -> [Shape] {
        let qwen = [(896, 896), (896, 4864), (4864, 896), (896, 151936)].map { Shape(model: "qwen2.5-0.5b", k: $0.0, n: $0.1) }
        let llama = [(4096, 4096), (4096, 11008), (11008, 4096)].map { Shape(model: "llama-2-7b", k: $0.0, n: $0.1) }
        switch set {
        case .qwen: return qwen
        case .llama: return llama
        case .all: return qwen + llama
        }
    }

    /// STREAM-style copy bandwidth (bytes read + written) and read-only bandwidth, all threads.
    static func memoryBandwidth(bytes: Int, minSeconds: Double) -> (copy: Double, read: Double) {
        let src = rk_alloc(bytes)!, dst = rk_alloc(bytes)!
        defer { rk_free(src); rk_free(dst) }
        memset(src, 1, bytes)
        memset(dst, 0, bytes)
        let copy = medianSeconds(minReps: 5, minSeconds: minSeconds) { rk_parallel_memcpy(dst, src, bytes) }
        var sink: UInt64 = 0
        let read = medianSeconds(minReps: 5, minSeconds: minSeconds) { sink &+= rk_parallel_read(src, bytes) }
        if sink == 42 { log.trace("checksum \(sink)") }
        return (2 * Double(bytes) / copy / 1e9, Double(bytes) / read / 1e9)
    }

    static func benchShape(k: Int, n: Int, model: String, rows: [Int], paths: [KernelISA], minSeconds: Double) throws -> [KernelResult] {
        log.info("shape K×N = \(k)×\(n) (\(model)): preparing weights")
        var rng = SplitMix64(seed: UInt64(k * 31 + n))
        // Uniform data is enough for throughput and much faster to generate than Gaussian.
        let w = Tensor.uniform([n, k], rng: &rng)
        let maxM = rows.max() ?? 1
        let x = Tensor.uniform([maxM, k], rng: &rng)
        var results: [KernelResult] = []

        func record(_ kernel: String, _ isa: String, _ m: Int, _ seconds: Double, weightBytes: Int) {
            let r = KernelResult(kernel: kernel, isa: isa, m: m, n: n, k: k,
                                 gops: 2 * Double(m) * Double(n) * Double(k) / seconds / 1e9,
                                 gbps: Double(weightBytes) / seconds / 1e9, ms: seconds * 1e3)
            log.info("  \(kernel.padding(toLength: 9, withPad: " ", startingAt: 0)) \(isa.padding(toLength: 10, withPad: " ", startingAt: 0)) M=\(m): \(String(format: "%7.1f", r.gops)) GOP/s \(String(format: "%6.1f", r.gbps)) GB/s")
            results.append(r)
        }

        // Inputs and preallocated outputs per M, so only the products are timed. The int8 figures
        // include dynamic activation quantization and the dequantizing epilogue (a whole layer call,
        // as PyTorch's dynamic int8 Linear does).
        let inputs = try rows.map { try x.slice(axis: 0, 0..<$0) }
        var outputs = rows.map { Tensor(zeros: [$0, n]) }
        let fp32 = try Linear(weight: w)
        for (i, m) in rows.enumerated() {
            let t = try medianSeconds(minSeconds: minSeconds) { try fp32.apply(inputs[i], into: &outputs[i]) }
            record("sgemm", "openblas", m, t, weightBytes: n * k * 4)
        }
        let q = QuantizedRows(w)
        for path in paths {
            let layer = try QuantizedLinear(quantized: q, isa: path)
            for (i, m) in rows.enumerated() {
                let t = try medianSeconds(minSeconds: minSeconds) { try layer.apply(inputs[i], into: &outputs[i]) }
                record(m == 1 ? "int8_gemv" : "int8_gemm", path.description, m, t, weightBytes: layer.packedBytes)
            }
        }
        return results
    }

    /// int8 GEMV (M = 1) on a K×N weight matrix larger than the caches, with random int8 weights.
    static func benchDRAMGemv(k: Int, n: Int, paths: [KernelISA], minSeconds: Double) throws -> [KernelResult] {
        log.info("DRAM GEMV: K×N = \(k)×\(n) (\((k * n) >> 20) MiB of int8 weights)")
        var rng = SplitMix64(seed: 11)
        var values = [Int8](repeating: 0, count: k * n)
        values.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in words.indices { words[i] = rng.next() & 0x3F3F_3F3F_3F3F_3F3F }  // bytes in [0, 63]
        }
        let q = QuantizedRows(rows: n, cols: k, values: values, scales: [Float](repeating: 0.01, count: n))
        values = []
        let x = Tensor.uniform([1, k], rng: &rng)
        var y = Tensor(zeros: [1, n])
        var results: [KernelResult] = []
        for path in paths {
            let layer = try QuantizedLinear(quantized: q, isa: path)
            let t = try medianSeconds(minSeconds: minSeconds) { try layer.apply(x, into: &y) }
            let r = KernelResult(kernel: "int8_gemv", isa: path.description, m: 1, n: n, k: k,
                                 gops: 2 * Double(n) * Double(k) / t / 1e9, gbps: Double(layer.packedBytes) / t / 1e9, ms: t * 1e3)
            log.info("  int8_gemv \(path) M=1: \(String(format: "%.1f", r.gbps)) GB/s")
            results.append(r)
        }
        return results
    }

    /// Times one fp32 Qwen2.5-0.5B decoder layer on a prefill of `tokens` positions and the share of
    /// that time spent inside sgemm.
    static func benchLayer(tokens: Int, minSeconds: Double) throws -> LayerResult {
        let config = DecoderLayerConfig.qwen25_05B
        let layer = try DecoderLayer.random(config)
        let rope = try RotaryEmbedding(headDim: config.headDim, theta: 1_000_000, maxPositions: tokens)
        var rng = SplitMix64(seed: 7)
        let x = Tensor.gaussian([tokens, config.hidden], rng: &rng)
        var cache = KVCache(kvHeads: config.kvHeads, headDim: config.headDim, capacity: tokens)
        var gemmShares: [Double] = []
        let total = try medianSeconds(minReps: 5, minSeconds: minSeconds) {
            cache.reset()
            GemmProfiler.reset()
            GemmProfiler.enabled = true
            let t0 = monotonicNanos()
            _ = try layer(x, cache: &cache, rope: rope)
            let dt = Double(monotonicNanos() - t0)
            GemmProfiler.enabled = false
            gemmShares.append(Double(GemmProfiler.nanoseconds) / dt)
        }
        gemmShares.sort()
        let gemmShare = gemmShares[gemmShares.count / 2]
        return LayerResult(model: "qwen2.5-0.5b", tokens: tokens, precision: "fp32", totalMs: total * 1e3,
                           gemmMs: total * gemmShare * 1e3, nonGemmFraction: 1 - gemmShare)
    }
}

/// One measured kernel figure.
struct KernelResult: Codable {
    var kernel: String
    var isa: String
    var m, n, k: Int
    var gops: Double
    var gbps: Double
    var ms: Double
}

/// Decoder-layer timing split into GEMM and everything else.
struct LayerResult: Codable {
    var model: String
    var tokens: Int
    var precision: String
    var totalMs: Double
    var gemmMs: Double
    var nonGemmFraction: Double

    enum CodingKeys: String, CodingKey {
        case model, tokens, precision
        case totalMs = "total_ms", gemmMs = "gemm_ms", nonGemmFraction = "non_gemm_fraction"
    }
}

/// The whole `bench kernels` report (the --json object).
struct KernelReport: Codable {
    var threads: Int
    var isaBest: String
    var memoryBandwidthGBps = 0.0
    var memoryReadGBps = 0.0
    var results: [KernelResult] = []
    var decoderLayer: LayerResult?

    enum CodingKeys: String, CodingKey {
        case threads, results
        case isaBest = "isa_best"
        case memoryBandwidthGBps = "memory_bandwidth_gbps"
        case memoryReadGBps = "memory_read_gbps"
        case decoderLayer = "decoder_layer"
    }

    /// Human-readable table: one row per shape and M, sgemm next to each int8 path with the ratio.
    func table() -> String {
        var out = "Reflex kernel benchmark — \(threads) threads, best int8 path: \(isaBest)\n"
        out += String(format: "memory bandwidth: copy %.1f GB/s, read %.1f GB/s\n\n", memoryBandwidthGBps, memoryReadGBps)
        out += "kernel     isa          M      K      N     GOP/s    GB/s   ×sgemm\n"
        var sgemm: [String: Double] = [:]
        for r in results where r.kernel == "sgemm" { sgemm["\(r.m)x\(r.k)x\(r.n)"] = r.gops }
        for r in results {
            let base = sgemm["\(r.m)x\(r.k)x\(r.n)"] ?? r.gops
            out += String(format: "%@ %@ %5d %6d %6d %9.1f %7.1f %7.2f\n",
                          r.kernel.padding(toLength: 10, withPad: " ", startingAt: 0),
                          r.isa.padding(toLength: 10, withPad: " ", startingAt: 0), r.m, r.k, r.n, r.gops, r.gbps, r.gops / base)
        }
        if let l = decoderLayer {
            out += String(format: "\ndecoder layer (%@, %d tokens, %@): %.2f ms, GEMM %.2f ms, outside GEMM %.1f%%\n",
                          l.model, l.tokens, l.precision, l.totalMs, l.gemmMs, l.nonGemmFraction * 100)
        }
        if memoryBandwidthGBps > 0 && memoryReadGBps > 0 {
            for r in results where r.kernel == "int8_gemv" {
                out += String(format: "GEMV %@ %d×%d (%.0f MB): %.1f GB/s = %.0f%% of copy, %.0f%% of read bandwidth\n", r.isa, r.k, r.n,
                              Double(r.k * r.n) / 1e6, r.gbps, 100 * r.gbps / memoryBandwidthGBps, 100 * r.gbps / memoryReadGBps)
            }
        }
        return out
    }
}
