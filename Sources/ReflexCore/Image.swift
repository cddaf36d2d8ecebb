/// An 8-bit RGB image, row-major, interleaved (what cameras and image files deliver).
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// width × height × 3 bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw TensorError.invalidArgument("RGBImage: \(pixels.count) bytes for \(width)×\(height)×3")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Channel-first float tensor [3, H, W] of (pixel / 255 − mean[c]) / std[c], the
    /// ToTensor + Normalize of torchvision, computed in fp32.
    public func normalized(mean: [Float], std: [Float]) -> Tensor {
        let plane = width * height
        var t = Tensor(zeros: [3, height, width])
        t.withUnsafeMutableBufferPointer { out in
            for c in 0..<3 {
                let m = mean[c], s = std[c]
                for i in 0..<plane { out[c * plane + i] = (Float(pixels[i * 3 + c]) / 255 - m) / s }
            }
        }
        return t
    }
}

/// Bicubic resampling that reproduces Pillow's `Image.resize(size, BICUBIC)` on 8-bit images
/// exactly: separable, antialiased when shrinking (support scales with the reduction), a = −0.5,
/// 22-bit fixed-point coefficients, horizontal pass first with an 8-bit intermediate. OpenVLA's
/// processors resize with Pillow, so matching it bit for bit keeps inputs identical.
public enum BicubicResize {
    static let precisionBits = 32 - 8 - 2

    static func cubic(_ x: Double) -> Double {
        let a = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// Per output index: first input index, tap count, and fixed-point weights.
    struct Coefficients {
        var bounds: [(start: Int, count: Int)] = []
        var weights: [[Int32]] = []
    }

    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = Swift.max(scale, 1)
        let support = 2.0 * filterScale
        var result = Coefficients()
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1 / filterScale
            let xmin = Swift.max(Int(center - support + 0.5), 0)
            let xmax = Swift.min(Int(center + support + 0.5), inSize) - xmin
            var k = [Double](repeating: 0, count: Swift.max(xmax, 0))
            var total = 0.0
            for x in 0..<Swift.max(xmax, 0) {
                let w = cubic((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                total += w
            }
            if total != 0 { for x in k.indices { k[x] /= total } }
            let one = Double(1 << precisionBits)
            result.bounds.append((xmin, Swift.max(xmax, 0)))
            result.weights.append(k.map { Int32($0 < 0 ? (-0.5 + $0 * one) : (0.5 + $0 * one)) })
        }
        return result
    }

    @inline(__always) static func clip8(_ v: Int64) -> UInt8 {
        let s = v >> Int64(precisionBits)
        return UInt8(truncatingIfNeeded: Swift.min(Swift.max(s, 0), 255))
    }

    /// Resizes to width × height.
    public static func resize(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        guard width > 0, height > 0 else { throw TensorError.invalidArgument("resize to \(width)×\(height)") }
        var current = image
        if width != image.width {
            let c = coefficients(inSize: image.width, outSize: width)
            var out = [UInt8](repeating: 0, count: width * image.height * 3)
            for y in 0..<image.height {
                let row = y * image.width * 3
                for x in 0..<width {
                    let (start, count) = c.bounds[x], k = c.weights[x]
                    for ch in 0..<3 {
                        var ss = Int64(1) << Int64(precisionBits - 1)
                        for t in 0..<count { ss += Int64(image.pixels[row + (start + t) * 3 + ch]) * Int64(k[t]) }
                        out[(y * width + x) * 3 + ch] = clip8(ss)
                    }
                }
            }
            current = try RGBImage(width: width, height: image.height, pixels: out)
        }
        if height != image.height {
            let c = coefficients(inSize: current.height, outSize: height)
            let w = current.width
            var out = [UInt8](repeating: 0, count: w * height * 3)
            for y in 0..<height {
                let (start, count) = c.bounds[y], k = c.weights[y]
                for x in 0..<w {
                    for ch in 0..<3 {
                        var ss = Int64(1) << Int64(precisionBits - 1)
                        for t in 0..<count { ss += Int64(current.pixels[((start + t) * w + x) * 3 + ch]) * Int64(k[t]) }
                        out[(y * w + x) * 3 + ch] = clip8(ss)
                    }
                }
            }
            current = try RGBImage(width: w, height: height, pixels: out)
        }
        return current
    }
}
