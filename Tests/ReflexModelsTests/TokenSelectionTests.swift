import Foundation
import Testing
import ReflexTestSupport
@testable import ReflexCore
@testable import ReflexModels

/// A selector that keeps a fixed list (or whatever it is told to return).
final class FixedSelector: VisualTokenSelector {
    let name = "fixed"
    var kept: [Int]
    init(_ kept: [Int]) { self.kept = kept }
    func select(_ input: SelectionInput) throws -> [Int] { kept }
}

/// The pruning seam in `OpenVLA.predict`: kept indices gather the concatenated features of every encoder before
/// the projector, and the LLM reads the kept tokens packed (positions renumbered). In the fixture suite's
/// extension so these run serialized with its other full forwards: two suites' fp32 forwards at once call
/// OpenBLAS's threaded GEMM concurrently, which can hang.
extension OpenVLAFixtureTests {
    static func loadFirstCase(_ name: String) throws -> (OpenVLA, [Int], RGBImage) {
        let dir = directory(name)
        let loader = try OpenVLALoader(directory: dir, precision: .fp32)
        let vla = try loader.load()
        let c = try reference(name).cases[0]
        let ids = try PromptBuilder(tokenizer: try Tokenizer(directory: dir), config: loader.config).ids(c.instruction)
        return (vla, ids, try ImageFile.read(dir + "/" + c.image))
    }

    /// Keeping every patch is the unpruned forward, exactly.
    @Test(arguments: fixtures)
    func selectorKeepingEveryPatchChangesNothing(_ name: String) throws {
        let (vla, ids, image) = try Self.loadFirstCase(name)
        let plain = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true)
        let all = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true, selector: FixedSelector(Array(0..<vla.numPatches)))
        #expect(plain.tokens == all.tokens && plain.normalizedAction == all.normalizedAction)
        #expect(toDouble(plain.promptLogits!) == toDouble(all.promptLogits!))
        #expect(all.keptPatches == Array(0..<vla.numPatches) && all.totalPatches == vla.numPatches && plain.keptPatches == all.keptPatches)
    }

    /// A pruned prediction is: features of the kept rows (every encoder's), projected, packed after BOS — the
    /// prompt's logits have 1 + K + text rows and equal that pipeline run by hand.
    @Test(arguments: fixtures)
    func selectorKeptRowsArePackedForTheLLM(_ name: String) throws {
        let (vla, ids, image) = try Self.loadFirstCase(name)
        let n = vla.numPatches
        let kept = Array(stride(from: 1, to: n, by: 3))
        let pruned = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true, selector: FixedSelector(kept))
        #expect(pruned.promptLogits!.shape[0] == ids.count + kept.count && pruned.keptPatches == kept)
        let features = try vla.visionFeatures(try vla.preprocess(image)).gatherRows(kept)
        let byHand = try vla.generate(embeddings: try vla.inputEmbeddings(promptIds: ids, projected: try vla.projector(features)),
                                      actionTokensOnly: false, keepPromptLogits: true)
        #expect(byHand.tokens == pruned.tokens)
        #expect(toDouble(byHand.promptLogits!) == toDouble(pruned.promptLogits!))
    }

    /// A selector's result that breaks the contract is an error naming it, never a silent mis-gather.
    @Test func badSelectorResultsAreErrors() throws {
        let (vla, ids, image) = try Self.loadFirstCase(Self.fixtures[0])
        let n = vla.numPatches
        for bad in [[], [3, 1], [2, 2], [-1, 0], [0, n]] {
            #expect {
                _ = try vla.predict(image: image, promptIds: ids, selector: FixedSelector(bad))
            } throws: { "\($0)".contains("visual-token selector fixed") }
        }
    }

    /// `edges`: the kept patches are exactly Canny's edge patches on the image the encoder saw.
    @Test func edgeSelectorKeepsTheEdgePatchesOfTheEncoderInput() throws {
        let (vla, ids, image) = try Self.loadFirstCase(Self.fixtures[0])
        let p = try vla.predict(image: image, promptIds: ids, selector: EdgeSelector())
        let seen = try vla.encoders[0].resized(image)
        var canny = CannyEdges(width: seen.width, height: seen.height)
        canny.detect(rgb: seen.pixels)
        let want = canny.edgePatches(patch: vla.encoders[0].transformer.config.patchSize)
        #expect(p.keptPatches == (want.isEmpty ? Array(0..<vla.numPatches) : want))
        #expect(p.timings.select > 0 && p.totalPatches == vla.numPatches)
    }
}

extension OpenVLAFixtureTests {
    /// `positions: original`: the kept tokens and the text after them keep the rotary positions of the unpruned
    /// sequence, and the generated tokens follow the full length — the same as prefilling with those positions by hand.
    @Test(arguments: fixtures)
    func originalPositionsKeepTheUnprunedPositions(_ name: String) throws {
        let (vla, ids, image) = try Self.loadFirstCase(name)
        let n = vla.numPatches
        let kept = Array(stride(from: 0, to: n, by: 2))
        let positions = vla.originalPositions(promptTokens: ids.count, kept: kept)
        #expect(positions.count == ids.count + kept.count)
        #expect(Array(positions.prefix(1 + kept.count)) == [0] + kept.map { 1 + $0 })
        #expect(positions.last == ids.count + n - 1)
        let pruned = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true, selector: FixedSelector(kept), positions: .original)
        let packed = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true, selector: FixedSelector(kept))
        let features = try vla.visionFeatures(try vla.preprocess(image)).gatherRows(kept)
        let byHand = try vla.generate(embeddings: try vla.inputEmbeddings(promptIds: ids, projected: try vla.projector(features)),
                                      actionTokensOnly: false, keepPromptLogits: true, positions: positions, positionShift: n - kept.count)
        #expect(byHand.tokens == pruned.tokens)
        #expect(toDouble(byHand.promptLogits!) == toDouble(pruned.promptLogits!))
        // The packed layout is a different computation: the first text row after the image sees other positions.
        #expect(toDouble(packed.promptLogits!) != toDouble(pruned.promptLogits!))
        // Keeping every patch with original positions is the unpruned forward.
        let all = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true, selector: FixedSelector(Array(0..<n)), positions: .original)
        let plain = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true)
        #expect(toDouble(all.promptLogits!) == toDouble(plain.promptLogits!))
    }
}

extension OpenVLAFixtureTests {
    /// The ViT-internal experiment: an image-only selector runs before the encoders and their last feature blocks
    /// see the kept patches only. Keeping every patch is the unpruned forward; a subset is the encoders run with
    /// those rows dropped before the late blocks, then the usual projector and LLM.
    @Test(arguments: fixtures)
    func lateEncoderBlocksOnKeptPatches(_ name: String) throws {
        let (vla, ids, image) = try Self.loadFirstCase(name)
        let n = vla.numPatches
        let plain = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true)
        let all = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true, selector: FixedSelector(Array(0..<n)), encoderBlocksOnKept: 1)
        #expect(toDouble(all.promptLogits!) == toDouble(plain.promptLogits!))
        let kept = Array(stride(from: 0, to: n, by: 3))
        let late = try vla.predict(image: image, promptIds: ids, keepPromptLogits: true, selector: FixedSelector(kept), encoderBlocksOnKept: 1)
        let encoded = try vla.encode(try vla.preprocess(image), attention: nil, lateOnKept: (blocks: 1, patches: kept))
        #expect(encoded.features.shape[0] == kept.count)
        let byHand = try vla.generate(embeddings: try vla.inputEmbeddings(promptIds: ids, projected: try vla.projector(encoded.features)),
                                      actionTokensOnly: false, keepPromptLogits: true)
        #expect(late.keptPatches == kept && toDouble(late.promptLogits!) == toDouble(byHand.promptLogits!))
        // The late block saw fewer keys: its features differ from gathering after the full encoder.
        let after = try vla.visionFeatures(try vla.preprocess(image)).gatherRows(kept)
        #expect(toDouble(after) != toDouble(encoded.features))
        #expect { _ = try vla.predict(image: image, promptIds: ids, selector: AttentionSelector(block: .feature), encoderBlocksOnKept: 1) }
            throws: { "\($0)".contains("reads only the image") }
    }
}
