import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Rotary position embedding tables for one head size, in the "rotate half" layout used by
/// Llama-2 and Qwen2 (dimension i is paired with i + headDim/2).
///
/// Angles are computed in Float64 once (θ from the checkpoint's `rope_theta`) and stored as fp32
/// cos/sin tables of shape [maxPositions, headDim/2].
public struct RotaryEmbedding: Sendable {
    public let headDim: Int
    public let theta: Double
    public let maxPositions: Int
    let cosTable: Tensor
    let sinTable: Tensor

    /// Builds tables for positions `0..<maxPositions`. `headDim` must be even.
    public init(headDim: Int, theta: Double, maxPositions: Int) throws {
        guard headDim > 0, headDim % 2 == 0, maxPositions > 0, theta > 0 else {
            throw TensorError.invalidArgument(
                "RotaryEmbedding: need an even head size, positive θ and positions; got headDim \(headDim), θ \(theta), maxPositions \(maxPositions)")
        }
        self.headDim = headDim
        self.theta = theta
        self.maxPositions = maxPositions
        let half = headDim / 2
        var c = Tensor(zeros: [maxPositions, half])
        var s = Tensor(zeros: [maxPositions, half])
        c.withUnsafeMutableBufferPointer { cp in
            s.withUnsafeMutableBufferPointer { sp in
                for i in 0..<half {
                    let invFreq = 1.0 / Glibc.pow(theta, Double(2 * i) / Double(headDim))
                    for p in 0..<maxPositions {
                        let angle = Double(p) * invFreq
                        cp[p * half + i] = Float(Glibc.cos(angle))
                        sp[p * half + i] = Float(Glibc.sin(angle))
                    }
                }
            }
        }
        cosTable = c
        sinTable = s
    }

    /// Rotates every head of x [T, heads × headDim] in place; row t is at position `start + t`, or at
    /// `positions[t]` when given (a pruned prompt that keeps its original positions has gaps).
    public func apply(_ x: inout Tensor, heads: Int, start: Int, positions: [Int]? = nil) throws {
        guard x.rank == 2, x.lastDim == heads * headDim else {
            throw TensorError.shapeMismatch(op: "rope", "input \(x.shape) for \(heads) heads of \(headDim)")
        }
        let t = x.shape[0]
        if let positions {
            guard positions.count == t, positions.allSatisfy({ $0 >= 0 && $0 < maxPositions }) else {
                throw TensorError.invalidArgument(
                    "rope: \(positions.count) positions for \(t) rows, or one outside the table of \(maxPositions) positions")
            }
        } else {
            guard start >= 0, start + t <= maxPositions else {
                throw TensorError.invalidArgument(
                    "rope: positions \(start)..<\(start + t) exceed the table of \(maxPositions) positions")
            }
        }
        let half = headDim / 2, width = x.lastDim, hd = headDim
        let cs = cosTable.storage.pointer, sn = sinTable.storage.pointer
        x.makeUnique()
        let p = x.storage.pointer
        parallelRows(t, minRows: 16) { range in
            for r in range {
                let row = p + r * width
                let position = positions?[r] ?? start + r
                let c = cs + position * half, s = sn + position * half
                for h in 0..<heads { rk_rope_half(row + h * hd, c, s, hd) }
            }
        }
    }
}
