#!/usr/bin/env python3
"""Writes Tests/Fixtures/attention/: SP-VLA's semantic score — the mean self-attention each patch receives in a
ViT block, softmax(QK^T/sqrt(d)) averaged over heads and over every query — computed by timm with forward hooks,
the reference for Reflex's `Attention.meanKeyProbabilities` / `VisionTransformer.encode(_:attention:)`.

For each checkpoint, the scoring encoder is the SigLIP one (the only encoder when there is one), built as a timm
VisionTransformer from config.json's vision_configs, loaded from model.safetensors (strict on every block,
the patch embedding and the position embedding), run with fused attention off so that `attn_drop` sees the
attention probabilities; a hook on blocks[depth-1].attn.attn_drop ("last") and blocks[depth-2] ("feature")
records them. The input is an image already at the encoder's size (so no resize is involved), normalized with
the checkpoint's preprocessor statistics (0.5/0.5 for SigLIP by default).

Also written, per block: the semantic set at a few thetas (count(cumsum < theta) + 1 of the scores sorted
descending, float32 cumsum as torch computes it) and each cut's margin, min |cumsum - theta| — the Swift test
compares kept sets only where that margin is clear.

In-LLM (SQAP-VLA's criterion (a), FastV's score): for the two fixture checkpoints with a language model fit for it
(Llama-2 with multi-head attention, Qwen2 with grouped-query attention), transformers' LlamaForCausalLM /
Qwen2ForCausalLM loaded from the checkpoint, eager attention, `output_attentions=True`, on the reference case 0's
input embeddings ([embed(BOS), the projected patches the reference stores, embed(rest of the prompt)]); at every
layer K >= 1, the attention the text after the image pays each image token (mean over heads and those query rows,
causal), and the top-k sets at a few keep shares with each cut's margin (score gap at the cut).

Usage (a developer tool; torch, timm, transformers, safetensors, numpy, pillow are never runtime or CI dependencies):
  python3 tools/make_attention_fixture.py [--out Tests/Fixtures/attention]
"""
import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch
import timm
from PIL import Image
from safetensors.torch import load_file
from timm.models.vision_transformer import VisionTransformer

ROOT = Path(__file__).resolve().parent.parent
CASES = [  # (checkpoint directory, image)
    ("models/reflex-sim-tiny", "Tests/Fixtures/canny/sim_pick_place_s7_f0_112.rgb.png"),
    ("models/reflex-sim-tiny", "Tests/Fixtures/canny/sim_pick_place_s7_f10_112.rgb.png"),
    ("models/reflex-sim-tiny", "Tests/Fixtures/canny/sim_push_s3_f0_112.rgb.png"),
    ("Tests/Fixtures/openvla-tiny-siglip", "Tests/Fixtures/canny/synthetic_224.rgb.png"),
    ("Tests/Fixtures/openvla-tiny-llama", "Tests/Fixtures/canny/synthetic_224.rgb.png"),
]
THETAS = [0.3, 0.5, 0.7, 0.9]
LLM_CASES = ["Tests/Fixtures/openvla-tiny-llama", "Tests/Fixtures/minivla-tiny-qwen"]
KEEPS = [0.1, 0.25, 0.5]


def llm_case(ckpt_rel: str) -> dict:
    import transformers
    ckpt = ROOT / ckpt_rel
    cfg = json.loads((ckpt / "config.json").read_text())
    tc = dict(cfg["text_config"])
    cls = {"llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM),
           "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM)}[tc["model_type"]]
    config = cls[0](**{k: v for k, v in tc.items() if k not in ("model_type", "architectures")})
    config._attn_implementation = "eager"
    model = cls[1](config).eval()
    sd = {}
    for f in sorted(ckpt.glob("model*.safetensors")):
        sd.update({k[len("language_model."):]: t.float() for k, t in load_file(str(f)).items() if k.startswith("language_model.")})
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not [k for k in missing if "rotary" not in k and k != "lm_head.weight"], f"{ckpt}: missing {missing}"
    ref = load_file(str(ckpt / "reference.safetensors"))
    ids = ref["case0.input_ids"].long()
    projected = ref["case0.projector"].float()
    n = projected.shape[0]
    emb = model.get_input_embeddings()
    with torch.no_grad():
        x = torch.cat([emb(ids[:1]), projected, emb(ids[1:])], dim=0)[None]
        out = model(inputs_embeds=x, output_attentions=True)
    length = x.shape[1]
    layers = {}
    for k in range(1, config.num_hidden_layers):
        a = out.attentions[k][0].double()  # [heads, L, L]
        scores = a.mean(dim=0)[1 + n:, 1:1 + n].mean(dim=0).numpy()
        sets = []
        for keep in KEEPS:
            kk = int(np.ceil(keep * n))
            order = sorted(range(n), key=lambda i: (-scores[i], i))
            margin = float(scores[order[kk - 1]] - scores[order[kk]]) if kk < n else 1.0
            sets.append({"keep": keep, "kept": sorted(order[:kk]), "margin": margin})
        layers[str(k)] = {"scores": [float(v) for v in scores], "sets": sets}
    print(f"{ckpt_rel}: {config.num_hidden_layers} layers, {n} image tokens, sequence {length}")
    return {"checkpoint": ckpt_rel, "patches": n, "sequence_length": length, "layers": layers}


def encoder_for(ckpt: Path):
    cfg = json.loads((ckpt / "config.json").read_text())
    vcs = cfg["vision_configs"]
    idx = next((i for i, v in enumerate(vcs) if v["family"] == "siglip"), len(vcs) - 1)
    v = vcs[idx]
    prefix = "vision_backbone.featurizer." if idx == 0 else "vision_backbone.fused_featurizer."
    act = None if v["gelu"] == "erf" else "gelu_tanh"
    common = dict(img_size=v["image_size"], patch_size=v["patch_size"], embed_dim=v["width"], depth=v["depth"],
                  num_heads=v["heads"], mlp_ratio=v["mlp_dim"] / v["width"], num_classes=0, act_layer=act)
    if v["family"] == "dinov2":
        m = VisionTransformer(init_values=1e-5, reg_tokens=v["registers"], no_embed_class=True, class_token=True, **common)
    else:
        m = VisionTransformer(class_token=False, global_pool="map", **common)
    sd = {}
    for f in sorted(ckpt.glob("*.safetensors")):
        sd.update({k[len(prefix):]: t.float() for k, t in load_file(str(f)).items() if k.startswith(prefix)})
    missing, unexpected = m.load_state_dict(sd, strict=False)
    needed = [k for k in missing if k.startswith(("blocks.", "patch_embed.", "pos_embed", "cls_token", "reg_token"))]
    assert not needed, f"{ckpt}: missing {needed}"
    m.eval()
    for b in m.blocks:
        b.attn.fused_attn = False
    stats = json.loads((ckpt / "preprocessor_config.json").read_text()) if (ckpt / "preprocessor_config.json").exists() else {}
    mean = stats.get("means", [[0.5] * 3] * len(vcs))[idx]
    std = stats.get("stds", [[0.5] * 3] * len(vcs))[idx]
    return m, v, idx, mean, std


def semantic_set(scores: np.ndarray, theta: float):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    cums = torch.cumsum(torch.tensor(scores[order], dtype=torch.float32), 0).numpy()
    count = int((cums < np.float32(theta)).sum()) + 1
    return sorted(order[:min(count, len(scores))]), float(np.min(np.abs(cums.astype(np.float64) - theta)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "Tests/Fixtures/attention"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for ckpt_rel, img_rel in CASES:
        m, v, idx, mean, std = encoder_for(ROOT / ckpt_rel)
        rgb = np.asarray(Image.open(ROOT / img_rel).convert("RGB"), dtype=np.float32) / 255.0
        assert rgb.shape[:2] == (v["image_size"], v["image_size"]), f"{img_rel} is not {v['image_size']}px"
        px = torch.from_numpy(((rgb - np.float32(mean)) / np.float32(std)).transpose(2, 0, 1).copy()).float()[None]
        probs = {}
        hooks = []
        for name, bi in (("last", v["depth"] - 1), ("feature", v["depth"] - 2)):
            hooks.append(m.blocks[bi].attn.attn_drop.register_forward_hook(
                lambda mod, inp, outp, name=name: probs.__setitem__(name, inp[0].detach().double())))
        with torch.no_grad():
            m.forward_features(px)
        for h in hooks:
            h.remove()
        prefix = (1 if v["family"] == "dinov2" else 0) + v["registers"]
        n = (v["image_size"] // v["patch_size"]) ** 2
        case = {"checkpoint": ckpt_rel, "image": img_rel, "encoder_index": idx, "family": v["family"],
                "patches": n, "blocks": {}}
        for name, p in probs.items():
            assert p.shape == (1, v["heads"], prefix + n, prefix + n)
            scores = p[0].mean(dim=0).mean(dim=0)[prefix:].numpy()  # over heads, then over queries; patch keys
            sets = []
            for theta in THETAS:
                kept, margin = semantic_set(scores.astype(np.float32), theta)
                sets.append({"theta": theta, "kept": kept, "margin": margin})
            case["blocks"][name] = {"scores": [float(x) for x in scores], "sets": sets}
        cases.append(case)
        print(f"{ckpt_rel} {img_rel}: last max {max(case['blocks']['last']['scores']):.4f}, "
              f"kept at 0.9: {len(case['blocks']['last']['sets'][-1]['kept'])}/{n}")
    import transformers
    llm_cases = [llm_case(c) for c in LLM_CASES]
    meta = {"produced_by": "tools/make_attention_fixture.py", "torch": torch.__version__, "timm": timm.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "thetas": THETAS, "keeps": KEEPS}
    (out / "attention.json").write_text(json.dumps({"meta": meta, "cases": cases, "llm_cases": llm_cases}, indent=1) + "\n")


if __name__ == "__main__":
    main()
