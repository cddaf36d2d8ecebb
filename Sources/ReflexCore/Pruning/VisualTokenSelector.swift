/// What a selector knows about the robot when it picks patches.
public struct SelectionContext: Sendable {
    /// The previous VLA action in the model's normalized units (nil at an episode's start).
    public var previousAction: [Float]?
    /// The end effector's pixel position in the encoder's input image (nil when unknown).
    public var endEffectorPixel: (x: Double, y: Double)?

    public init(previousAction: [Float]? = nil, endEffectorPixel: (x: Double, y: Double)? = nil) {
        self.previousAction = previousAction
        self.endEffectorPixel = endEffectorPixel
    }
}

/// One prediction's patches, as a selector sees them.
public struct SelectionInput {
    /// The image each encoder saw (resized to its input size), in encoder order.
    public let images: [RGBImage]
    /// The patch grid (every encoder's: OpenVLA checks they agree) and the patch size in pixels.
    public let gridWidth: Int
    public let gridHeight: Int
    public let patchSize: Int
    /// The attention the selector asked for, one value per patch: the scoring encoder's mean self-attention in
    /// `attentionBlock`, or the text's mean attention to each patch at LLM layer `llmLayer`; nil when it asked for none.
    public let attention: [Float]?
    public let context: SelectionContext

    public init(images: [RGBImage], gridWidth: Int, gridHeight: Int, patchSize: Int, attention: [Float]? = nil,
                context: SelectionContext) {
        self.images = images
        self.gridWidth = gridWidth
        self.gridHeight = gridHeight
        self.patchSize = patchSize
        self.attention = attention
        self.context = context
    }

    public var patchCount: Int { gridWidth * gridHeight }
}

/// Picks the visual tokens the language model reads: it sits between the vision features and the projector,
/// and the indices it returns apply to every encoder's patch stream (concatenated features), which are then
/// packed contiguously for the LLM (positions renumbered, as SP-VLA's released code does).
///
/// Contract:
/// - Threading: called on the thread running the prediction, once per prediction, never concurrently (a
///   selector may keep scratch buffers; it is a class for that reason).
/// - Result: patch indices (row-major, `py · gridWidth + px`), strictly ascending, within `0..<patchCount`,
///   at least one. `OpenVLA.predict` checks this and throws naming the selector otherwise.
/// - Ownership: it must not keep the input's images after returning.
/// - Attention: a selector that reads the encoder's self-attention names the block in `attentionBlock`; the
///   model then computes those scores (timed as the select stage) and passes them in `SelectionInput.attention`.
public protocol VisualTokenSelector: AnyObject {
    /// A short name for logs and JSON (`edges`, `spvla`, …).
    var name: String { get }
    /// The ViT block whose attention this selector reads; nil: none (the default).
    var attentionBlock: AttentionBlock? { get }
    /// The language-model layer at which this selector prunes (FastV-style: the layers before it read every
    /// visual token, and `SelectionInput.attention` is the attention the text after the image pays each patch at
    /// that layer); nil: it prunes before the projector (the default).
    var llmLayer: Int? { get }
    func select(_ input: SelectionInput) throws -> [Int]
}

extension VisualTokenSelector {
    public var attentionBlock: AttentionBlock? { nil }
    public var llmLayer: Int? { nil }
}

/// SP-VLA's spatial set alone: every patch of the first encoder's input image holding a Canny edge pixel
/// (OpenCV's defaults, low 100, high 200; `CannyEdges`). An image without edges keeps every patch.
public final class EdgeSelector: VisualTokenSelector {
    public let name = "edges"
    public let low: Int
    public let high: Int
    private var canny: CannyEdges?

    public init(low: Int = 100, high: Int = 200) {
        self.low = low
        self.high = high
    }

    public func select(_ input: SelectionInput) throws -> [Int] {
        let image = input.images[0]
        if canny?.width != image.width || canny?.height != image.height {
            canny = CannyEdges(width: image.width, height: image.height, low: low, high: high)
        }
        canny!.detect(rgb: image.pixels)
        let kept = canny!.edgePatches(patch: input.patchSize)
        return kept.isEmpty ? Array(0..<input.patchCount) : kept
    }
}
