import Testing
@testable import ReflexIO

/// No camera on this machine: the real capture code runs up to the device and fails cleanly.
/// (The driver path itself is exercised against the kernel's vivid driver by `make test-v4l2`.)
@Suite struct V4L2CameraTests {
    @Test func missingDeviceIsACleanError() {
        do {
            _ = try V4L2Camera(device: "/dev/video-reflex-missing", width: 640, height: 480, fps: 30, pixelFormat: "YUYV", buffers: 3)
            Issue.record("opened a device that does not exist")
        } catch let e as CameraError {
            #expect(e.description.hasPrefix("camera /dev/video-reflex-missing: cannot open"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func nonCameraDeviceIsRefused() {
        #expect(throws: CameraError.self) {
            _ = try V4L2Camera(device: "/dev/null", width: 640, height: 480, fps: 30, pixelFormat: "YUYV", buffers: 3)
        }
    }

    @Test func fourCCRoundTrip() {
        #expect(V4L2Camera.fourcc("YUYV") == 0x5659_5559)
        #expect(V4L2Camera.fourccString(V4L2Camera.fourcc("MJPG")) == "MJPG")
    }
}
