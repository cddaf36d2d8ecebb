#if canImport(Glibc)
import Glibc
#endif
import ReflexCore

/// Draws the tabletop from the fixed camera into a 224×224 RGB frame.
///
/// The camera looks down at the table obliquely: a point (x, y, z) lands at pixel
/// u = 112 + 95·x, v = 128 + 80·y − 45·z, so height shows as an upward shift (the gripper's
/// shadow on the table marks its x, y; the gap between shadow and gripper marks z) and the
/// gripper grows slightly as it rises. Objects have a darker side face under a lit top face.
public enum Renderer {
    public static let size = 224
    static let cu: Float = 112, cv: Float = 128, su: Float = 95, sv: Float = 80, sz: Float = 45

    /// Pixel coordinates of a point in the table frame.
    public static func project(_ p: Vec3) -> (u: Float, v: Float) {
        (cu + su * p.x, cv + sv * p.y - sz * p.z)
    }

    /// The static part of a scene: wood-grain table, its rim, the floor, and distractor marks
    /// (scratches, stains, a grey coaster) whose edges carry no task information.
    static func background(rng: inout SplitMix64) -> [UInt8] {
        var c = Canvas()
        let tone = rng.nextUniform()
        let base = (Float(185 + 25 * tone), Float(155 + 20 * tone), Float(115 + 15 * tone))
        let freq = 0.05 + 0.04 * rng.nextUniform(), phase = rng.nextUniform() * 6.28
        let (tl, _) = project(Vec3(-1, -1, 0)), (tr, _) = project(Vec3(1, -1, 0))
        let (_, top) = project(Vec3(0, -1, 0)), (_, bottom) = project(Vec3(0, 1, 0))
        var noise = rng
        for v in 0..<size {
            for u in 0..<size {
                let fu = Float(u), fv = Float(v)
                let inside = fu >= tl && fu <= tr && fv >= top && fv <= bottom
                let n = Float(noise.next() & 15) - 7.5
                if inside {
                    let g = 0.92 + 0.08 * sinf(freq * fv + 0.9 * sinf(0.02 * fu + phase) + phase)
                    c.set(u, v, (base.0 * g + n, base.1 * g + n, base.2 * g + n))
                } else {
                    let rim = fu >= tl - 4 && fu <= tr + 4 && fv >= top - 4 && fv <= bottom + 4
                    c.set(u, v, rim ? (90 + n, 65 + n, 45 + n) : (150 + n, 150 + n, 155 + n))
                }
            }
        }
        for _ in 0..<(3 + Int(rng.next() % 4)) {  // scratches and tape lines
            let a = project(Vec3(rng.nextUniform() * 2 - 1, rng.nextUniform() * 2 - 1, 0))
            let b = (a.u + (rng.nextUniform() - 0.5) * 120, a.v + (rng.nextUniform() - 0.5) * 90)
            let shade = 70 + 80 * rng.nextUniform()
            c.line(a.u, a.v, b.0, b.1, width: 0.8 + 1.5 * rng.nextUniform(), color: (shade, shade * 0.9, shade * 0.8))
        }
        for _ in 0..<(4 + Int(rng.next() % 6)) {  // stains and specks
            let p = project(Vec3(rng.nextUniform() * 2 - 1, rng.nextUniform() * 2 - 1, 0))
            let r = 1 + 3 * rng.nextUniform(), s = 200 + 50 * rng.nextUniform()
            c.ellipse(p.u, p.v, r, r * 0.85, color: (s, s, s * 0.95), alpha: 0.7)
        }
        if rng.next() % 2 == 0 {  // a grey coaster: a flat distractor with strong edges
            let p = project(Vec3(rng.nextUniform() * 1.6 - 0.8, rng.nextUniform() * 1.6 - 0.8, 0))
            c.ring(p.u, p.v, 12, 10, inner: 0.55, color: (120, 120, 125))
        }
        return c.pixels
    }

    /// Renders the current state.
    public static func render(_ sim: TabletopSim) -> RGBImage {
        var c = Canvas(pixels: sim.background)
        for o in sim.objects where o.shape == .bowl { drawObject(o, at: o.position, on: &c) }
        let resting = sim.objects.filter { $0.shape != .bowl && !$0.held }.sorted { $0.position.y < $1.position.y }
        for o in resting { drawObject(o, at: o.position, on: &c) }
        let g = sim.gripper
        let shadow = project(Vec3(g.x, g.y, 0))
        c.ellipse(shadow.u, shadow.v, 7, 5, color: (30, 25, 20), alpha: 0.45)
        let scale = 1 + 0.5 * g.z
        let p = project(g)
        // the arm's wrist rod, from above the frame down to the gripper body
        c.rect(p.u - 2 * scale, p.v - 60, p.u + 2 * scale, p.v - 9 * scale, color: (175, 175, 180))
        c.rect(p.u - 8 * scale, p.v - 10 * scale, p.u + 8 * scale, p.v - 4 * scale, color: (60, 60, 66))
        if let h = sim.heldIndex {
            drawObject(sim.objects[h], at: Vec3(g.x, g.y, max(0, g.z - 0.06)), on: &c)
        }
        let gap: Float = (sim.gripperOpen ? 6.5 : 2.5) * scale
        for side: Float in [-1, 1] {
            let x0 = p.u + side * gap
            c.rect(min(x0, x0 + side * 3 * scale), p.v - 5 * scale, max(x0, x0 + side * 3 * scale), p.v + 4 * scale,
                   color: (45, 45, 50))
        }
        return try! RGBImage(width: size, height: size, pixels: c.pixels)
    }

    static func drawObject(_ o: SimObject, at pos: Vec3, on c: inout Canvas) {
        let (r, g, b) = o.color.rgb
        let top = (Float(r), Float(g), Float(b))
        let side = (top.0 * 0.6, top.1 * 0.6, top.2 * 0.6)
        let ru = o.radius * su, rv = o.radius * sv
        let base = project(pos)
        switch o.shape {
        case .bowl:
            c.ring(base.u, base.v, ru, rv, inner: World.bowlInnerRadius / World.bowlRadius * 0.95, color: top)
            c.ellipse(base.u, base.v, ru * 0.66, rv * 0.66, color: (top.0 * 0.75, top.1 * 0.75, top.2 * 0.75), alpha: 0.5)
        case .cube, .circle, .triangle:
            let lift = World.objectHeight * sz
            for (dv, col) in [(Float(0), side), (-lift, top)] {
                let v = base.v + dv
                switch o.shape {
                case .cube: c.rect(base.u - ru * 0.85, v - rv * 0.85, base.u + ru * 0.85, v + rv * 0.85, color: col)
                case .circle: c.ellipse(base.u, v, ru, rv, color: col)
                default: c.triangle((base.u, v - rv * 1.1), (base.u - ru * 1.05, v + rv * 0.8), (base.u + ru * 1.05, v + rv * 0.8), color: col)
                }
            }
        }
    }
}

/// A 224×224 RGB drawing surface with the few primitives the renderer needs.
struct Canvas {
    var pixels: [UInt8]
    let size = Renderer.size

    init() { pixels = [UInt8](repeating: 0, count: Renderer.size * Renderer.size * 3) }
    init(pixels: [UInt8]) { self.pixels = pixels }

    @inline(__always) mutating func set(_ u: Int, _ v: Int, _ c: (Float, Float, Float), alpha: Float = 1) {
        guard u >= 0, v >= 0, u < size, v < size else { return }
        let i = (v * size + u) * 3
        func mix(_ old: UInt8, _ new: Float) -> UInt8 {
            UInt8(min(max(Float(old) * (1 - alpha) + new * alpha, 0), 255).rounded())
        }
        pixels[i] = mix(pixels[i], c.0); pixels[i + 1] = mix(pixels[i + 1], c.1); pixels[i + 2] = mix(pixels[i + 2], c.2)
    }

    /// Calls `inside` for each pixel centre in the clipped box; paints where it returns true.
    mutating func fill(_ u0: Float, _ v0: Float, _ u1: Float, _ v1: Float, color: (Float, Float, Float), alpha: Float = 1,
                       _ inside: (Float, Float) -> Bool) {
        let a = max(0, Int(u0.rounded(.down))), b = min(size - 1, Int(u1.rounded(.up)))
        let c0 = max(0, Int(v0.rounded(.down))), d = min(size - 1, Int(v1.rounded(.up)))
        guard a <= b, c0 <= d else { return }
        for v in c0...d {
            for u in a...b where inside(Float(u) + 0.5, Float(v) + 0.5) { set(u, v, color, alpha: alpha) }
        }
    }

    mutating func rect(_ u0: Float, _ v0: Float, _ u1: Float, _ v1: Float, color: (Float, Float, Float)) {
        fill(u0, v0, u1, v1, color: color) { u, v in u >= u0 && u <= u1 && v >= v0 && v <= v1 }
    }

    mutating func ellipse(_ cu: Float, _ cv: Float, _ ru: Float, _ rv: Float, color: (Float, Float, Float), alpha: Float = 1) {
        fill(cu - ru, cv - rv, cu + ru, cv + rv, color: color, alpha: alpha) { u, v in
            let x = (u - cu) / ru, y = (v - cv) / rv
            return x * x + y * y <= 1
        }
    }

    mutating func ring(_ cu: Float, _ cv: Float, _ ru: Float, _ rv: Float, inner: Float, color: (Float, Float, Float)) {
        fill(cu - ru, cv - rv, cu + ru, cv + rv, color: color) { u, v in
            let x = (u - cu) / ru, y = (v - cv) / rv
            let q = x * x + y * y
            return q <= 1 && q >= inner * inner
        }
    }

    mutating func triangle(_ a: (Float, Float), _ b: (Float, Float), _ c: (Float, Float), color: (Float, Float, Float)) {
        func edge(_ p: (Float, Float), _ q: (Float, Float), _ u: Float, _ v: Float) -> Float {
            (q.0 - p.0) * (v - p.1) - (q.1 - p.1) * (u - p.0)
        }
        let area = edge(a, b, c.0, c.1)
        fill(min(a.0, b.0, c.0), min(a.1, b.1, c.1), max(a.0, b.0, c.0), max(a.1, b.1, c.1), color: color) { u, v in
            let w0 = edge(b, c, u, v) * area, w1 = edge(c, a, u, v) * area, w2 = edge(a, b, u, v) * area
            return w0 >= 0 && w1 >= 0 && w2 >= 0
        }
    }

    mutating func line(_ u0: Float, _ v0: Float, _ u1: Float, _ v1: Float, width: Float, color: (Float, Float, Float)) {
        let du = u1 - u0, dv = v1 - v0, len2 = max(du * du + dv * dv, 1e-6)
        fill(min(u0, u1) - width, min(v0, v1) - width, max(u0, u1) + width, max(v0, v1) + width, color: color, alpha: 0.8) { u, v in
            let t = min(max(((u - u0) * du + (v - v0) * dv) / len2, 0), 1)
            let x = u0 + t * du - u, y = v0 + t * dv - v
            return x * x + y * y <= width * width / 4
        }
    }
}
