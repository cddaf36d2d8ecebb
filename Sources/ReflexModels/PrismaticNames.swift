/// Every tensor name of the Hugging Face OpenVLA / Prismatic layout, in one place.
public enum PrismaticNames {
    /// `vision_backbone.featurizer.` for the first encoder, `vision_backbone.fused_featurizer.` for the second.
    public static func encoder(_ index: Int) -> String {
        index == 0 ? "vision_backbone.featurizer." : "vision_backbone.fused_featurizer."
    }

    public static func patchEmbed(_ e: String) -> String { e + "patch_embed.proj" }
    public static func classToken(_ e: String) -> String { e + "cls_token" }
    public static func registerTokens(_ e: String) -> String { e + "reg_token" }
    public static func positionEmbedding(_ e: String) -> String { e + "pos_embed" }
    public static func block(_ e: String, _ i: Int) -> String { e + "blocks.\(i)." }
    /// LayerScale parameters: timm renamed `gamma` to `scale_factor` in OpenVLA's export; accept both.
    public static func layerScale(_ block: String, _ n: Int) -> [String] { ["\(block)ls\(n).scale_factor", "\(block)ls\(n).gamma"] }

    public static func projector(_ n: Int) -> String { "projector.fc\(n)" }

    public static let embedTokens = "language_model.model.embed_tokens.weight"
    public static let finalNorm = "language_model.model.norm.weight"
    public static let lmHead = "language_model.lm_head"
    public static func layer(_ i: Int) -> String { "language_model.model.layers.\(i)." }

    /// Suffix of the per-output-channel scales stored next to an int8 weight in quantized checkpoints.
    public static let scaleSuffix = "_scale"
}
