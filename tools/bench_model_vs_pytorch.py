#!/usr/bin/env python3
"""Time one full action of a MiniVLA-sized policy in Reflex and in PyTorch, on the same weights and
thread count, in one run.

1. Builds MiniVLA's architecture with random weights in PyTorch: timm's
   vit_large_patch14_reg4_dinov2 (224 px) + vit_so400m_patch14_siglip_224, the fused GELU-MLP
   projector (2176 -> 8704 -> 896 -> 896) and transformers' Qwen2ForCausalLM with Qwen2.5-0.5B's
   sizes (24 layers, 896 hidden, 14/2 heads, vocab 151936, tied embeddings).
2. Writes it as an OpenVLA-layout checkpoint (bf16 safetensors + config.json) into --workdir.
3. Runs `reflex bench model --model DIR --json` on it in fp32, then `reflex quantize` and the same on
   the int8 checkpoint (20-token synthetic prompt); the int8 run gives peak RSS and mmap load time.
4. Times PyTorch eager fp32 and the same model with every nn.Linear dynamically quantized to int8
   (torch.ao.quantization.quantize_dynamic, fbgemm) on the same pipeline: PIL bicubic resize of a
   640x480 frame + normalisation, both encoders (features of the second-to-last block), projector,
   prefill of [BOS, 256 patches, 19 prompt tokens] with the KV cache, 6 greedy decode steps.
Prints per-stage medians and the ratios BENCHMARKS.md tracks. PyTorch, timm and transformers are
developer tools here (pip install torch timm transformers safetensors pillow), never dependencies.

Usage: python3 tools/bench_model_vs_pytorch.py [--reflex .build/release/reflex] [--runs 3]
       [--threads N] [--workdir /tmp/reflex-minivla] [--out out/bench-model.json]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def build_model(seed: int):
    import timm
    import torch
    import torch.nn as nn
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    dino = timm.create_model("vit_large_patch14_reg4_dinov2.lvd142m", pretrained=False, num_classes=0, img_size=224)
    siglip = timm.create_model("vit_so400m_patch14_siglip_224", pretrained=False, num_classes=0)
    cfg = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                      num_attention_heads=14, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=1e6,
                      tie_word_embeddings=True, max_position_embeddings=32768)
    lm = Qwen2ForCausalLM(cfg)
    width = 1024 + 1152
    proj = nn.ModuleDict({"fc1": nn.Linear(width, 4 * width), "fc2": nn.Linear(4 * width, 896), "fc3": nn.Linear(896, 896)})
    for m in (dino, siglip, lm, proj):
        m.eval()
    # Keep activations O(1) with random weights (timm's default init already is).
    return dino, siglip, proj, lm, cfg


def export(dino, siglip, proj, lm, cfg, out_dir: str):
    import torch
    from safetensors.torch import save_file

    os.makedirs(out_dir, exist_ok=True)
    sd = {}
    for prefix, m in (("vision_backbone.featurizer.", dino), ("vision_backbone.fused_featurizer.", siglip)):
        for k, v in m.state_dict().items():
            if k.startswith("attn_pool") or k.startswith("head") or k.startswith("norm."):
                continue
            sd[prefix + k] = v
    for k, v in proj.state_dict().items():
        sd["projector." + k] = v
    for k, v in lm.state_dict().items():
        if k == "lm_head.weight":
            continue  # tied
        sd["language_model." + k] = v
    sd = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in sd.items()}
    save_file(sd, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    text = cfg.to_dict()
    text["model_type"] = "qwen2"
    config = {
        "model_type": "openvla", "vision_backbone_id": "dinosiglip-vit-so-224px", "llm_backbone_id": "qwen25-0_5b-pure",
        "arch_specifier": "no-align+fused-gelu-mlp",
        "timm_model_ids": ["vit_large_patch14_reg4_dinov2.lvd142m", "vit_so400m_patch14_siglip_224"],
        "image_sizes": [224, 224], "image_resize_strategy": "resize-naive", "n_action_bins": 256,
        "pad_to_multiple_of": 0, "text_config": text,
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=1, default=str)
    # The PyTorch side runs on exactly the bf16-rounded weights Reflex reads.
    with torch.no_grad():
        for prefix, m in (("vision_backbone.featurizer.", dino), ("vision_backbone.fused_featurizer.", siglip)):
            for k, p in m.state_dict().items():
                if prefix + k in sd:
                    p.copy_(sd[prefix + k].float())
        for k, p in proj.state_dict().items():
            p.copy_(sd["projector." + k].float())
        for k, p in lm.state_dict().items():
            if "language_model." + k in sd:
                p.copy_(sd["language_model." + k].float())


def synthetic_frame():
    h, w = 480, 640
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // w, y * 255 // h, np.where(((x // 80) + (y // 60)) % 2 == 0, 200, 40)], axis=-1)
    return img.astype(np.uint8)


def time_pytorch(dino, siglip, proj, lm, runs: int, prompt_len: int):
    import torch
    import torch.nn.functional as F
    from PIL import Image

    frame = Image.fromarray(synthetic_frame(), "RGB")
    ids = torch.tensor([[1] + [int(i) for i in np.random.default_rng(5).integers(2, 151934, prompt_len - 1)]])
    means = [(0.485, 0.456, 0.406), (0.5, 0.5, 0.5)]
    stds = [(0.229, 0.224, 0.225), (0.5, 0.5, 0.5)]

    def one():
        t = {}
        t0 = time.perf_counter()
        img = frame.resize((224, 224), Image.BICUBIC)
        x = torch.from_numpy(np.asarray(img)).permute(2, 0, 1).float().div(255)
        pix = [((x - torch.tensor(m)[:, None, None]) / torch.tensor(s)[:, None, None]).unsqueeze(0) for m, s in zip(means, stds)]
        t1 = time.perf_counter(); t["preprocess"] = t1 - t0
        feats = [enc.get_intermediate_layers(p, n={len(enc.blocks) - 2})[0] for enc, p in zip((dino, siglip), pix)]
        f = torch.cat(feats, dim=2)
        t2 = time.perf_counter(); t["vision"] = t2 - t1
        h = proj["fc3"](F.gelu(proj["fc2"](F.gelu(proj["fc1"](f)))))
        t3 = time.perf_counter(); t["projector"] = t3 - t2
        emb = lm.get_input_embeddings()(ids)
        seq = torch.cat([emb[:, :1], h, emb[:, 1:]], dim=1)
        out = lm(inputs_embeds=seq, use_cache=True)
        nxt = out.logits[:, -1].argmax(-1)
        t4 = time.perf_counter(); t["prefill"] = t4 - t3
        past = out.past_key_values
        toks = [int(nxt)]
        for _ in range(6):
            out = lm(input_ids=nxt[:, None], past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1)
            toks.append(int(nxt))
        t["decode"] = time.perf_counter() - t4
        return t

    with torch.inference_mode():
        one()
        samples = [one() for _ in range(runs)]
    med = {k: float(np.median([s[k] for s in samples])) * 1e3 for k in samples[0]}
    med["total"] = sum(med.values())
    return med


def int8_weight_bytes(model_dir):
    """Bytes of I8 tensors in a quantized checkpoint (the int8 weights the memory target refers to)."""
    import struct
    with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return sum(v["data_offsets"][1] - v["data_offsets"][0] for k, v in header.items()
               if k != "__metadata__" and v["dtype"] == "I8")


def run_reflex(binary, model_dir, quant, runs, threads):
    cmd = [binary, "bench", "model", "--model", model_dir, "--quant", quant, "--runs", str(runs),
           "--threads", str(threads), "--prompt-tokens", "20", "--json"]
    log("running:", " ".join(cmd))
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, env=dict(os.environ, REFLEX_THREADS=str(threads)))
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reflex", default=".build/release/reflex")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--workdir", default="/tmp/reflex-minivla")
    ap.add_argument("--out", help="write the combined JSON here")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch
    import torch.nn as nn
    torch.set_num_threads(args.threads)
    torch.backends.quantized.engine = "fbgemm"

    log("building MiniVLA-sized model (random weights) in PyTorch…")
    dino, siglip, proj, lm, cfg = build_model(args.seed)
    log(f"exporting to {args.workdir} (bf16)…")
    export(dino, siglip, proj, lm, cfg, args.workdir)

    results = {"threads": args.threads, "torch": torch.__version__}
    results["reflex_fp32"] = run_reflex(args.reflex, args.workdir, "fp32", args.runs, args.threads)
    int8_dir = args.workdir + "-int8"
    log(f"reflex quantize → {int8_dir}")
    subprocess.run([args.reflex, "quantize", "--model", args.workdir, "--out", int8_dir], check=True)
    results["reflex_int8"] = run_reflex(args.reflex, int8_dir, "int8", args.runs, args.threads)
    results["int8_weight_bytes"] = int8_weight_bytes(int8_dir)
    log("timing PyTorch fp32…")
    results["torch_fp32"] = time_pytorch(dino, siglip, proj, lm, args.runs, 20)
    log("timing PyTorch dynamic int8…")
    q = [torch.ao.quantization.quantize_dynamic(m, {nn.Linear}, dtype=torch.qint8) for m in (dino, siglip, proj, lm)]
    results["torch_int8_dynamic"] = time_pytorch(*q, args.runs, 20)

    stages = ["preprocess", "vision", "projector", "prefill", "decode", "total"]
    rows = {"reflex fp32": results["reflex_fp32"]["latency_ms"], "reflex int8": results["reflex_int8"]["latency_ms"],
            "torch fp32": results["torch_fp32"], "torch int8 dyn": results["torch_int8_dynamic"]}
    print(f"MiniVLA-sized action, {args.threads} threads, median of {args.runs} (ms)")
    print(f"{'':16}" + "".join(f"{s:>11}" for s in stages))
    for name, t in rows.items():
        print(f"{name:16}" + "".join(f"{t[s]:11.1f}" for s in stages))
    r32, r8 = rows["reflex fp32"]["total"], rows["reflex int8"]["total"]
    t32, t8 = rows["torch fp32"]["total"], rows["torch int8 dyn"]["total"]
    ratios = {"fp32_vs_torch_fp32": t32 / r32, "int8_vs_torch_fp32": t32 / r8, "int8_vs_torch_int8": t8 / r8}
    results["ratios"] = ratios
    print(f"speed-up: Reflex fp32 vs PyTorch fp32 {ratios['fp32_vs_torch_fp32']:.2f}x (target 1.3x); "
          f"Reflex int8 vs PyTorch fp32 {ratios['int8_vs_torch_fp32']:.2f}x (target 3x); "
          f"Reflex int8 vs PyTorch int8 {ratios['int8_vs_torch_int8']:.2f}x (target 1.2x)")
    g = results["reflex_fp32"].get("gemm_share_of_total")
    if g is not None:
        print(f"Reflex fp32: {100 * g:.1f}% of the action inside sgemm")
    wb = results["int8_weight_bytes"] / 1e6
    rss = results["reflex_int8"]["peak_rss_mb"] * 1.048576  # MiB → MB
    print(f"Reflex int8 checkpoint: int8 weights {wb:.0f} MB, peak RSS {rss:.0f} MB "
          f"(target ≤ 1.3×weights + 200 = {1.3 * wb + 200:.0f} MB), mmap load {results['reflex_int8']['load_ms']:.0f} ms (target < 2000)")
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
