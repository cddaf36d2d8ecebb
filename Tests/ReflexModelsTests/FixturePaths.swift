import Foundation

/// Locations of committed fixtures, relative to this source file (no bundle resources needed).
enum FixturePaths {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    /// Tests/ReflexModelsTests/Fixtures
    static let local = testsDirectory.appendingPathComponent("Fixtures").path
    /// Tests/Fixtures (tiny OpenVLA checkpoints and their PyTorch references)
    static let checkpoints = testsDirectory.deletingLastPathComponent().appendingPathComponent("Fixtures").path
}
