"""
train_sim_policy.py -- train the tiny OpenVLA-architecture policy on simulator demonstrations and export it
in the Hugging Face OpenVLA layout that `reflex predict` / `reflex eval` load.

Developer tool (never a CI or runtime dependency). Needs torch, transformers, timm, tokenizers, safetensors,
numpy, pillow (the same stack as tools/make_fixtures.py, whose model/tokenizer/export code it reuses).

    reflex sim record --task pick_place --episodes 2500 --seed 100000 --noise 0.03 --out .data/sim3/pick_place
    reflex sim record --task push       --episodes 2500 --seed 100000 --noise 0.03 --out .data/sim3/push
    reflex sim record --task reach      --episodes 2500 --seed 100000 --noise 0.03 --out .data/sim3/reach
    python3 tools/train_sim_policy.py --data .data/sim3/pick_place .data/sim3/push .data/sim3/reach \
        --work .train/sim --out models/reflex-sim-tiny --steps 23000 --attn-weight 1.0

(The committed checkpoint also used the 2000 episodes of seeds 0... recorded with --noise 0.02 and two rounds
of DAgger data, and was grown from 4 to 6 decoder layers in its last run — `--init` into a model with more
--layers starts the new blocks as the identity; see models/reflex-sim-tiny/README.md for every command.)
Episodes an expert failed under the injected noise are not written, so every frame's label comes from a
successful demonstration. DAgger data — a trained policy
driving while the expert labels, `reflex sim record --policy MODEL` — is added as further --data directories
(every one of their episodes is kept, failed rollouts included) and can be weighted with --oversample DIR=W.

The run is resumable: it saves WORK/state.pt every --save-every steps and continues from it when restarted
with the same arguments. It exports the checkpoint to --out every --export-every steps and at the end,
together with training.json (command, data size, library versions, loss curve) and loss_curve.png.
Resized frames are cached per data directory in DIR/.cache/frames_<size>.npy (a memory map) so a restart, or a
run that adds a directory, does not resize again.

Model (OpenVLA architecture at a tiny size): one SigLIP-style ViT (timm VisionTransformer, 112x112 input —
the runtime resizes the 224x224 camera frame with Pillow-exact bicubic, as here —, patch 14 -> 8x8 = 64 patch
tokens, width 128, depth 4; features from the second-to-last block as OpenVLA), a gelu-mlp projector, a
Llama decoder (transformers LlamaForCausalLM, hidden 192, 4 layers), a 768-token SentencePiece-BPE tokenizer
whose last 256 ids are the action bins, OpenVLA's prompt, and q01/q99 action normalisation (gripper
un-normalised, mask false).

What makes a model this small learn from scratch in about three CPU-hours (the first two were measured with a
vision-only probe before the run: without them the encoder had not localised anything after 750 steps): a 2-D
sine-cosine initialisation of the position embedding; dense per-patch supervision of the encoder (colour,
shape and centre offset of the object in each patch; the gripper's patch, offset and height); attention
supervision of decoder heads at the action positions (layer 1: one onto the goal's patch, one onto the
gripper's; layer 0: one onto the words naming the goal); and auxiliary state regression. None of these heads
is exported: the checkpoint is the plain architecture.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402

UNNORM_KEY = "reflex_sim"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", required=True, help="directories written by `reflex sim record`")
    p.add_argument("--work", required=True, help="scratch directory for the resumable training state")
    p.add_argument("--out", required=True, help="checkpoint directory to export")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--export-every", type=int, default=1000)
    p.add_argument("--width", type=int, default=128, help="ViT width")
    p.add_argument("--depth", type=int, default=4, help="ViT depth (features come from block depth-2)")
    p.add_argument("--hidden", type=int, default=192, help="Llama hidden size")
    p.add_argument("--layers", type=int, default=4, help="Llama layers")
    p.add_argument("--benchmark", type=int, default=0, help="time N steps and exit (sizing)")
    p.add_argument("--aux-weight", type=float, default=5.0,
                   help="weight of the auxiliary state-regression loss (training only; the head is not exported)")
    p.add_argument("--label-sigma", type=float, default=3.0,
                   help="std-dev (in bins) of the Gaussian soft labels over neighbouring action bins (0 = hard labels)")
    p.add_argument("--init", default=None, help="initialise model weights from another run's state.pt")
    p.add_argument("--diagnose", action="store_true",
                   help="load WORK/state.pt, print what the model has learned on held-out frames, and exit")
    p.add_argument("--image-size", type=int, default=112,
                   help="model input size; recorded 224x224 frames are resized with PIL bicubic, as the runtime does")
    p.add_argument("--patch", type=int, default=14, help="ViT patch size ((image-size/patch)^2 patch tokens, >= 64)")
    p.add_argument("--dense-weight", type=float, default=1.0,
                   help="weight of the per-patch supervision of the encoder (object colour/shape/offset, gripper)")
    p.add_argument("--attn-weight", type=float, default=0.5,
                   help="weight of the attention supervision: at the action positions, decoder layer 1 head 0 attends "
                        "to the goal's patch and head 1 to the gripper's patch, and layer 0 head 0 to the words naming the goal")
    p.add_argument("--oversample", nargs="*", default=[], metavar="TASK=W",
                   help="draw training frames of TASK (a task family, or one of the --data directories as given) W times "
                        "as often (e.g. pick_place=2 to fine-tune the weakest family; .data/dagger1/pick_place=3); "
                        "a frame matching both a task and a directory gets the product")
    return p.parse_args()


# ------------------------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------------------------


class FrameStore:
    """Several per-directory frame memory maps read as one array of frames (global frame index → part)."""

    def __init__(self, parts: List[np.ndarray]) -> None:
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p) for p in parts])
        self.nbytes = sum(p.nbytes for p in parts)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx)
        part = np.searchsorted(self.offsets, idx, side="right") - 1
        out = np.empty((len(idx),) + self.parts[0].shape[1:], np.uint8)
        for k in np.unique(part):
            m = part == k
            out[m] = self.parts[k][idx[m] - self.offsets[k]]
        return out


def cached_frames(d: str, todo: List, size: int) -> np.ndarray:
    """The resized frames of the kept episodes of data directory `d`, from DIR/.cache/frames_<size>.npy (a
    memory map, rebuilt when the episode list or size changes): resizing a quarter of a million frames takes
    minutes, and they would not fit in memory twice over while being concatenated. Once a directory is
    cached its 224x224 frames.npy files are no longer read."""
    cache = Path(d) / ".cache" / f"frames_{size}.npy"
    key = {"size": size, "episodes": [e["dir"] for _, e in todo], "frames": sum(int(e["steps"]) for _, e in todo)}
    key_path = cache.with_suffix(".json")
    if cache.exists() and key_path.exists() and json.loads(key_path.read_text()) == key:
        return np.load(cache, mmap_mode="r")
    cache.parent.mkdir(exist_ok=True)
    key_path.unlink(missing_ok=True)
    frames = np.lib.format.open_memmap(cache, mode="w+", dtype=np.uint8, shape=(key["frames"], size, size, 3))
    at, t0 = 0, time.time()
    for n, (ed, e) in enumerate(todo):
        f = np.load(ed / "frames.npy")
        assert f.shape == (int(e["steps"]), 224, 224, 3), ed
        if size != 224:
            # PIL's antialiased bicubic: the resize `reflex` applies to a 224x224 camera frame
            # (BicubicResize is tested byte for byte against Pillow).
            f = np.stack([np.asarray(Image.fromarray(x).resize((size, size), Image.BICUBIC)) for x in f])
        frames[at:at + len(f)] = f
        at += len(f)
        if n % 500 == 0:
            print(f"{d}: resizing frames: {n}/{len(todo)} episodes, {time.time() - t0:.0f} s", flush=True)
    frames.flush()
    key_path.write_text(json.dumps(key))
    return np.load(cache, mmap_mode="r")


class Demos:
    """All recorded frames (memory-mapped uint8), their expert labels, and each frame's prompt."""

    def __init__(self, dirs: List[str], size: int) -> None:
        actions, states, objects, episode_of, self.instructions, self.episodes = [], [], [], [], [], []
        parts = []
        for d in dirs:
            m = json.loads((Path(d) / "manifest.json").read_text())
            assert m["format"] == "reflex-sim-demonstrations/1", f"{d}: unknown format {m['format']}"
            # Expert-driven episodes count only when the expert succeeded; policy-driven ones (DAgger,
            # `reflex sim record --policy`) are all kept: the expert labels every frame either way.
            by_policy = m.get("driver", "expert").startswith("policy")
            todo = [(Path(d) / e["dir"], e) for e in m["episodes"] if e["success"] or by_policy]
            parts.append(cached_frames(d, todo, size))
            for ed, e in todo:
                a = np.load(ed / "actions.npy")
                assert a.shape[0] == int(e["steps"]), ed
                states.append(np.load(ed / "states.npy"))
                objects.append(np.load(ed / "objects.npy") if (ed / "objects.npy").exists() else np.full((len(a), 6, 6), -1, np.float32))
                actions.append(a)
                episode_of.append(np.full(a.shape[0], len(self.episodes), dtype=np.int64))
                self.instructions.append(e["instruction"])
                self.episodes.append({"task": e["task"], "seed": e["seed"], "steps": int(a.shape[0]), "source": d})
        self.frames = FrameStore(parts)
        self.actions = np.concatenate(actions).astype(np.float32)
        # Simulator state per frame: gripper x, y, z, open, target x, y, held, success (training-only auxiliary target).
        self.states = np.concatenate(states).astype(np.float32)
        # Every object per frame: x, y, shape, colour, held, is-target (rows of -1 pad): training-only supervision.
        self.objects = np.concatenate(objects).astype(np.float32)
        self.episode_of = np.concatenate(episode_of)
        assert len(self.frames) == len(self.actions)
        print(f"data: {len(self.episodes)} episodes, {len(self.frames)} frames, "
              f"{self.frames.nbytes / 2**30:.2f} GiB", flush=True)

    def norm_stats(self) -> Dict:
        a = self.actions
        q01 = np.quantile(a, 0.01, axis=0)
        q99 = np.quantile(a, 0.99, axis=0)
        return {UNNORM_KEY: {
            "action": {
                "mean": a.mean(0).tolist(), "std": a.std(0).tolist(), "max": a.max(0).tolist(),
                "min": a.min(0).tolist(), "q01": q01.tolist(), "q99": q99.tolist(),
                "mask": [True, True, True, True, True, True, False],
            },
            "proprio": {k: [0.0] * 7 for k in ["mean", "std", "max", "min", "q01", "q99"]},
            "num_transitions": int(len(a)), "num_trajectories": len(self.episodes),
        }}


def normalize_actions(a: np.ndarray, stats: Dict) -> np.ndarray:
    st = stats[UNNORM_KEY]["action"]
    lo, hi, mask = np.asarray(st["q01"]), np.asarray(st["q99"]), np.asarray(st["mask"])
    n = np.clip(2 * (a - lo) / (hi - lo + 1e-8) - 1, -1, 1)
    return np.where(mask, n, a)


# ------------------------------------------------------------------------------------------------------------------
# Model
# ------------------------------------------------------------------------------------------------------------------


def make_spec(args: argparse.Namespace) -> mf.FixtureSpec:
    v = mf.VisionSpec("siglip", width=args.width, depth=args.depth, heads=4, mlp_dim=4 * args.width, gelu="tanh")
    return mf.FixtureSpec(
        name="reflex-sim-tiny", family="llama", vision=[v], vision_backbone_id="siglip-vit-so400m",
        timm_model_ids=["vit_so400m_patch14_siglip_224"], arch_specifier="gelu-mlp", llm_bf16=False, shards=1,
        dino_mean=mf.DINO_MEAN_F32, dino_std=mf.DINO_STD_F32, seed=args.seed)


def build_lm(args: argparse.Namespace) -> torch.nn.Module:
    cfg = mf.LlamaConfig(
        vocab_size=mf.pad_to_64(mf.LLAMA_VOCAB + 1), hidden_size=args.hidden, intermediate_size=args.hidden * 8 // 3 // 16 * 16,
        num_hidden_layers=args.layers, num_attention_heads=4, num_key_value_heads=4, hidden_act="silu",
        max_position_embeddings=2048, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
        attention_bias=False, bos_token_id=1, eos_token_id=2, pad_token_id=mf.LLAMA_VOCAB)
    cfg._attn_implementation = "eager"  # training reads attention weights; export is unaffected
    return mf.LlamaForCausalLM(cfg)


def build_tokenizer(instructions: List[str], seed: int):
    rng = np.random.default_rng(seed)
    corpus = mf.build_corpus(rng)
    for s in sorted(set(instructions)):
        corpus += [s, mf.OPENVLA_PROMPT.format(instruction=s.lower()).replace("\n", "")] * 3
    return mf.build_llama_tokenizer(corpus, mf.LLAMA_VOCAB)


# ------------------------------------------------------------------------------------------------------------------
# Export and plots
# ------------------------------------------------------------------------------------------------------------------


def export(model, spec, tok_json: str, tok_info: Dict, stats: Dict, out: Path, meta: Dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    sd = mf.export_state_dict(model, spec)
    # timm's SigLIP attention-pool head is never used by OpenVLA (features come from block depth-2): drop it,
    # as the unused last block's weights are kept (they are part of the architecture's checkpoint).
    sd = {k: v for k, v in sd.items() if ".attn_pool." not in k}
    tmp = out / "model.safetensors.tmp"
    mf.save_file(sd, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out / "model.safetensors")
    cfg = mf.make_config(spec, model.lm, tok_info)
    cfg["norm_stats"] = stats
    cfg["image_sizes"] = [mf.IMAGE_SIZE]
    mf.write_json(out / "config.json", cfg)
    mf.write_json(out / "preprocessor_config.json", mf.make_preprocessor_config(spec))
    (out / "tokenizer.json").write_text(tok_json, encoding="utf-8")
    for name, obj in mf.tokenizer_side_files(spec, tok_info).items():
        mf.write_json(out / name, obj)
    mf.write_json(out / "training.json", meta)
    plot_losses(meta["loss_curve"], out / "loss_curve.png")
    model.train()


def plot_losses(curve: List[List[float]], path: Path) -> None:
    """A log-scale loss plot drawn with Pillow (no plotting library needed)."""
    W, H, m = 640, 360, 48
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    if len(curve) >= 2:
        steps = [c[0] for c in curve]
        series = [[max(c[1], 1e-3) for c in curve], [max(c[2], 1e-3) for c in curve if c[2] is not None]]
        lo = math.log10(min(min(s) for s in series if s))
        hi = math.log10(max(max(s) for s in series if s))
        hi = max(hi, lo + 1e-3)
        xs = lambda s: m + (W - 2 * m) * (s - steps[0]) / max(1, steps[-1] - steps[0])  # noqa: E731
        ys = lambda v: H - m - (H - 2 * m) * (math.log10(v) - lo) / (hi - lo)  # noqa: E731
        d.line([(xs(s), ys(v)) for s, v in zip(steps, series[0])], fill=(30, 90, 200), width=2)
        val = [(c[0], c[2]) for c in curve if c[2] is not None]
        if len(val) >= 2:
            d.line([(xs(s), ys(v)) for s, v in val], fill=(220, 80, 30), width=2)
        for k in range(5):
            v = 10 ** (lo + (hi - lo) * k / 4)
            d.text((4, ys(v) - 6), f"{v:.3f}", fill="black")
        d.text((m, H - m + 8), f"step {steps[0]}", fill="black")
        d.text((W - m - 60, H - m + 8), f"step {steps[-1]}", fill="black")
    d.text((m, 10), "training loss (blue), held-out loss (orange), log scale", fill="black")
    d.rectangle([m, m, W - m, H - m], outline=(120, 120, 120))
    img.save(path)


# ------------------------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    mf.PATCH_SIZE = args.patch  # make_fixtures' ViT builder and config writer read these module globals
    mf.IMAGE_SIZE = args.image_size
    grid = args.image_size // args.patch
    n_patches = grid * grid
    assert n_patches >= 64, "token pruning needs at least 64 visual tokens to choose from"
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)

    data = Demos(args.data, args.image_size)
    tok_path = work / "tokenizer.json"
    if tok_path.exists():
        tok_json = tok_path.read_text(encoding="utf-8")
        tok_info = json.loads((work / "tokenizer_info.json").read_text())
    else:
        tok_json, tok_info = build_tokenizer(data.instructions, args.seed)
        tok_path.write_text(tok_json, encoding="utf-8")
        mf.write_json(work / "tokenizer_info.json", tok_info)
    tok = mf.Tokenizer.from_str(tok_json)
    stats = data.norm_stats()
    spec = make_spec(args)
    model = mf.TinyPrismatic(spec.vision, build_lm(args))
    # 2-D sine-cosine initialisation of the (trainable) position embedding (as MAE): from scratch on a few
    # thousand scenes, random position embeddings left the encoder unable to say where things are.
    with torch.no_grad():
        ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
        q = args.width // 4
        om = 1.0 / 10000 ** (np.arange(q) / q)
        ax, ay = xs.reshape(-1, 1) * om, ys.reshape(-1, 1) * om
        pe = np.concatenate([np.sin(ax), np.cos(ax), np.sin(ay), np.cos(ay)], 1)
        model.featurizer.pos_embed.copy_(torch.tensor(pe, dtype=torch.float32)[None])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters, {n_patches} patch tokens", flush=True)

    # Per-frame token sequences: prompt + 7 action tokens + </s>.
    prompts = [mf.prompt_ids(spec, tok, s, tok_info)[1] for s in data.instructions]
    vocab = mf.action_vocab(spec, tok_info)
    norm = normalize_actions(data.actions, stats)
    act_tokens = np.array([mf.actions_to_tokens(a, vocab) for a in norm], dtype=np.int64)
    # Hold out every 20th episode for a validation loss.
    val_ep = set(range(0, len(data.episodes), 20))
    is_val = np.array([e in val_ep for e in data.episode_of])
    train_idx, val_idx = np.nonzero(~is_val)[0], np.nonzero(is_val)[0]
    print(f"train frames {len(train_idx)}, held-out frames {len(val_idx)}", flush=True)
    weight = {t: float(w) for t, _, w in (o.partition("=") for o in args.oversample)}
    known = {e["task"] for e in data.episodes} | set(args.data)
    unknown = set(weight) - known
    if unknown:
        sys.exit(f"--oversample: no task or --data directory {sorted(unknown)} (have {sorted(known)})")
    ep_weight = np.array([weight.get(e["task"], 1.0) * weight.get(e["source"], 1.0) for e in data.episodes])
    draw_p = ep_weight[data.episode_of[train_idx]]
    draw_p = draw_p / draw_p.sum() if weight else None
    if weight:
        print("drawing frames with weights", weight, flush=True)

    mean = torch.tensor(mf.SIGLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(mf.SIGLIP_STD).view(1, 3, 1, 1)

    def batch(idx: np.ndarray):
        px = torch.from_numpy(data.frames[idx]).permute(0, 3, 1, 2).float().div_(255.0)
        px = (px - mean) / std
        seqs = [prompts[data.episode_of[i]] + act_tokens[i].tolist() + [2] for i in idx]
        n_prompt = [len(prompts[data.episode_of[i]]) for i in idx]
        T = max(len(s) for s in seqs)
        ids = torch.tensor([s + [tok_info["pad_token_id"]] * (T - len(s)) for s in seqs])
        labels = torch.full((len(idx), T + n_patches), -100, dtype=torch.long)
        for b, s in enumerate(seqs):
            labels[b, n_prompt[b] + n_patches: len(s) + n_patches] = torch.tensor(s[n_prompt[b]:])
        return px, ids, labels

    # Training-only supervision (none of these heads is exported; the checkpoint is the unchanged OpenVLA
    # architecture). Positions are projected with ReflexSim's camera (224-pixel frame: u = 112 + 95 x,
    # v = 128 + 80 y - 45 z) onto the patch grid (cell = 224 / grid pixels of the recorded frame).
    cell = 224.0 / grid

    def to_patch(x: np.ndarray, y: np.ndarray, z) -> tuple:
        u, v = 112 + 95 * x, 128 + 80 * y - 45 * z
        pu = np.clip(u // cell, 0, grid - 1).astype(np.int64)
        pv = np.clip(v // cell, 0, grid - 1).astype(np.int64)
        return pv * grid + pu, np.stack([u / cell - pu, v / cell - pv], -1).astype(np.float32)

    # (1) From the hidden state that predicts the first action token, regress the gripper's x, y, z and open
    # state and the target object's x, y and held state.
    aux_cols = [0, 1, 2, 3, 4, 5, 6]
    aux_head = torch.nn.Linear(args.hidden, len(aux_cols) + 4)
    # (2) Dense, per patch of the encoder's output (the features the projector reads): the colour (none + 6) and
    # shape (none + 4) of the object or bowl centred in it and that centre's offset inside the patch; which patch
    # holds the gripper (softmax over patches), its offset and its height. Supervision at every patch teaches the
    # encoder what and where in a few hundred steps (a probe without it had not localised anything after 750).
    color_head = torch.nn.Linear(args.width, 7)
    shape_head = torch.nn.Linear(args.width, 5)
    offset_head = torch.nn.Linear(args.width, 2)
    grip_head = torch.nn.Linear(args.width, 6)  # logit "gripper here", offset u, offset v, z, table x, y
    # Every patch also regresses its own grid position, and object patches their object's table x, y: values the
    # decoder attends to must say *where* (RoPE moves queries and keys, never values). Without this a linear
    # read-out of the gripper's position from the decoder's state stayed ~0.1 table units off after 2000 steps
    # and the action's direction was at chance.
    abs_head = torch.nn.Linear(args.width, 4)  # patch column, row (in -1..1); object table x, y
    # (3) From the last prompt token, which patch holds the goal (64-way): the binding of words to the scene.
    target_head = torch.nn.Linear(args.hidden, n_patches)
    for n_, m_ in [("aux_head", aux_head), ("color_head", color_head), ("shape_head", shape_head),
                   ("offset_head", offset_head), ("grip_head", grip_head), ("target_head", target_head),
                   ("abs_head", abs_head)]:
        model.add_module(n_, m_)
    st_ = data.states
    grip_patch, grip_off = to_patch(st_[:, 0], st_[:, 1], st_[:, 2])
    ob = data.objects
    N = len(ob)
    valid = (ob[..., 2] >= 0) & (ob[..., 4] < 0.5)  # present and not held (a held object is under the gripper)
    opatch, ooff = to_patch(ob[..., 0], ob[..., 1], 0.08)
    patch_color = np.zeros((N, n_patches), np.int64)
    patch_shape = np.zeros((N, n_patches), np.int64)
    patch_off = np.zeros((N, n_patches, 2), np.float32)
    patch_xy = np.zeros((N, n_patches, 2), np.float32)
    for k in range(ob.shape[1]):
        rows = np.nonzero(valid[:, k])[0]
        patch_color[rows, opatch[rows, k]] = ob[rows, k, 3].astype(np.int64) + 1
        patch_shape[rows, opatch[rows, k]] = ob[rows, k, 2].astype(np.int64) + 1
        patch_off[rows, opatch[rows, k]] = ooff[rows, k]
        patch_xy[rows, opatch[rows, k]] = ob[rows, k, :2]
    # The goal: the bowl named by the instruction once the target is held (pick_place), else the target object.
    colours = ["red", "green", "blue", "yellow", "purple", "orange"]
    goal_patch = np.full(N, -100, np.int64)
    goal_xy = np.zeros((N, 2), np.float32)
    for i in range(N):
        row = ob[i]
        tgt = np.nonzero((row[:, 2] >= 0) & (row[:, 5] > 0.5))[0]
        if len(tgt) == 0:
            continue
        k = tgt[0]
        if row[k, 4] > 0.5:  # held
            words = data.instructions[data.episode_of[i]].split()
            if "bowl" not in words:
                continue
            c = colours.index(words[words.index("bowl") - 1])
            bowl = np.nonzero((row[:, 2] == 3) & (row[:, 3] == c))[0]
            if len(bowl) == 0:
                continue
            k = bowl[0]
        goal_patch[i] = opatch[i, k]
        goal_xy[i] = row[k, :2]
    print(f"goal patch known for {np.mean(goal_patch >= 0):.1%} of frames", flush=True)
    # Prompt token positions of the words that name the goal: the target's colour (its first mention) and, for
    # pick_place, the bowl's colour ("<colour> bowl"). A boolean mask over the prompt per episode and word.
    max_prompt = max(len(x) for x in prompts)
    word_mask = np.zeros((len(data.episodes), 2, max_prompt), bool)
    for e, instr in enumerate(data.instructions):
        text = mf.OPENVLA_PROMPT.format(instruction=instr.lower())
        enc = tok.encode(text, add_special_tokens=True)
        assert enc.ids == prompts[e][:len(enc.ids)], instr
        words = instr.lower().split()
        starts = np.cumsum([0] + [len(w) + 1 for w in words])[:-1] + text.index(instr.lower())
        spans = []
        tw = next(i for i, w in enumerate(words) if w in colours)
        spans.append((starts[tw], starts[tw] + len(words[tw])))
        if "bowl" in words:
            bw = words.index("bowl") - 1
            spans.append((starts[bw], starts[bw] + len(words[bw])))
        for j, (lo, hi) in enumerate(spans):
            for t, (a, b) in enumerate(enc.offsets):
                if b > lo and a < hi and t > 0:
                    word_mask[e, j, t] = True
        assert word_mask[e, 0].any(), instr
    # Which word names the goal in each frame: the bowl's once the target is held, else the target's.
    goal_word = np.where((data.objects[..., 4] > 0.5).any(1) & np.array(["bowl" in data.instructions[k].split() for k in data.episode_of]), 1, 0)
    word_mask = torch.from_numpy(word_mask)
    # Decoder-side regression targets: the state columns, the goal's x, y and the goal-minus-gripper vector.
    aux_targets = torch.from_numpy(np.concatenate(
        [st_[:, aux_cols], goal_xy, goal_xy - st_[:, :2]], 1).astype(np.float32))
    cells = np.arange(n_patches)
    cell_xy = torch.from_numpy(np.stack([(cells % grid + 0.5) / grid * 2 - 1, (cells // grid + 0.5) / grid * 2 - 1], -1)
                               .astype(np.float32))
    grip_patch, grip_off, patch_color, patch_shape, patch_off, patch_xy, goal_patch = map(
        torch.from_numpy, (grip_patch, grip_off, patch_color, patch_shape, patch_off, patch_xy, goal_patch))
    grip_z = torch.from_numpy(st_[:, 2].astype(np.float32))

    def loss_on(idx: np.ndarray):
        px, ids, labels = batch(idx)
        B = len(idx)
        mm, feats, _ = model.embed([px], ids)
        out = model.lm(inputs_embeds=mm, use_cache=False, output_hidden_states=True,
                       output_attentions=args.attn_weight > 0)
        logits = out.logits
        lg, lb = logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1)
        keep = lb != -100
        if args.label_sigma > 0:
            # Soft labels for action tokens: a Gaussian over neighbouring bins (HL-Gauss style), so that a
            # prediction one bin off is nearly right and the coarse direction is learned first. The 256-way
            # classification over action tokens stays exactly OpenVLA's at inference.
            lgk, lbk = lg[keep], lb[keep]
            logp = F.log_softmax(lgk, dim=-1)
            is_act = (lbk >= vocab - 256) & (lbk < vocab)
            tgt = torch.zeros_like(logp)
            tgt[~is_act, lbk[~is_act]] = 1.0
            if is_act.any():
                ids_a = torch.arange(vocab - 256, vocab)
                w = torch.exp(-0.5 * ((ids_a[None, :] - lbk[is_act][:, None]).float() / args.label_sigma) ** 2)
                tgt_a = torch.zeros(int(is_act.sum()), logp.shape[-1])
                tgt_a[:, vocab - 256:vocab] = w / w.sum(-1, keepdim=True)
                tgt[is_act] = tgt_a
            loss = -(tgt * logp).sum(-1).mean()
        else:
            loss = F.cross_entropy(lg, lb, ignore_index=-100)
        acc = (lg[keep].argmax(-1) == lb[keep]).float().mean()
        last = torch.tensor([len(prompts[data.episode_of[i]]) - 1 + n_patches for i in idx])
        rows = torch.arange(B)
        h = out.hidden_states[-1][rows, last]
        aux = F.mse_loss(aux_head(h), aux_targets[idx])
        aux = aux + 0.2 * F.cross_entropy(target_head(h), goal_patch[idx], ignore_index=-100)
        f = feats[0]
        pc = patch_color[idx]
        dense = (F.cross_entropy(color_head(f).flatten(0, 1), pc.flatten())
                 + F.cross_entropy(shape_head(f).flatten(0, 1), patch_shape[idx].flatten()))
        has = pc > 0
        ab = abs_head(f)
        dense = dense + 4 * F.mse_loss(ab[..., :2], cell_xy.expand(B, -1, -1))
        if has.any():
            dense = dense + 4 * ((offset_head(f) - patch_off[idx]) ** 2).sum(-1)[has].mean() \
                + 4 * ((ab[..., 2:] - patch_xy[idx]) ** 2).sum(-1)[has].mean()
        gh = grip_head(f)
        gp = grip_patch[idx]
        dense = dense + F.cross_entropy(gh[..., 0], gp) + 4 * ((gh[rows, gp, 1:3] - grip_off[idx]) ** 2).sum(-1).mean() \
            + 4 * F.mse_loss(gh[rows, gp, 3], grip_z[idx]) \
            + 4 * ((gh[rows, gp, 4:6] - torch.from_numpy(st_[idx, :2])) ** 2).sum(-1).mean()
        attn = torch.zeros(())
        if args.attn_weight > 0:
            # Attention supervision: at the 7 positions that predict action tokens, decoder layer 1's head 0 puts
            # its mass on the goal's patch and head 1 on the gripper's (image patches sit at positions 1..n).
            a = out.attentions[1]  # [B, heads, T, T]
            q = last[:, None] + torch.arange(7)[None, :]  # [B, 7]
            g = goal_patch[idx]
            ok = g >= 0
            a0 = a[rows[:, None], 0, q]  # [B, 7, T]
            a1 = a[rows[:, None], 1, q]
            m0 = a0.gather(2, (1 + g.clamp(min=0))[:, None, None].expand(-1, 7, 1))
            m1 = a1.gather(2, (1 + gp)[:, None, None].expand(-1, 7, 1))
            attn = -torch.log(m1 + 1e-6).mean()
            # First hop of the binding: decoder layer 0's head 0 reads the word that names the goal (prompt token t
            # sits at position n_patches + t).
            wm = word_mask[torch.from_numpy(data.episode_of[idx]), torch.from_numpy(goal_word[idx])]  # [B, P]
            a00 = out.attentions[0][rows[:, None], 0, q]  # [B, 7, T]
            pad = a00.shape[-1] - n_patches - wm.shape[1]
            full = torch.cat([torch.zeros(B, n_patches, dtype=torch.bool), wm,
                              torch.zeros(B, max(pad, 0), dtype=torch.bool)], 1)[:, :a00.shape[-1]]
            attn = attn - torch.log((a00 * full[:, None, :]).sum(-1) + 1e-6).mean()
            if ok.any():
                attn = attn - torch.log(m0[ok] + 1e-6).mean()
        total = loss + args.aux_weight * aux + args.dense_weight * dense + args.attn_weight * attn
        return total, acc, loss.detach(), torch.stack([aux.detach(), dense.detach(), attn.detach()])

    if args.diagnose:
        model.load_state_dict(torch.load(work / "state.pt", weights_only=False)["model"])
        model.eval()
        vi = np.random.default_rng(7).choice(val_idx, size=min(256, len(val_idx)), replace=False)
        with torch.no_grad():
            px, ids, labels = batch(vi)
            B = len(vi)
            mm, feats, _ = model.embed([px], ids)
            out = model.lm(inputs_embeds=mm, use_cache=False, output_hidden_states=True, output_attentions=True)
            last = torch.tensor([len(prompts[data.episode_of[i]]) - 1 + n_patches for i in vi])
            rows = torch.arange(B)
            h = out.hidden_states[-1][rows, last]
            err = (aux_head(h) - aux_targets[vi]).pow(2).mean(0).sqrt()
            print("aux RMSE gripper x y z open, target x y held, goal x y, goal-gripper x y:", np.round(err.numpy(), 3))
            a = out.attentions[1][rows, :, last]  # [B, heads, T] at the position predicting the first action token
            g = goal_patch[vi]
            ok = g >= 0
            print(f"layer-1 head 0 argmax = goal patch: {(a[:, 0, 1:1 + n_patches].argmax(-1) == g)[ok].float().mean():.2f}, "
                  f"head 1 argmax = gripper patch: {(a[:, 1, 1:1 + n_patches].argmax(-1) == grip_patch[vi]).float().mean():.2f}")
            gh = grip_head(feats[0])
            print(f"encoder: gripper patch acc {(gh[..., 0].argmax(-1) == grip_patch[vi]).float().mean():.2f}, "
                  f"colour-patch recall {(color_head(feats[0]).argmax(-1) == patch_color[vi])[patch_color[vi] > 0].float().mean():.2f}")
            gxy_pred = gh[rows, grip_patch[vi], 4:6]
            print("encoder grip head: gripper x, y RMSE at its patch",
                  (gxy_pred - torch.from_numpy(data.states[vi][:, :2])).pow(2).mean(0).sqrt().numpy().round(3))
            print(f"target-patch head acc {(target_head(h).argmax(-1) == g)[ok].float().mean():.2f}")
            def probe(x: torch.Tensor, y: np.ndarray) -> np.ndarray:
                """Held-out RMSE of a least-squares linear read-out (first half fits, second half tests)."""
                X = torch.cat([x, torch.ones(len(x), 1)], 1).numpy().astype(np.float64)
                n = len(X) // 2
                w, *_ = np.linalg.lstsq(X[:n], y[:n], rcond=1e-6)
                return np.sqrt(((X[n:] @ w - y[n:]) ** 2).mean(0)).round(3)
            gxy = data.states[vi][:, :2].astype(np.float64)
            print("linear read-out RMSE of gripper x, y: encoder feature at its patch",
                  probe(feats[0][rows, grip_patch[vi]], gxy), "| decoder input", probe(mm[rows, 1 + grip_patch[vi]], gxy),
                  "| decoder hidden at the first action position, layers 1..4",
                  [probe(out.hidden_states[k][rows, last], gxy) for k in range(1, len(out.hidden_states))])
            lg = out.logits[rows[:, None], last[:, None] + torch.arange(7)[None, :]]  # [B, 7, V]
            pred = lg[..., vocab - 256:vocab].argmax(-1)
            want = torch.from_numpy(act_tokens[vi]) - (vocab - 256)
            A = data.actions[vi]
            ap = aux_head(h).numpy()
            for d, name in enumerate(["x", "y"]):
                big = np.abs(A[:, d]) > 0.03
                print(f"aux goal-gripper {name}: sign agrees with the label's where |a| > 0.03: "
                      f"{(np.sign(ap[:, len(aux_cols) + 2 + d]) == np.sign(A[:, d]))[big].mean():.2f} ({big.sum()} frames)")
            print("predicted dx bins (first 24):", pred[:24, 0].tolist())
            print("label dx bins     (first 24):", want[:24, 0].tolist())
            for d, name in enumerate(["dx", "dy", "dz"]):
                # action bins: token id vocab-1-k for bin k (OpenVLA counts down), so compare on centred bins
                big = np.abs(A[:, d]) > 0.03
                same = (np.sign(pred[:, d].numpy() - 127.5) == np.sign(want[:, d].numpy() - 127.5))[big].mean()
                print(f"{name}: exact bin {(pred[:, d] == want[:, d]).float().mean():.2f}, "
                      f"same side of the middle bin where |a| > 0.03: {same:.2f}, bin MAE {(pred[:, d] - want[:, d]).abs().float().mean():.1f}")
        return

    if args.init:
        saved = torch.load(args.init, weights_only=False)["model"]
        own = model.state_dict()
        init = {k: v for k, v in saved.items() if k in own and own[k].shape == v.shape}
        missing = model.load_state_dict(init, strict=False)
        # Growing a run (more --layers than --init has): a block the saved run does not have at all starts with
        # zero output projections, i.e. as the identity, so the grown model starts as exactly the saved one.
        grown = [k for k in missing.missing_keys if k not in saved and k.endswith(("o_proj.weight", "down_proj.weight"))]
        with torch.no_grad():
            for k in grown:
                own[k].zero_()
        print(f"initialised from {args.init} (missing {len(missing.missing_keys)} keys"
              f"{', new blocks start as the identity' if grown else ''})", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.95))
    warm = 200
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))))
    rng = np.random.default_rng(args.seed + 1)
    step, curve, elapsed = 0, [], 0.0
    state_path = work / "state.pt"
    if state_path.exists():
        st = torch.load(state_path, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
        step, curve, elapsed = st["step"], st["curve"], st["elapsed"]
        print(f"resumed at step {step} ({elapsed / 60:.1f} min trained)", flush=True)

    def meta() -> Dict:
        return {
            "command": "python3 tools/train_sim_policy.py " + " ".join(sys.argv[1:]),
            "data": {"dirs": args.data, "episodes": len(data.episodes), "frames": int(len(data.frames)),
                     "train_frames": int(len(train_idx)), "held_out_frames": int(len(val_idx)),
                     "per_task_episodes": {t: sum(1 for e in data.episodes if e["task"] == t)
                                           for t in sorted({e["task"] for e in data.episodes})}},
            "model": {"parameters": n_params, "patch_tokens": n_patches, "vit_width": args.width, "vit_depth": args.depth,
                      "llm_hidden": args.hidden, "llm_layers": args.layers},
            "optimizer": {"name": "AdamW", "lr": args.lr, "batch": args.batch, "steps": args.steps, "warmup": warm,
                          "schedule": "linear warm-up, cosine to 5%", "weight_decay": 0.01},
            "step": step, "train_minutes": round(elapsed / 60, 1), "threads": args.threads,
            "versions": mf.versions(),
            "loss_curve_columns": ["step", "train_loss", "held_out_loss", "held_out_token_accuracy", "train_aux_state_mse",
                                   "train_dense_patch_loss", "train_attention_supervision_loss"],
            "auxiliary_loss": {"weight": args.aux_weight, "targets": "gripper x y z open, target x y held (simulator state), goal x y, goal - gripper x y",
                               "exported": False},
            "loss_curve": curve,
        }

    model.train()
    window: List[float] = []
    aux_window: List[List[float]] = []
    t_last = time.time()
    bench_t0 = None
    while step < args.steps:
        if args.benchmark and step == 2:
            bench_t0 = time.time()
        if args.benchmark and bench_t0 is not None and step == 2 + args.benchmark:
            dt = (time.time() - bench_t0) / args.benchmark
            print(f"benchmark: {dt * 1000:.0f} ms/step, {args.batch / dt:.1f} samples/s", flush=True)
            return
        idx = rng.choice(train_idx, size=args.batch, replace=False, p=draw_p)
        loss, _, ce, aux = loss_on(idx)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        window.append(float(ce))
        aux_window.append(aux.tolist())
        now = time.time()
        elapsed += now - t_last
        t_last = now
        if step % 50 == 0 or step == args.steps:
            val_loss, val_acc = None, None
            if step % 250 == 0 or step == args.steps:
                model.eval()
                with torch.no_grad():
                    vi = np.random.default_rng(7).choice(val_idx, size=min(256, len(val_idx)), replace=False)
                    res = [loss_on(vi[i:i + 64]) for i in range(0, len(vi), 64)]
                    val_loss, val_acc = float(np.mean([float(r[2]) for r in res])), float(np.mean([float(r[1]) for r in res]))
                model.train()
            am = np.mean(aux_window, axis=0).tolist()
            curve.append([step, float(np.mean(window)), val_loss, val_acc] + am)
            window, aux_window = [], []
            eta = elapsed / step * (args.steps - step)
            print(f"step {step:5d}/{args.steps} loss {curve[-1][1]:.4f} aux {am[0]:.4f} dense {am[1]:.3f} attn {am[2]:.3f}"
                  + (f" held-out {val_loss:.4f} acc {val_acc:.3f}" if val_loss is not None else "")
                  + f" lr {sched.get_last_lr()[0]:.2e} {elapsed / 60:.1f} min, eta {eta / 60:.1f} min", flush=True)
        if step % args.save_every == 0 or step == args.steps:
            tmp = work / "state.pt.tmp"
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "step": step,
                        "curve": curve, "elapsed": elapsed}, tmp)
            os.replace(tmp, state_path)
        if step % args.export_every == 0 or step == args.steps:
            export(model, spec, tok_json, tok_info, stats, out, meta())
            print(f"exported {out} at step {step}", flush=True)


if __name__ == "__main__":
    main()
