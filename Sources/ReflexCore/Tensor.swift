import CKernels

/// Storage for `count` floats: either owned (64-byte aligned, zero-initialised, allocated here) or
/// borrowed read-only from memory someone else keeps alive — a memory-mapped checkpoint, so fp32
/// weights load without a copy. Borrowed storage is never written: `Tensor` copies before a write.
public final class TensorStorage: @unchecked Sendable {
    /// Start of the buffer (valid for `count` elements; at least one element is always allocated).
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of elements.
    public let count: Int
    /// The owner of borrowed memory (nil for owned storage).
    public let owner: AnyObject?

    /// Whether the elements live in someone else's (read-only) memory.
    public var isBorrowed: Bool { owner != nil }

    /// Allocates `count` zeroed floats.
    public convenience init(count: Int) {
        self.init(uninitializedCount: count)
        pointer.update(repeating: 0, count: Swift.max(count, 1))
    }

    /// Allocates `count` floats without clearing them: for outputs an operation writes completely.
    @usableFromInline init(uninitializedCount count: Int) {
        precondition(count >= 0, "negative element count \(count)")
        let bytes = Swift.max(count, 1) * MemoryLayout<Float>.stride
        guard let raw = rk_alloc(bytes) else { fatalError("out of memory allocating \(bytes) bytes") }
        pointer = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        self.count = count
        owner = nil
    }

    /// Borrows `count` floats at `pointer`, kept alive by `owner`.
    public init(borrowing pointer: UnsafePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = UnsafeMutablePointer(mutating: pointer)
        self.count = count
        self.owner = owner
    }

    deinit { if owner == nil { rk_free(pointer) } }
}

/// A dense, row-major fp32 tensor with value semantics (copy on write).
///
/// This is the activation type of the whole runtime: ViT patch tokens, projector outputs, decoder
/// hidden states and KV-cache rows are all `Tensor`s. Shapes are checked by every operation and a
/// mismatch is a thrown ``TensorError`` naming the shapes involved.
public struct Tensor: Sendable {
    /// Dimensions, outermost first. A scalar has shape `[]` and one element.
    public internal(set) var shape: [Int]
    /// The backing buffer, shared between copies until one of them mutates.
    @usableFromInline var storage: TensorStorage

    /// A zero tensor of the given shape.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// A tensor whose elements the caller will all overwrite before reading (skips the clearing
    /// pass on operation outputs).
    init(uninitialized shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.storage = TensorStorage(uninitializedCount: shape.reduce(1, *))
    }

    /// A tensor holding `values` in row-major order; throws when the count does not match the shape.
    public init(shape: [Int], values: [Float]) throws {
        let n = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), n == values.count else {
            throw TensorError.invalidArgument("Tensor(shape: \(shape)) needs \(n) values, got \(values.count)")
        }
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { storage.pointer.update(from: base, count: n) }
        }
    }

    /// A read-only view of `shape.reduce(1, *)` floats at `pointer`, kept alive by `owner`
    /// (zero-copy weights). Writes through the returned value copy first.
    public init(borrowing pointer: UnsafePointer<Float>, shape: [Int], owner: AnyObject) {
        self.shape = shape
        storage = TensorStorage(borrowing: pointer, count: shape.reduce(1, *), owner: owner)
    }

    /// A tensor whose elements are produced by `body(flatIndex)`.
    public init(shape: [Int], _ body: (Int) -> Float) {
        self.init(zeros: shape)
        let p = storage.pointer
        for i in 0..<count { p[i] = body(i) }
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }
    /// Size of the last dimension (row length of the row-major layout); 1 for a scalar.
    @inlinable public var lastDim: Int { shape.last ?? 1 }
    /// Number of rows when viewed as a matrix [count / lastDim, lastDim].
    @inlinable public var rows: Int { lastDim == 0 ? 0 : count / lastDim }

    /// The elements as an array (row-major). Copies.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// Element access by flat row-major index.
    @inlinable public subscript(flat i: Int) -> Float {
        get {
            precondition(i >= 0 && i < count, "index \(i) out of range for \(count) elements")
            return storage.pointer[i]
        }
        set {
            precondition(i >= 0 && i < count, "index \(i) out of range for \(count) elements")
            makeUnique()
            storage.pointer[i] = newValue
        }
    }

    /// Element access by row and column of the matrix view [rows, lastDim].
    @inlinable public subscript(row: Int, col: Int) -> Float {
        get { self[flat: row * lastDim + col] }
        set { self[flat: row * lastDim + col] = newValue }
    }

    /// Read access to the contiguous elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Write access to the contiguous elements (copies first if the buffer is shared).
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// Ensures this value owns its buffer before a write.
    @inlinable mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) || storage.isBorrowed {
            let fresh = TensorStorage(uninitializedCount: count)
            fresh.pointer.update(from: storage.pointer, count: count)
            storage = fresh
        }
    }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard newShape.allSatisfy({ $0 >= 0 }), newShape.reduce(1, *) == count else {
            throw TensorError.shapeMismatch(op: "reshape", "\(shape) cannot become \(newShape)")
        }
        var t = self
        t.shape = newShape
        return t
    }
}
