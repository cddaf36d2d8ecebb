import CKernels

/// Boxes a closure so that a C worker thread can call it through an opaque context pointer.
private final class TaskBox {
    let body: (Int) -> Void
    init(_ body: @escaping (Int) -> Void) { self.body = body }
}

/// Runs `body(task)` for every task in `0..<count` on the kernel thread pool (`REFLEX_THREADS`
/// workers, default: the CPUs available) and returns when all have finished. Tasks must write to
/// disjoint memory. Nested calls run serially on the calling thread.
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 0 { return }
    if count == 1 { body(0); return }
    withoutActuallyEscaping(body) { escaping in
        let box = TaskBox(escaping)
        withExtendedLifetime(box) {
            rk_parallel_for(Int32(count), { ctx, task in
                Unmanaged<TaskBox>.fromOpaque(ctx!).takeUnretainedValue().body(Int(task))
            }, Unmanaged.passUnretained(box).toOpaque())
        }
    }
}

/// Splits `rows` rows into at most `threads × 4` contiguous chunks of at least `minRows` rows and
/// runs `body(range)` for each chunk in parallel. Small inputs run inline.
public func parallelRows(_ rows: Int, minRows: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = Kernels.threads
    let chunks = Swift.min(Swift.max(rows / Swift.max(minRows, 1), 1), threads * 4)
    if chunks <= 1 || threads <= 1 { body(0..<rows); return }
    let per = (rows + chunks - 1) / chunks
    parallelFor(chunks) { c in
        let lo = c * per
        let hi = Swift.min(rows, lo + per)
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(start, length)` over `count` elements in cache-friendly chunks on the pool
/// (inline for small counts).
func parallelChunks(_ count: Int, _ body: (Int, Int) -> Void) {
    let chunk = 1 << 15
    if count <= chunk { body(0, count); return }
    let pieces = (count + chunk - 1) / chunk
    parallelRows(pieces) { range in
        for p in range {
            let lo = p * chunk
            body(lo, Swift.min(chunk, count - lo))
        }
    }
}
