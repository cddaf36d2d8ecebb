// Float64 reference implementations and comparison helpers. Written independently of the
// kernels under test: plain loops, double precision, textbook formulas.
import Foundation
@testable import ReflexCore
import ReflexTestSupport

/// C[m][n] = Σ_k A[m][k] · B[n][k]  (B given as [N, K]).
func matmulABt(_ a: [Double], _ b: [Double], m: Int, n: Int, k: Int) -> [Double] {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += a[i * k + p] * b[j * k + p] }
            c[i * n + j] = s
        }
    }
    return c
}

/// Transpose of a [r, c] row-major matrix.
func transpose(_ a: [Double], rows r: Int, cols c: Int) -> [Double] {
    var t = [Double](repeating: 0, count: r * c)
    for i in 0..<r { for j in 0..<c { t[j * r + i] = a[i * c + j] } }
    return t
}

func softmaxRef(_ x: [Double]) -> [Double] {
    let m = x.max() ?? 0
    let e = x.map { Foundation.exp($0 - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

func rmsNormRef(_ x: [Double], _ w: [Double], eps: Double) -> [Double] {
    let ms = x.map { $0 * $0 }.reduce(0, +) / Double(x.count)
    let inv = 1 / (ms + eps).squareRoot()
    return x.indices.map { x[$0] * inv * w[$0] }
}

func layerNormRef(_ x: [Double], _ w: [Double], _ b: [Double], eps: Double) -> [Double] {
    let mean = x.reduce(0, +) / Double(x.count)
    let v = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count)
    let inv = 1 / (v + eps).squareRoot()
    return x.indices.map { (x[$0] - mean) * inv * w[$0] + b[$0] }
}

func siluRef(_ x: Double) -> Double { x / (1 + Foundation.exp(-x)) }
func geluErfRef(_ x: Double) -> Double { 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot())) }
func geluTanhRef(_ x: Double) -> Double {
    0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
}

/// Rotate-half RoPE of one head vector at `pos`.
func ropeRef(_ x: [Double], pos: Int, theta: Double) -> [Double] {
    let d = x.count, h = d / 2
    var y = x
    for i in 0..<h {
        let a = Double(pos) / Foundation.pow(theta, Double(2 * i) / Double(d))
        y[i] = x[i] * Foundation.cos(a) - x[i + h] * Foundation.sin(a)
        y[i + h] = x[i + h] * Foundation.cos(a) + x[i] * Foundation.sin(a)
    }
    return y
}

/// Grouped-query attention in double: q [T, H·D], k/v [S, KVH·D]; query t at position start + t.
func attentionRef(q: [Double], k: [Double], v: [Double], t: Int, s: Int, heads: Int, kvHeads: Int,
                  d: Int, causal: Bool, start: Int) -> [Double] {
    var out = [Double](repeating: 0, count: t * heads * d)
    let group = heads / kvHeads
    for h in 0..<heads {
        let kh = h / group
        for i in 0..<t {
            let visible = causal ? min(s, start + i + 1) : s
            var scores = [Double](repeating: 0, count: visible)
            for j in 0..<visible {
                var dot = 0.0
                for p in 0..<d { dot += q[i * heads * d + h * d + p] * k[j * kvHeads * d + kh * d + p] }
                scores[j] = dot / Double(d).squareRoot()
            }
            let pr = softmaxRef(scores)
            for p in 0..<d {
                var acc = 0.0
                for j in 0..<visible { acc += pr[j] * v[j * kvHeads * d + kh * d + p] }
                out[i * heads * d + h * d + p] = acc
            }
        }
    }
    return out
}
