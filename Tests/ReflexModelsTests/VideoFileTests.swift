import ReflexCore
import ReflexModels
import Testing

/// Video replay through FFmpeg against frames whose pixels are known (Tests/Fixtures/video/README.md).
@Suite struct VideoFileTests {
    static let dir = FixturePaths.checkpoints + "/video"

    @Test func losslessClipDecodesToItsSourceFramesExactly() throws {
        let v = try VideoFile(path: Self.dir + "/clip_ffv1.mkv")
        #expect(v.width == 64 && v.height == 48)
        #expect(abs(v.fps - 10) < 1e-6)
        for i in [0, 5, 9] {
            let expected = try ImageFile.read(Self.dir + "/frame_0\(i).png")
            #expect(try v.frame(i) == expected, "frame \(i)")
        }
        // Looping and going back: frame 10 is frame 0 again, after a rewind.
        #expect(try v.frame(10) == (try ImageFile.read(Self.dir + "/frame_00.png")))
        #expect(v.frameCount == 10)
        #expect(try v.frame(5) == (try ImageFile.read(Self.dir + "/frame_05.png")))
    }

    @Test func lossyClipIsClose() throws {
        let v = try VideoFile(path: Self.dir + "/clip_mpeg4.mp4")
        let got = try v.frame(5), want = try ImageFile.read(Self.dir + "/frame_05.png")
        let diff = zip(got.pixels, want.pixels).map { abs(Int($0) - Int($1)) }
        let mean = Double(diff.reduce(0, +)) / Double(diff.count)
        #expect(mean < 6, "mean abs error \(mean)")
    }

    @Test func notAVideoIsAClearError() {
        do {
            _ = try VideoFile(path: Self.dir + "/not_a_video.mp4")
            Issue.record("opened a text file as a video")
        } catch {
            #expect("\(error)".contains("not_a_video.mp4"))
        }
        #expect(throws: ModelError.self) { try VideoFile(path: Self.dir + "/missing.mkv") }
    }
}
