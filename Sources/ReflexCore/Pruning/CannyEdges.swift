/// OpenCV's Canny edge detector, bit for bit: `cv2.Canny(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), low, high)` with
/// the defaults SP-VLA's released code uses (3×3 Sobel, L1 gradient). Checked against OpenCV on
/// `Tests/Fixtures/canny` (made by `tools/make_canny_fixture.py`; the rules, with what each one guards against,
/// are in that folder's README).
///
/// The stages, in OpenCV's integer arithmetic:
/// 1. gray = (9798 R + 19235 G + 3735 B + 16384) >> 15;
/// 2. dx, dy: 3×3 Sobel with replicated borders; magnitude m = |dx| + |dy| (0 outside the image);
/// 3. candidates m > low; non-maximum suppression in three sectors (tan 22.5° as 13573 / 2¹⁵), `>` against the
///    neighbour before and `>=` against the one after (both `>` on a diagonal), so a plateau keeps one pixel;
/// 4. strong pixels m > high, grown through 8-connected candidates (hysteresis). Border pixels can be edges.
///
/// Allocation: the working buffers are held and reused, so a selector that keeps one `CannyEdges` per image
/// size allocates nothing per frame.
public struct CannyEdges: Sendable {
    public let width: Int
    public let height: Int
    public let low: Int
    public let high: Int
    /// The edge map, row-major, 255 on an edge and 0 elsewhere (after `detect`).
    public private(set) var edges: [UInt8]
    private var gray: [Int32]
    private var dx: [Int32]
    private var dy: [Int32]
    private var magnitude: [Int32]
    /// 0: candidate, 1: not an edge, 2: edge.
    private var state: [UInt8]
    private var stack: [Int32]

    /// Thresholds are OpenCV's: swapped when low > high, both compared strictly.
    public init(width: Int, height: Int, low: Int = 100, high: Int = 200) {
        precondition(width > 0 && height > 0, "CannyEdges needs a non-empty image")
        self.width = width
        self.height = height
        self.low = min(low, high)
        self.high = max(low, high)
        let n = width * height
        edges = [UInt8](repeating: 0, count: n)
        gray = [Int32](repeating: 0, count: n)
        dx = [Int32](repeating: 0, count: n)
        dy = [Int32](repeating: 0, count: n)
        magnitude = [Int32](repeating: 0, count: n)
        state = [UInt8](repeating: 1, count: n)
        stack = []
        stack.reserveCapacity(n)
    }

    /// OpenCV's `COLOR_RGB2GRAY` of one pixel.
    @inlinable
    public static func gray(r: UInt8, g: UInt8, b: UInt8) -> UInt8 {
        UInt8(truncatingIfNeeded: (9798 * Int32(r) + 19235 * Int32(g) + 3735 * Int32(b) + 16384) >> 15)
    }

    /// Runs the detector on interleaved RGB bytes (`width × height × 3`).
    public mutating func detect(rgb: [UInt8]) {
        precondition(rgb.count == width * height * 3, "CannyEdges: \(rgb.count) bytes for a \(width)×\(height) RGB image")
        let w = width, h = height
        for i in 0..<(w * h) {
            gray[i] = Int32(Self.gray(r: rgb[3 * i], g: rgb[3 * i + 1], b: rgb[3 * i + 2]))
        }
        // Sobel with BORDER_REPLICATE: neighbours clamp to the image.
        for y in 0..<h {
            let up = max(y - 1, 0) * w, row = y * w, down = min(y + 1, h - 1) * w
            for x in 0..<w {
                let l = max(x - 1, 0), r = min(x + 1, w - 1)
                let gx = (gray[up + r] + 2 * gray[row + r] + gray[down + r]) - (gray[up + l] + 2 * gray[row + l] + gray[down + l])
                let gy = (gray[down + l] + 2 * gray[down + x] + gray[down + r]) - (gray[up + l] + 2 * gray[up + x] + gray[up + r])
                dx[row + x] = gx
                dy[row + x] = gy
                magnitude[row + x] = abs(gx) + abs(gy)
            }
        }
        // Non-maximum suppression; the magnitude outside the image is 0.
        func m(_ y: Int, _ x: Int) -> Int32 { (y < 0 || y >= h || x < 0 || x >= w) ? 0 : magnitude[y * w + x] }
        let tg22: Int64 = 13573
        stack.removeAll(keepingCapacity: true)
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                let mag = magnitude[i]
                state[i] = 1
                guard mag > Int32(low) else { continue }
                let ax = Int64(abs(dx[i])), ay = Int64(abs(dy[i])) << 15
                let tg22x = ax * tg22
                let tg67x = tg22x + (ax << 16)
                let isMax: Bool
                if ay < tg22x {
                    isMax = mag > m(y, x - 1) && mag >= m(y, x + 1)
                } else if ay > tg67x {
                    isMax = mag > m(y - 1, x) && mag >= m(y + 1, x)
                } else {
                    let s = (dx[i] ^ dy[i]) < 0 ? -1 : 1
                    isMax = mag > m(y - 1, x - s) && mag > m(y + 1, x + s)
                }
                guard isMax else { continue }
                if mag > Int32(high) {
                    state[i] = 2
                    stack.append(Int32(i))
                } else {
                    state[i] = 0
                }
            }
        }
        // Hysteresis: every candidate 8-connected to a strong pixel (the set does not depend on the order).
        while let top = stack.popLast() {
            let i = Int(top), y = i / w, x = i % w
            for ny in max(y - 1, 0)...min(y + 1, h - 1) {
                for nx in max(x - 1, 0)...min(x + 1, w - 1) where state[ny * w + nx] == 0 {
                    state[ny * w + nx] = 2
                    stack.append(Int32(ny * w + nx))
                }
            }
        }
        for i in 0..<(w * h) { edges[i] = state[i] == 2 ? 255 : 0 }
    }

    /// The row-major indices (`py · (width / patch) + px`, the ViT's token order) of the `patch × patch` blocks
    /// holding at least one edge pixel, ascending. The image must tile exactly.
    public func edgePatches(patch: Int) -> [Int] {
        precondition(patch > 0 && width % patch == 0 && height % patch == 0, "CannyEdges: \(width)×\(height) does not tile into \(patch)-pixel patches")
        let gw = width / patch, gh = height / patch
        var kept: [Int] = []
        for py in 0..<gh {
            for px in 0..<gw {
                var hit = false
                for y in (py * patch)..<((py + 1) * patch) where !hit {
                    for x in (px * patch)..<((px + 1) * patch) where edges[y * width + x] != 0 { hit = true; break }
                }
                if hit { kept.append(py * gw + px) }
            }
        }
        return kept
    }
}
