import Foundation
import ReflexCore
import ReflexModels
import Testing

/// SP-VLA's spatial set needs OpenCV's Canny exactly: our `CannyEdges` against `cv2.cvtColor` + `cv2.Canny(gray,
/// 100, 200)` on `Tests/Fixtures/canny` (tools/make_canny_fixture.py, opencv-python-headless 5.1.0: simulator
/// frames at 112 and 224, a frame with edges on the image border, ramps with magnitudes exactly at 100 and 200,
/// smoothed noise). Grayscale, edge map and edge patches must all be identical.
@Suite struct CannyEdgesTests {
    struct Case: Decodable {
        var name: String
        var width: Int
        var height: Int
        var patchSize: Int
        var edgePatches: [Int]
        var files: [String: String]
        enum CodingKeys: String, CodingKey {
            case name, width, height, files
            case patchSize = "patch_size", edgePatches = "edge_patches"
        }
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/canny").standardized

    static var cases: [Case] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap {
            try? JSONDecoder().decode(Case.self, from: Data(contentsOf: folder.appendingPathComponent($0)))
        }
    }

    @Test func fixturesArePresent() { #expect(Self.cases.count == 7) }

    @Test(arguments: cases.map(\.name))
    func matchesOpenCV(_ name: String) throws {
        let c = try #require(Self.cases.first { $0.name == name })
        let rgb = try ImageFile.read(Self.folder.appendingPathComponent(c.files["rgb"]!).path)
        let gray = try ImageFile.read(Self.folder.appendingPathComponent(c.files["gray"]!).path)
        let edges = try ImageFile.read(Self.folder.appendingPathComponent(c.files["edges"]!).path)
        #expect(rgb.width == c.width && rgb.height == c.height)
        let n = c.width * c.height
        var grayMismatch = 0
        for i in 0..<n where CannyEdges.gray(r: rgb.pixels[3 * i], g: rgb.pixels[3 * i + 1], b: rgb.pixels[3 * i + 2]) != gray.pixels[3 * i] {
            grayMismatch += 1
        }
        #expect(grayMismatch == 0, "\(name): \(grayMismatch) grayscale pixels differ from cv2.cvtColor")
        var canny = CannyEdges(width: c.width, height: c.height)
        canny.detect(rgb: rgb.pixels)
        var edgeMismatch = 0, edgePixels = 0
        for i in 0..<n {
            if canny.edges[i] != edges.pixels[3 * i] { edgeMismatch += 1 }
            if edges.pixels[3 * i] != 0 { edgePixels += 1 }
        }
        #expect(edgePixels > 0)
        #expect(edgeMismatch == 0, "\(name): \(edgeMismatch) of \(n) edge pixels differ from cv2.Canny (\(edgePixels) edges)")
        #expect(canny.edgePatches(patch: c.patchSize) == c.edgePatches)
    }

    /// Swapped thresholds behave as OpenCV's (it swaps them); reuse of one detector gives the same edges.
    @Test func thresholdsSwapAndReuse() throws {
        let c = try #require(Self.cases.first { $0.name.hasPrefix("sim_push") })
        let rgb = try ImageFile.read(Self.folder.appendingPathComponent(c.files["rgb"]!).path)
        var a = CannyEdges(width: c.width, height: c.height, low: 200, high: 100)
        a.detect(rgb: rgb.pixels)
        var b = CannyEdges(width: c.width, height: c.height)
        b.detect(rgb: [UInt8](repeating: 7, count: rgb.pixels.count))
        #expect(b.edges.allSatisfy { $0 == 0 })  // a flat image has no edges
        b.detect(rgb: rgb.pixels)
        #expect(a.edges == b.edges && a.edgePatches(patch: c.patchSize) == c.edgePatches)
    }
}
