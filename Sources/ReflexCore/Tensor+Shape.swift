/// Copies that rearrange elements: concatenation, slicing, row gathers, transposition.
extension Tensor {
    /// Splits `shape` around `axis` into (outer, size, inner) element counts.
    private func split(at axis: Int) -> (outer: Int, size: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// Resolves a possibly negative axis against `rank`.
    private func axisIndex(_ axis: Int, op: String) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < rank else {
            throw TensorError.invalidArgument("\(op): axis \(axis) out of range for shape \(shape)")
        }
        return a
    }

    /// Concatenates tensors along `axis` (negative counts from the end). All other dimensions must agree.
    public static func concat(_ parts: [Tensor], axis: Int) throws -> Tensor {
        guard let first = parts.first else { throw TensorError.invalidArgument("concat: no tensors") }
        let ax = try first.axisIndex(axis, op: "concat")
        for p in parts where p.rank != first.rank
            || p.shape[..<ax] != first.shape[..<ax] || p.shape[(ax + 1)...] != first.shape[(ax + 1)...] {
            throw TensorError.shapeMismatch(op: "concat", "axis \(axis): \(parts.map(\.shape))")
        }
        var outShape = first.shape
        outShape[ax] = parts.reduce(0) { $0 + $1.shape[ax] }
        let out = Tensor(uninitialized: outShape)
        let (outer, total, inner) = out.split(at: ax)
        var offset = 0
        for p in parts {
            let width = p.shape[ax] * inner
            for o in 0..<outer {
                (out.storage.pointer + o * total * inner + offset).update(from: p.storage.pointer + o * width, count: width)
            }
            offset += width
        }
        return out
    }

    /// The elements whose index along `axis` lies in `range`.
    public func slice(axis: Int, _ range: Range<Int>) throws -> Tensor {
        let ax = try axisIndex(axis, op: "slice")
        guard range.lowerBound >= 0, range.upperBound <= shape[ax] else {
            throw TensorError.invalidArgument("slice: range \(range) out of bounds for axis \(axis) of \(shape)")
        }
        var outShape = shape
        outShape[ax] = range.count
        let out = Tensor(uninitialized: outShape)
        let (outer, size, inner) = split(at: ax)
        let width = range.count * inner
        for o in 0..<outer {
            (out.storage.pointer + o * width).update(from: storage.pointer + (o * size + range.lowerBound) * inner, count: width)
        }
        return out
    }

    /// Rows of the matrix view [rows, lastDim] picked by `indices` (in that order, repeats allowed):
    /// the primitive behind token pruning. The result has shape [indices.count, lastDim].
    public func gatherRows(_ indices: [Int]) throws -> Tensor {
        let n = lastDim, r = rows
        if let bad = indices.first(where: { $0 < 0 || $0 >= r }) {
            throw TensorError.invalidArgument("gatherRows: index \(bad) out of range for \(r) rows of \(shape)")
        }
        let out = Tensor(uninitialized: [indices.count, n])
        for (i, src) in indices.enumerated() {
            (out.storage.pointer + i * n).update(from: storage.pointer + src * n, count: n)
        }
        return out
    }

    /// Embedding lookup: rows of this table [vocab, dim] for each token id → [ids.count, dim].
    public func embedding(_ ids: [Int]) throws -> Tensor {
        guard rank == 2 else {
            throw TensorError.shapeMismatch(op: "embedding", "table must be [vocab, dim], got \(shape)")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= shape[0] }) {
            throw TensorError.invalidArgument("embedding: token id \(bad) out of range for vocabulary of \(shape[0])")
        }
        return try gatherRows(ids)
    }

    /// The transpose of a 2-D tensor.
    public func transposed() throws -> Tensor {
        guard rank == 2 else { throw TensorError.shapeMismatch(op: "transpose", "needs 2-D, got \(shape)") }
        let (r, c) = (shape[0], shape[1])
        let out = Tensor(uninitialized: [c, r])
        let src = storage.pointer, dst = out.storage.pointer
        // Blocked so both sides stay in cache.
        let bs = 32
        for i0 in stride(from: 0, to: r, by: bs) {
            for j0 in stride(from: 0, to: c, by: bs) {
                for i in i0..<Swift.min(i0 + bs, r) {
                    let row = src + i * c
                    for j in j0..<Swift.min(j0 + bs, c) { dst[j * r + i] = row[j] }
                }
            }
        }
        return out
    }
}
