/// The ViT stem: a conv with kernel = stride = patch size, computed as im2col + one GEMM.
extension Tensor {
    /// image [C, H, W], weight [D, C, P, P] (PyTorch conv layout), bias [D] → patch tokens
    /// [(H/P)·(W/P), D] in row-major patch order. H and W must be multiples of P.
    public static func patchEmbed(image: Tensor, weight: Tensor, bias: Tensor?, patch p: Int) throws -> Tensor {
        guard image.rank == 3, weight.rank == 4, p > 0 else {
            throw TensorError.shapeMismatch(op: "patchEmbed", "image \(image.shape) (needs [C,H,W]), weight \(weight.shape) (needs [D,C,P,P]), patch \(p)")
        }
        let (c, h, w) = (image.shape[0], image.shape[1], image.shape[2])
        guard weight.shape[1] == c, weight.shape[2] == p, weight.shape[3] == p, h % p == 0, w % p == 0 else {
            throw TensorError.shapeMismatch(op: "patchEmbed", "image \(image.shape), weight \(weight.shape), patch \(p)")
        }
        let gh = h / p, gw = w / p, cols = c * p * p
        // im2col: one row per patch, columns in (channel, ky, kx) order to match the weight layout.
        let patches = Tensor(uninitialized: [gh * gw, cols])
        let src = image.storage.pointer, dst = patches.storage.pointer
        parallelRows(gh) { range in
            for py in range {
                for px in 0..<gw {
                    var out = dst + (py * gw + px) * cols
                    for ch in 0..<c {
                        for ky in 0..<p {
                            out.update(from: src + (ch * h + py * p + ky) * w + px * p, count: p)
                            out += p
                        }
                    }
                }
            }
        }
        let flat = try weight.reshaped([weight.shape[0], cols])
        return try linear(patches, weight: flat, bias: bias)
    }
}
