#!/usr/bin/env python3
"""
make_fixtures.py -- build tiny OpenVLA-family checkpoints plus float32 PyTorch reference outputs
for the Reflex Swift runtime tests.

Developer tool only (never a runtime dependency). Needs: torch, transformers, timm, tokenizers,
safetensors, pillow, numpy, torchvision (pulled in by timm).

    python3 tools/make_fixtures.py --out Tests/Fixtures

Everything is seeded; re-running on the same library versions reproduces the files. See
Tests/Fixtures/README.md for what each file holds.

Layout produced (relative to --out):
    images/                      synthetic test scenes (3 PNG + 1 JPEG) + preprocessed.safetensors
    openvla-tiny-llama/          fused DINOv2-reg4 + SigLIP, fused-gelu-mlp, Llama, 2 shards, LLM in bf16
    minivla-tiny-qwen/           fused DINOv2-reg4 + SigLIP, fused-gelu-mlp, Qwen2 (GQA, biases, tied), f32
    openvla-tiny-siglip/         SigLIP only (tanh GELU), gelu-mlp, Llama, single file, f32
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import platform
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms.functional as TVF
from PIL import Image, ImageDraw
from safetensors.torch import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from timm.models.vision_transformer import VisionTransformer
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

# ----------------------------------------------------------------------------------------------------------------------
# Constants
# ----------------------------------------------------------------------------------------------------------------------

IMAGE_SIZE = 224
PATCH_SIZE = 14
N_PATCHES = (IMAGE_SIZE // PATCH_SIZE) ** 2  # 256
N_BINS = 256

# DINOv2 normalisation as written in the *released* openvla/openvla-7b preprocessor_config.json: the ImageNet
# statistics were rounded to bfloat16 when that processor was exported.
DINO_MEAN_OPENVLA_RELEASE = [0.484375, 0.455078125, 0.40625]
DINO_STD_OPENVLA_RELEASE = [0.228515625, 0.2236328125, 0.224609375]
# Exact timm IMAGENET_DEFAULT_MEAN/STD as float32 (what a processor built in float32 writes; the native Prismatic
# code path used by MiniVLA normalises with these).
DINO_MEAN_F32 = [float(np.float32(v)) for v in (0.485, 0.456, 0.406)]
DINO_STD_F32 = [float(np.float32(v)) for v in (0.229, 0.224, 0.225)]
SIGLIP_MEAN = [0.5, 0.5, 0.5]
SIGLIP_STD = [0.5, 0.5, 0.5]

QWEN_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# The 22 added tokens of Qwen/Qwen2.5-0.5B's tokenizer, in id order (151643 ... 151664). <tool_call> and
# </tool_call> are *not* special there (special=False), everything else is.
QWEN_ADDED_TOKENS = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True), ("<|quad_start|>", True),
    ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
    ("<|fim_prefix|>", True), ("<|fim_middle|>", True), ("<|fim_suffix|>", True), ("<|fim_pad|>", True),
    ("<|repo_name|>", True), ("<|file_sep|>", True),
]
QWEN_SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
OPENVLA_PROMPT = "In: What action should the robot take to {instruction}?\nOut:"
MINIVLA_PROMPT = (
    "<|im_start|>system\n" + QWEN_SYSTEM_PROMPT + "<|im_end|>\n"
    "<|im_start|>user\nWhat action should the robot take to {instruction}?<|im_end|>\n<|im_start|>assistant\n"
)

BRIDGE_STATS = {
    "action": {
        "mean": [0.0002, 0.0001, -0.0001, -0.0002, -0.0003, 0.0002, 0.5764],
        "std": [0.0096, 0.0137, 0.0127, 0.0285, 0.0306, 0.0769, 0.4975],
        "max": [0.4140, 0.4036, 0.3603, 0.7849, 1.5655, 2.4985, 1.0],
        "min": [-0.4007, -0.4137, -0.3388, -0.7853, -1.2962, -3.0723, 0.0],
        "q01": [-0.0287, -0.0417, -0.0261, -0.0809, -0.0929, -0.2072, 0.0],
        "q99": [0.0283, 0.0409, 0.0402, 0.0819, 0.0779, 0.2038, 1.0],
        "mask": [True, True, True, True, True, True, False],
    },
    "proprio": {
        "mean": [0.0] * 7, "std": [0.0] * 7, "max": [0.0] * 7, "min": [0.0] * 7,
        "q01": [0.0] * 7, "q99": [0.0] * 7,
    },
    "num_transitions": 2135463,
    "num_trajectories": 60064,
}
# A second, made-up dataset so that `unnorm_key` is mandatory. Its gripper dimension is *normalised* (mask all
# true) to exercise the masked and unmasked paths with different keys.
TABLETOP_STATS = {
    "action": {
        "mean": [0.0011, -0.0020, 0.0005, 0.0, 0.0, 0.0012, 0.4],
        "std": [0.31, 0.42, 0.27, 0.05, 0.06, 0.09, 0.49],
        "max": [0.9375, 0.9375, 0.9375, 0.375, 0.375, 0.375, 1.0],
        "min": [-0.9375, -0.9375, -0.9375, -0.375, -0.375, -0.375, 0.0],
        "q01": [-0.7500, -0.8571, -0.9375, -0.2500, -0.3000, -0.3571, 0.0],
        "q99": [0.7500, 0.9375, 0.6000, 0.2500, 0.3000, 0.3571, 1.0],
        "mask": [True, True, True, True, True, True, True],
    },
    "proprio": {
        "mean": [0.0] * 8, "std": [0.0] * 8, "max": [0.0] * 8, "min": [0.0] * 8,
        "q01": [0.0] * 8, "q99": [0.0] * 8,
    },
    "num_transitions": 52970,
    "num_trajectories": 432,
}
NORM_STATS = {"bridge_orig": BRIDGE_STATS, "tabletop_sim_tiny": TABLETOP_STATS}

# ----------------------------------------------------------------------------------------------------------------------
# Synthetic scenes + task
# ----------------------------------------------------------------------------------------------------------------------

COLORS = {
    "red": (214, 38, 44), "green": (36, 168, 72), "blue": (46, 86, 214),
    "yellow": (232, 204, 44), "purple": (140, 62, 188), "orange": (240, 132, 28),
}
COLOR_NAMES = list(COLORS)
OBJECTS = ["block", "ball", "cone"]
VERBS = ["pick up", "push left", "push right", "lift", "place"]


def verb_phrase(verb: str, color: str, obj: str, rng: np.random.Generator) -> str:
    if verb == "pick up":
        return rng.choice([f"pick up the {color} {obj}", f"grab the {color} {obj}"])
    if verb == "push left":
        return f"push the {color} {obj} to the left"
    if verb == "push right":
        return f"push the {color} {obj} to the right"
    if verb == "lift":
        return rng.choice([f"lift the {color} {obj}", f"raise the {color} {obj} up"])
    return rng.choice([f"place the {color} {obj} on the plate", f"put the {color} {obj} in the bowl"])


@dataclass
class SceneObject:
    color: str
    obj: str
    gx: int  # grid column 0..3
    gy: int  # grid row 0..2
    size: int  # 0..2


BG_FAMILIES = {"warm": (172, 122, 92), "green": (104, 158, 112), "blue": (98, 118, 172)}
BG_LEVELS = [0.55, 0.85, 1.15]  # table brightness: dark / mid / bright


@dataclass
class Scene:
    width: int
    height: int
    bg_family: str
    bg_level: int
    objects: List[SceneObject]
    texture_seed: int


def random_scene(rng: np.random.Generator, width: int, height: int, bg_family: Optional[str] = None,
                 bg_level: Optional[int] = None, n_objects: Optional[int] = None) -> Scene:
    n = int(rng.integers(1, 4)) if n_objects is None else n_objects
    cells = rng.permutation(12)[:n]
    colors = rng.permutation(len(COLOR_NAMES))[:n]
    objs = [
        SceneObject(COLOR_NAMES[int(c)], OBJECTS[int(rng.integers(0, 3))], int(cell % 4), int(cell // 4),
                    int(rng.integers(0, 3)))
        for cell, c in zip(cells, colors)
    ]
    fam = list(BG_FAMILIES)[int(rng.integers(0, 3))] if bg_family is None else bg_family
    lvl = int(rng.integers(0, 3)) if bg_level is None else bg_level
    return Scene(width, height, fam, lvl, objs, int(rng.integers(0, 2**31 - 1)))


def render_scene(scene: Scene) -> Image.Image:
    w, h = scene.width, scene.height
    trng = np.random.default_rng(scene.texture_seed)
    # Table texture: vertical gradient + deterministic speckle so that the bicubic resize has detail to filter.
    yy = np.linspace(0.0, 1.0, h)[:, None, None]
    base = np.array(BG_FAMILIES[scene.bg_family], dtype=np.float64)[None, None, :] * BG_LEVELS[scene.bg_level]
    img = base * (0.75 + 0.35 * yy) + trng.normal(0.0, 9.0, size=(h, w, 3))
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    im = Image.fromarray(img, "RGB")
    d = ImageDraw.Draw(im)
    # A few distractor lines.
    for _ in range(3):
        x0, y0, x1, y1 = (int(v) for v in trng.integers(0, max(w, h), size=4))
        d.line((x0 % w, y0 % h, x1 % w, y1 % h), fill=tuple(int(v) for v in trng.integers(0, 255, 3)), width=2)
    cw, ch = w / 4.0, h / 3.0
    for o in scene.objects:
        cx, cy = (o.gx + 0.5) * cw, (o.gy + 0.5) * ch
        r = (0.22 + 0.09 * o.size) * min(cw, ch)
        col = COLORS[o.color]
        if o.obj == "block":
            d.rectangle((cx - r, cy - r, cx + r, cy + r), fill=col, outline=(20, 20, 20))
        elif o.obj == "ball":
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=col, outline=(250, 250, 250))
        else:
            d.polygon(((cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)), fill=col, outline=(30, 30, 30))
    return im


def task_target(scene: Scene, verb: str, color: str, obj: str) -> np.ndarray:
    """Normalised 7-D action in [-1, 1] (last dim: gripper 0/1): a discrete, confidently learnable function of the
    image (table brightness + colour family) and of the instruction (verb, colour word, object word)."""
    a = np.zeros(7, dtype=np.float64)
    a[0] = [-0.625, 0.0, 0.625][scene.bg_level]
    a[1] = {"warm": -0.375, "green": 0.25, "blue": 0.75}[scene.bg_family]
    a[2] = {"pick up": -0.75, "push left": 0.0, "push right": 0.0, "lift": 0.75, "place": -0.375}[verb]
    a[3] = {"push left": -0.625, "push right": 0.625}.get(verb, -0.25 + 0.1 * COLOR_NAMES.index(color))
    a[4] = {"block": -0.5, "ball": 0.0, "cone": 0.5}[obj]
    a[5] = 0.3 * (scene.bg_level - 1) + 0.25 * (OBJECTS.index(obj) - 1)  # needs image *and* instruction
    a[6] = 0.0 if verb in ("pick up", "lift") else 1.0
    return a


def sample_task(rng: np.random.Generator) -> Tuple[Scene, str, np.ndarray]:
    w, h = [(160, 120), (320, 240), (250, 190), (288, 216), (224, 224), (200, 260)][int(rng.integers(0, 6))]
    scene = random_scene(rng, w, h)
    verb = VERBS[int(rng.integers(0, len(VERBS)))]
    if rng.random() < 0.85:
        o = scene.objects[int(rng.integers(0, len(scene.objects)))]
        color, obj = o.color, o.obj
    else:  # refer to an absent colour
        absent = [c for c in COLOR_NAMES if c not in {o.color for o in scene.objects}]
        color, obj = absent[int(rng.integers(0, len(absent)))], OBJECTS[int(rng.integers(0, 3))]
    instruction = verb_phrase(verb, color, obj, rng)
    if rng.random() < 0.3:
        instruction = instruction[0].upper() + instruction[1:]
    return scene, instruction, task_target(scene, verb, color, obj)


# ----------------------------------------------------------------------------------------------------------------------
# Image preprocessing (the Prismatic HF processor with image_resize_strategy = "resize-naive")
# ----------------------------------------------------------------------------------------------------------------------


def load_rgb(path: Path) -> Image.Image:
    return Image.open(path).convert("RGB")


def resize_naive(img: Image.Image) -> Image.Image:
    # torchvision.transforms.functional.resize on a PIL image == PIL.Image.resize((W, H), BICUBIC), no reducing_gap.
    return TVF.resize(img, [IMAGE_SIZE, IMAGE_SIZE], interpolation=TVF.InterpolationMode.BICUBIC, antialias=True)


def normalize(img224: Image.Image, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    t = TVF.to_tensor(img224)  # uint8 -> float32, divided by 255 (a true division, not * 1/255)
    return TVF.normalize(t, mean=list(mean), std=list(std))  # (x - mean) / std, float32


# --- Independent re-implementation of PIL's 8-bit BICUBIC resample (cross-check; reference for the Swift port) ---


def _pil_bicubic(x: float) -> float:
    a = -0.5
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def _pil_coeffs(in_size: int, out_size: int) -> Tuple[List[int], List[int], np.ndarray]:
    PRECISION_BITS = 32 - 8 - 2
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    xmins, xlens = [], []
    kk = np.zeros((out_size, ksize), dtype=np.int64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        ss = 1.0 / filterscale
        xmin = int(center - support + 0.5)
        xmin = max(xmin, 0)
        xmax = int(center + support + 0.5)
        xmax = min(xmax, in_size) - xmin
        w = [_pil_bicubic(((x + xmin) - center + 0.5) * ss) for x in range(xmax)]
        ww = 0.0
        for v in w:
            ww += v
        if ww != 0.0:
            w = [v / ww for v in w]
        for x, v in enumerate(w):
            kk[xx, x] = int(-0.5 + v * (1 << PRECISION_BITS)) if v < 0 else int(0.5 + v * (1 << PRECISION_BITS))
        xmins.append(xmin)
        xlens.append(xmax)
    return xmins, xlens, kk


def _pil_pass(src: np.ndarray, out_size: int, axis: int) -> np.ndarray:
    """One separable pass along `axis` (1 = horizontal, 0 = vertical) on an HxWxC uint8 array."""
    in_size = src.shape[axis]
    xmins, xlens, kk = _pil_coeffs(in_size, out_size)
    s = np.moveaxis(src.astype(np.int64), axis, 0)  # [in, other, C]
    out = np.empty((out_size,) + s.shape[1:], dtype=np.int64)
    for xx in range(out_size):
        acc = np.full(s.shape[1:], 1 << 21, dtype=np.int64)
        for x in range(xlens[xx]):
            acc += s[xmins[xx] + x] * kk[xx, x]
        out[xx] = np.clip(acc >> 22, 0, 255)
    return np.moveaxis(out, 0, axis).astype(np.uint8)


def pil_bicubic_reference(rgb: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    x = rgb
    if out_w != w:
        x = _pil_pass(x, out_w, axis=1)  # horizontal first, result rounded/clamped to uint8
    if out_h != h:
        x = _pil_pass(x, out_h, axis=0)
    return x


# ----------------------------------------------------------------------------------------------------------------------
# Tokenizers
# ----------------------------------------------------------------------------------------------------------------------

FILLER_CHARS = [chr(0x4E00 + i) for i in range(256)]  # CJK U+4E00..U+4EFF: the "rare" tail of the vocabulary


def build_corpus(rng: np.random.Generator, n: int = 3000) -> List[str]:
    lines = []
    extra_words = [
        "the robot arm moves slowly", "open the drawer", "close the drawer", "wipe the table with the cloth",
        "stack the blocks", "put the spoon next to the towel", "move the pot onto the stove",
        "turn on the faucet", "fold the cloth", "knock over the cup", "what should the robot do",
        "sweep the beans into the dustpan", "hello world", "the quick brown fox jumps over the lazy dog",
        "action", "robot", "take", "should", "What", "In", "Out", "Robot", "Pick", "Put", "Move",
    ]
    for _ in range(n):
        r = rng.random()
        if r < 0.55:
            _, instr, _ = sample_task(rng)
            if rng.random() < 0.5:
                # The real prompt has "?\nOut:"; "\n" is left to byte fallback (<0x0A>) as in Llama-2.
                lines.append(f"In: What action should the robot take to {instr.lower()}?Out:")
            else:
                lines.append(instr)
        elif r < 0.8:
            lines.append(str(rng.choice(extra_words)))
        else:
            k = int(rng.integers(1, 4))
            lines.append(" ".join(str(rng.choice(extra_words)) for _ in range(k)) + " " + str(rng.integers(0, 1000)))
    return lines


def build_llama_tokenizer(corpus: List[str], vocab_size: int) -> Tuple[str, Dict]:
    """SentencePiece-style BPE in the exact Llama-2 tokenizer.json shape.

    ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then the trained alphabet+merges, then 256 rare CJK
    characters (U+4E00..U+4EFF) as the last 256 ids (like Llama-2, whose last 256 ids are rare characters that OpenVLA
    overwrites with actions), then the added special token <PAD> at id == vocab_size (OpenVLA's 32000).
    """
    n_trained = vocab_size - 3 - 256 - 256
    trainer_tok = Tokenizer(models.BPE())
    # Metaspace + single-digit split at *training* time only, so that no merge crosses a word boundary and digits
    # never merge (Llama-2's SentencePiece behaviour). The saved tokenizer has no pre-tokenizer, as Llama-2's.
    trainer_tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True),
         pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.Punctuation(behavior="isolated")]
    )
    trainer = trainers.BpeTrainer(vocab_size=n_trained, special_tokens=[], show_progress=False, limit_alphabet=200)
    trainer_tok.train_from_iterator(corpus, trainer)
    trained = json.loads(trainer_tok.to_str())["model"]
    t_vocab = sorted(trained["vocab"].items(), key=lambda kv: kv[1])
    if len(t_vocab) != n_trained:
        raise RuntimeError(f"BPE trainer produced {len(t_vocab)} tokens, wanted {n_trained}; enlarge the corpus")
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in trained["merges"]]

    vocab: Dict[str, int] = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = 3 + b
    for tok, _ in t_vocab:
        assert tok not in vocab, tok
        vocab[tok] = len(vocab)
    for ch in FILLER_CHARS:
        assert ch not in vocab
        vocab[ch] = len(vocab)
    assert len(vocab) == vocab_size

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True,
                               dropout=None))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence(
        [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1", special_tokens=[("<s>", 1)]
    )
    tok.add_special_tokens([
        AddedToken("<unk>", normalized=False, special=True),
        AddedToken("<s>", normalized=False, special=True),
        AddedToken("</s>", normalized=False, special=True),
        AddedToken("<PAD>", normalized=False, special=True),
    ])
    assert tok.token_to_id("<PAD>") == vocab_size
    js = json.loads(tok.to_str())
    # Write merges in the legacy "a b" string form used by the original Llama-2 tokenizer.json (the Qwen fixture
    # uses the newer ["a", "b"] pair form), and make the BPE options explicit.
    js["model"]["merges"] = [f"{a} {b}" for a, b in merges]
    js["model"]["ignore_merges"] = False
    text = json.dumps(js, ensure_ascii=False, indent=2)
    reloaded = Tokenizer.from_str(text)
    for s in ["pick up the red block", "In: What action should the robot take to lift the ball?\nOut:", "12 34"]:
        assert reloaded.encode(s).ids == tok.encode(s).ids
    space_id = vocab["\u2581"]
    info = {"space_token_id": space_id, "pad_token_id": vocab_size, "n_trained": n_trained, "n_merges": len(merges)}
    return text, info


def build_qwen_tokenizer(corpus: List[str], n_base: int, n_extra: int = 256) -> Tuple[str, Dict]:
    """Byte-level BPE in the Qwen2 / Qwen2.5 tokenizer.json shape, plus MiniVLA's 256 <|extra_i|> tokens.

    ids: 0..n_base-1 byte-level BPE vocab (256 byte symbols + merges), then the 22 Qwen2.5 added tokens
    (<|endoftext|> = n_base, <|im_start|> = n_base+1, <|im_end|> = n_base+2, ...), then <|extra_0|> ... <|extra_255|>
    (added with `tokenizer.add_tokens`, i.e. special=False, normalized=True), exactly as `qwen25-0_5b-extra` does.
    """
    tok = Tokenizer(models.BPE(dropout=None, unk_token=None, continuing_subword_prefix="", end_of_word_suffix="",
                               fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=n_base, special_tokens=[], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    if tok.get_vocab_size() != n_base:
        raise RuntimeError(f"byte-level trainer produced {tok.get_vocab_size()} tokens, wanted {n_base}")
    tok.add_tokens([AddedToken(t, normalized=False, special=s) for t, s in QWEN_ADDED_TOKENS])
    tok.add_tokens([AddedToken(f"<|extra_{i}|>", normalized=True, special=False) for i in range(n_extra)])
    js = json.loads(tok.to_str())
    js["model"]["ignore_merges"] = False
    js["decoder"].update({"add_prefix_space": False, "trim_offsets": False, "use_regex": False})  # as in Qwen2.5's file
    assert all(isinstance(m, list) for m in js["model"]["merges"]), "expected the new [a, b] merges format"
    text = json.dumps(js, ensure_ascii=False, indent=2)
    reloaded = Tokenizer.from_str(text)
    assert reloaded.encode("<|im_start|>user\nhi<|im_end|>").ids == tok.encode("<|im_start|>user\nhi<|im_end|>").ids
    ids = {t: tok.token_to_id(t) for t, _ in QWEN_ADDED_TOKENS}
    assert ids["<|endoftext|>"] == n_base and ids["<|im_start|>"] == n_base + 1 and ids["<|im_end|>"] == n_base + 2
    info = {
        "endoftext_id": ids["<|endoftext|>"], "im_start_id": ids["<|im_start|>"], "im_end_id": ids["<|im_end|>"],
        "extra_0_id": tok.token_to_id("<|extra_0|>"), "len_tokenizer": tok.get_vocab_size(with_added_tokens=True),
        "n_merges": len(js["model"]["merges"]),
    }
    assert info["extra_0_id"] == n_base + len(QWEN_ADDED_TOKENS)
    assert info["len_tokenizer"] == n_base + len(QWEN_ADDED_TOKENS) + n_extra
    return text, info


TOKENIZER_TEST_STRINGS = [
    "", " ", "   ", "a", "hello", "Hello World", "hello world", "HELLO WORLD", "MiXeD CaSe TeXt",
    "pick up the red block", "Pick Up The Red Block", "push the blue ball to the left",
    "In: What action should the robot take to pick up the red block?\nOut:",
    "In: What action should the robot take to put the yellow cone in the bowl?\nOut: ",
    MINIVLA_PROMPT.format(instruction="lift the green ball"),
    "<s>", "</s>", "<unk>", "<PAD>", "<s>hello</s>", "a</s>b", "before <s> after",
    "<|endoftext|>", "<|im_start|>user\nhi<|im_end|>", "<|extra_0|><|extra_255|> <|extra_7|>x",
    "<tool_call>{\"a\": 1}</tool_call>", "<|im_start|><|im_end|>",
    "0", "7", "12", "123456789", "3.14159", "1,000,000", "move 2 cm to the left", "rotate 90 degrees", "90°",
    "\t", "\n", "\n\n", "\r\n", "tab\there", "line one\nline two\n", "  leading spaces", "trailing spaces   ",
    "multiple   spaces   between", "mixed \t whitespace \n\n run", "\u00a0non-breaking\u00a0space", "zero\u200bwidth",
    "don't", "I'll we've they're it's", "snake_case_name", "camelCaseName", "path/to/file.txt",
    "email@example.com", "https://example.com/a?b=c&d=e", "(parens) [brackets] {braces}", "!!!???...", "--- *** ###",
    "caf\u00e9", "cafe\u0301", "na\u00efve r\u00e9sum\u00e9", "\u00dcn\u00efc\u00f6d\u00e9", "stra\u00dfe \u1e9e",
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac", "\u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442",
    "\u05e2\u05d1\u05e8\u05d9\u05ea", "\u0645\u0631\u062d\u0628\u0627", "\u0939\u093f\u0928\u094d\u0926\u0940",
    "\ud55c\uad6d\uc5b4", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\u4f60\u597d\uff0c\u4e16\u754c",
    "\u4e00\u4e01\u4e03\u4e07\u4e08\u4e09\u4e0a\u4e0b", "\u4e00 \u4e8c \u4e09", "\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48",
    "\U0001F600\U0001F916\U0001F44D\U0001F3FD", "robot \U0001F916 arm", "\U0001F468\u200d\U0001F469\u200d\U0001F467",
    "\u2581already\u2581metaspace", "\u0120byte\u0120level", "Robot, pick up the RED block!!",
]


def tokenizer_cases(tok_json: str) -> List[Dict]:
    tok = Tokenizer.from_str(tok_json)
    out = []
    for s in TOKENIZER_TEST_STRINGS:
        e_sp = tok.encode(s, add_special_tokens=True)
        e_no = tok.encode(s, add_special_tokens=False)
        out.append({
            "text": s,
            "ids_with_special": e_sp.ids,
            "tokens_with_special": e_sp.tokens,
            "ids_no_special": e_no.ids,
            "tokens_no_special": e_no.tokens,
            "decoded_keep_special": tok.decode(e_sp.ids, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(e_sp.ids, skip_special_tokens=True),
        })
    return out


# ----------------------------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class VisionSpec:
    family: str  # "dinov2" | "siglip"
    width: int = 32
    depth: int = 3
    heads: int = 2
    mlp_dim: int = 64
    gelu: str = "erf"  # "erf" | "tanh"

    @property
    def registers(self) -> int:
        return 4 if self.family == "dinov2" else 0

    @property
    def layerscale(self) -> bool:
        return self.family == "dinov2"

    def config_entry(self) -> Dict:
        return {
            "family": self.family, "image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE, "width": self.width,
            "depth": self.depth, "heads": self.heads, "mlp_dim": self.mlp_dim, "registers": self.registers,
            "layerscale": self.layerscale, "gelu": self.gelu, "norm_eps": 1e-6,
        }


def make_vit(spec: VisionSpec) -> VisionTransformer:
    """A tiny timm VisionTransformer with the same constructor flags timm uses for the real encoders:
    vit_large_patch14_reg4_dinov2: init_values (LayerScale), reg_tokens=4, no_embed_class=True, class token;
    vit_so400m_patch14_siglip_224: class_token=False, global_pool='map'. OpenVLA passes act_layer=None (-> erf GELU)."""
    act = None if spec.gelu == "erf" else "gelu_tanh"
    common = dict(img_size=IMAGE_SIZE, patch_size=PATCH_SIZE, embed_dim=spec.width, depth=spec.depth,
                  num_heads=spec.heads, mlp_ratio=spec.mlp_dim / spec.width, num_classes=0, act_layer=act)
    if spec.family == "dinov2":
        m = VisionTransformer(init_values=1e-5, reg_tokens=4, no_embed_class=True, class_token=True, **common)
    else:
        m = VisionTransformer(class_token=False, global_pool="map", **common)
    assert int(spec.width * (spec.mlp_dim / spec.width)) == spec.mlp_dim
    return m


def init_vit_(m: VisionTransformer, g: torch.Generator) -> None:
    """Re-initialise so that activations are O(1) and every parameter (incl. LayerScale) is non-trivial."""
    for name, p in m.named_parameters():
        with torch.no_grad():
            if name.endswith(".gamma"):
                p.copy_(torch.empty_like(p).uniform_(0.1, 0.6, generator=g))
            elif p.ndim == 1 and ("norm" in name):
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1:
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            elif name in ("cls_token", "reg_token", "attn_pool.latent"):
                p.copy_(torch.randn(p.shape, generator=g))
            elif name == "pos_embed":
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))


class Projector(nn.Module):
    """PrismaticProjector: fused -> fc1 (v -> 4v), GELU, fc2 (4v -> H), GELU, fc3 (H -> H); else fc1, GELU, fc2."""

    def __init__(self, fused: bool, vision_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.fused = fused
        if fused:
            self.fc1 = nn.Linear(vision_dim, 4 * vision_dim)
            self.fc2 = nn.Linear(4 * vision_dim, llm_dim)
            self.fc3 = nn.Linear(llm_dim, llm_dim)
        else:
            self.fc1 = nn.Linear(vision_dim, llm_dim)
            self.fc2 = nn.Linear(llm_dim, llm_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc2(F.gelu(self.fc1(x)))
        if self.fused:
            x = self.fc3(F.gelu(x))
        return x


class TinyPrismatic(nn.Module):
    """Mirror of PrismaticForConditionalGeneration's multimodal forward (image patches inserted after token 0)."""

    def __init__(self, vision_specs: List[VisionSpec], lm: nn.Module) -> None:
        super().__init__()
        self.vision_specs = vision_specs
        self.featurizer = make_vit(vision_specs[0])
        self.fused_featurizer = make_vit(vision_specs[1]) if len(vision_specs) > 1 else None
        vdim = sum(s.width for s in vision_specs)
        self.projector = Projector(len(vision_specs) > 1, vdim, lm.config.hidden_size)
        self.lm = lm

    def features(self, pix: List[torch.Tensor]) -> List[torch.Tensor]:
        outs = []
        for enc, px in zip([self.featurizer, self.fused_featurizer], pix):
            if enc is None:
                continue
            # OpenVLA: featurizer.forward = get_intermediate_layers(n={len(blocks) - 2}) -> second-to-last block,
            # patch tokens only (prefix tokens dropped), no final norm.
            (f,) = enc.get_intermediate_layers(px, n={len(enc.blocks) - 2})
            outs.append(f)
        return outs

    def embed(self, pix: List[torch.Tensor], input_ids: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor], torch.Tensor]:
        feats = self.features(pix)
        proj = self.projector(torch.cat(feats, dim=-1))
        emb = self.lm.get_input_embeddings()(input_ids)
        mm = torch.cat([emb[:, :1], proj, emb[:, 1:]], dim=1)
        return mm, feats, proj


# --- Independent, hand-written ViT forward from the *saved* state dict (cross-checks our reading of timm) ---------


def manual_vit_features(sd: Dict[str, torch.Tensor], prefix: str, spec: VisionSpec, px: torch.Tensor) -> torch.Tensor:
    g = lambda k: sd[prefix + k].float()  # noqa: E731
    D, Hh = spec.width, spec.heads
    hd = D // Hh
    x = F.conv2d(px[None], g("patch_embed.proj.weight"), g("patch_embed.proj.bias"), stride=PATCH_SIZE)
    x = x.flatten(2).transpose(1, 2)[0]  # [256, D], row-major over the 16x16 grid
    x = x + g("pos_embed")[0]  # pos_embed covers patches only (DINOv2: no_embed_class; SigLIP: no class token)
    n_prefix = 0
    if spec.family == "dinov2":
        x = torch.cat([g("cls_token")[0], g("reg_token")[0], x], dim=0)  # [CLS, reg0..reg3, patches]
        n_prefix = 1 + spec.registers
    act = (lambda t: F.gelu(t)) if spec.gelu == "erf" else (lambda t: F.gelu(t, approximate="tanh"))
    for i in range(spec.depth - 1):  # blocks 0 .. depth-2 inclusive
        b = f"blocks.{i}."
        h = F.layer_norm(x, (D,), g(b + "norm1.weight"), g(b + "norm1.bias"), eps=1e-6)
        qkv = h @ g(b + "attn.qkv.weight").T + g(b + "attn.qkv.bias")  # [N, 3D] = [q | k | v], heads contiguous
        q, k, v = qkv.view(-1, 3, Hh, hd).permute(1, 2, 0, 3)
        a = torch.softmax((q * hd ** -0.5) @ k.transpose(-1, -2), dim=-1) @ v  # [H, N, hd]
        a = a.transpose(0, 1).reshape(-1, D) @ g(b + "attn.proj.weight").T + g(b + "attn.proj.bias")
        if spec.layerscale:
            a = a * g(b + "ls1.scale_factor")
        x = x + a
        h = F.layer_norm(x, (D,), g(b + "norm2.weight"), g(b + "norm2.bias"), eps=1e-6)
        h = act(h @ g(b + "mlp.fc1.weight").T + g(b + "mlp.fc1.bias")) @ g(b + "mlp.fc2.weight").T + g(b + "mlp.fc2.bias")
        if spec.layerscale:
            h = h * g(b + "ls2.scale_factor")
        x = x + h
    return x[n_prefix:]


# ----------------------------------------------------------------------------------------------------------------------
# Fixture definitions
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class FixtureSpec:
    name: str
    family: str  # "llama" | "qwen"
    vision: List[VisionSpec]
    vision_backbone_id: str
    timm_model_ids: List[str]
    arch_specifier: str
    llm_bf16: bool
    shards: int
    dino_mean: List[float]
    dino_std: List[float]
    seed: int
    candidate_cases: List[Tuple[str, str, str]] = field(default_factory=list)  # tried in order
    store_pixel_values: bool = False  # case0.pixel_values_* (f32 [3,224,224] each)
    store_prompt_logits: bool = False  # case0.prompt_logits (f32 [L, rows])
    train_steps_scale: float = 1.0  # the tied-embedding Qwen model converges more slowly


LLAMA_VOCAB = 768  # tokenizer vocab (OpenVLA: 32000); +<PAD> -> 769 -> padded to 832 rows (OpenVLA: 32064)
QWEN_BASE = 480  # byte-level BPE vocab (Qwen2.5: 151643); +22 added +256 extra = 758 (151921) -> 768 rows (151936)


def pad_to_64(n: int) -> int:
    return int(math.ceil(n / 64) * 64)


def build_lm(spec: FixtureSpec, tok_info: Dict) -> nn.Module:
    if spec.family == "llama":
        cfg = LlamaConfig(
            vocab_size=pad_to_64(LLAMA_VOCAB + 1), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=4, hidden_act="silu", max_position_embeddings=2048,
            rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False, attention_bias=False,
            bos_token_id=1, eos_token_id=2, pad_token_id=LLAMA_VOCAB,
        )
        cfg._attn_implementation = "eager"
        return LlamaForCausalLM(cfg)
    cfg = Qwen2Config(
        vocab_size=pad_to_64(tok_info["len_tokenizer"]), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, hidden_act="silu", max_position_embeddings=32768,
        rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False,
        max_window_layers=2, bos_token_id=tok_info["endoftext_id"], eos_token_id=tok_info["endoftext_id"],
        pad_token_id=tok_info["endoftext_id"],
    )
    cfg._attn_implementation = "eager"
    m = Qwen2ForCausalLM(cfg)
    assert m.lm_head.weight is m.model.embed_tokens.weight
    return m


def text_config_dict(spec: FixtureSpec, lm: nn.Module) -> Dict:
    c = lm.config
    d = {
        "model_type": "llama" if spec.family == "llama" else "qwen2",
        "architectures": ["LlamaForCausalLM" if spec.family == "llama" else "Qwen2ForCausalLM"],
        "vocab_size": c.vocab_size, "hidden_size": c.hidden_size, "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers, "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads, "head_dim": c.hidden_size // c.num_attention_heads,
        "hidden_act": "silu", "max_position_embeddings": c.max_position_embeddings, "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": float(c.rope_parameters["rope_theta"]), "rope_scaling": None,
        "tie_word_embeddings": bool(c.tie_word_embeddings), "bos_token_id": c.bos_token_id,
        "eos_token_id": c.eos_token_id, "pad_token_id": c.pad_token_id, "initializer_range": 0.02,
        "use_cache": True, "attention_dropout": 0.0,
        "torch_dtype": "bfloat16" if spec.llm_bf16 else "float32",
    }
    if spec.family == "llama":
        d.update({"attention_bias": False, "mlp_bias": False, "pretraining_tp": 1})
    else:
        d.update({"use_sliding_window": False, "sliding_window": 32768, "max_window_layers": c.num_hidden_layers,
                  # transformers >= 5 writes rope_parameters instead of rope_theta; both are present and agree here.
                  "rope_parameters": {"rope_type": "default", "rope_theta": float(c.rope_parameters["rope_theta"])}})
    return d


def prompt_ids(spec: FixtureSpec, tok: Tokenizer, instruction: str, tok_info: Dict) -> Tuple[str, List[int]]:
    if spec.family == "llama":
        prompt = OPENVLA_PROMPT.format(instruction=instruction.lower())
        ids = tok.encode(prompt, add_special_tokens=True).ids
        if ids[-1] != tok_info["space_token_id"]:  # OpenVLA's "append 29871 unless already last"
            ids = ids + [tok_info["space_token_id"]]
        return prompt, ids
    prompt = MINIVLA_PROMPT.format(instruction=instruction.lower())
    return prompt, tok.encode(prompt, add_special_tokens=True).ids


def action_vocab(spec: FixtureSpec, tok_info: Dict) -> int:
    return LLAMA_VOCAB if spec.family == "llama" else tok_info["len_tokenizer"]


def end_ids(spec: FixtureSpec, tok_info: Dict) -> List[int]:
    # Training targets after the 7 action tokens: Llama-2 "</s>"; MiniVLA "<|im_end|><|endoftext|>".
    return [2] if spec.family == "llama" else [tok_info["im_end_id"], tok_info["endoftext_id"]]


def actions_to_tokens(a: np.ndarray, vocab: int) -> List[int]:
    bins = np.linspace(-1.0, 1.0, N_BINS)
    d = np.digitize(np.clip(a, -1.0, 1.0), bins)
    return [int(vocab - x) for x in d]


def decode_actions(tokens: Sequence[int], vocab: int, stats: Dict) -> Tuple[np.ndarray, np.ndarray]:
    bins = np.linspace(-1.0, 1.0, N_BINS)
    centers = (bins[:-1] + bins[1:]) / 2.0
    d = vocab - np.asarray(tokens)
    idx = np.clip(d - 1, 0, centers.shape[0] - 1)
    normalized = centers[idx]
    st = stats["action"]
    mask = np.asarray(st.get("mask", [True] * len(st["q01"])), dtype=bool)
    hi, lo = np.asarray(st["q99"]), np.asarray(st["q01"])
    return normalized, np.where(mask, 0.5 * (normalized + 1) * (hi - lo) + lo, normalized)


def preprocess_for(spec: FixtureSpec, img: Image.Image) -> Tuple[np.ndarray, List[torch.Tensor]]:
    r = resize_naive(img)
    u8 = np.asarray(r, dtype=np.uint8).copy()
    pix = []
    for v in spec.vision:
        if v.family == "dinov2":
            pix.append(normalize(r, spec.dino_mean, spec.dino_std))
        else:
            pix.append(normalize(r, SIGLIP_MEAN, SIGLIP_STD))
    return u8, pix


# ----------------------------------------------------------------------------------------------------------------------
# Training on the synthetic task (so greedy decoding is non-degenerate and lands in the action range)
# ----------------------------------------------------------------------------------------------------------------------


def train(model: TinyPrismatic, spec: FixtureSpec, tok: Tokenizer, tok_info: Dict, steps: int, batch: int,
          log_every: int = 50) -> List[float]:
    rng = np.random.default_rng(spec.seed + 1)
    vocab = action_vocab(spec, tok_info)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 30) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))))
    losses = []
    model.train()
    for step in range(steps):
        pix_lists: List[List[torch.Tensor]] = [[] for _ in spec.vision]
        seqs, n_prompt = [], []
        for _ in range(batch):
            scene, instr, target = sample_task(rng)
            _, pix = preprocess_for(spec, render_scene(scene))
            for i, p in enumerate(pix):
                pix_lists[i].append(p)
            _, ids = prompt_ids(spec, tok, instr, tok_info)
            seqs.append(ids + actions_to_tokens(target, vocab) + end_ids(spec, tok_info))
            n_prompt.append(len(ids))
        T = max(len(s) for s in seqs)
        pad = tok_info.get("pad_token_id", tok_info.get("endoftext_id"))
        ids_t = torch.tensor([s + [pad] * (T - len(s)) for s in seqs])
        labels = torch.full((batch, T + N_PATCHES), -100, dtype=torch.long)
        for b, s in enumerate(seqs):
            for j in range(n_prompt[b], len(s)):
                labels[b, j + N_PATCHES] = s[j]  # text position j sits at multimodal position j + 256 (j >= 1)
        pix = [torch.stack(p) for p in pix_lists]
        mm, _, _ = model.embed(pix, ids_t)
        logits = model.lm(inputs_embeds=mm, use_cache=False).logits
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                               ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"  [{spec.name}] step {step:4d} loss {np.mean(losses[-log_every:]):.4f}", flush=True)
    model.eval()
    return losses


# ----------------------------------------------------------------------------------------------------------------------
# Export
# ----------------------------------------------------------------------------------------------------------------------


def export_state_dict(model: TinyPrismatic, spec: FixtureSpec) -> Dict[str, torch.Tensor]:
    """Tensor names and dtypes exactly as in an HF OpenVLA checkpoint."""
    out: Dict[str, torch.Tensor] = {}
    for enc_name in ["featurizer", "fused_featurizer"]:
        enc = getattr(model, enc_name)
        if enc is None:
            continue
        for k, v in enc.state_dict().items():
            # OpenVLA's ls_apply_patch renames LayerScale.gamma -> scale_factor (HF mangles names containing "gamma")
            k = k.replace(".ls1.gamma", ".ls1.scale_factor").replace(".ls2.gamma", ".ls2.scale_factor")
            out[f"vision_backbone.{enc_name}.{k}"] = v.detach().float().contiguous().clone()
    for k, v in model.projector.state_dict().items():
        out[f"projector.{k}"] = v.detach().float().contiguous().clone()
    llm_dtype = torch.bfloat16 if spec.llm_bf16 else torch.float32
    for k, v in model.lm.state_dict().items():
        if spec.family == "qwen" and k == "lm_head.weight":
            continue  # tied to embed_tokens; HF save_pretrained drops the duplicate
        name = f"language_model.{k}"  # language_model.model.* and language_model.lm_head.weight
        out[name] = v.detach().to(llm_dtype).contiguous().clone()
    return out


def write_weights(out_dir: Path, sd: Dict[str, torch.Tensor], shards: int) -> List[str]:
    names = list(sd.keys())
    if shards == 1:
        save_file(sd, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
        return ["model.safetensors"]
    assert shards == 2
    # Split inside language_model.model.layers.1 (after its attention tensors), so one decoder layer spans both
    # files and shard 1 holds f32 (vision, projector) and bf16 (LLM) tensors together.
    split = next(i for i, n in enumerate(names) if n.startswith("language_model.model.layers.1.mlp."))
    parts = [names[:split], names[split:]]
    files = [f"model-{i + 1:05d}-of-{shards:05d}.safetensors" for i in range(shards)]
    weight_map, total = {}, 0
    for fname, part in zip(files, parts):
        save_file({n: sd[n] for n in part}, str(out_dir / fname), metadata={"format": "pt"})
        for n in part:
            weight_map[n] = fname
            total += sd[n].numel() * sd[n].element_size()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (out_dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return files


def load_exported_into(model: TinyPrismatic, sd: Dict[str, torch.Tensor], spec: FixtureSpec) -> None:
    """Round-trip: put the exported (possibly bf16-rounded) tensors back as float32 into the reference model."""
    with torch.no_grad():
        for enc_name in ["featurizer", "fused_featurizer"]:
            enc = getattr(model, enc_name)
            if enc is None:
                continue
            esd = {}
            for k in enc.state_dict():
                kk = k.replace(".ls1.gamma", ".ls1.scale_factor").replace(".ls2.gamma", ".ls2.scale_factor")
                esd[k] = sd[f"vision_backbone.{enc_name}.{kk}"].float()
            enc.load_state_dict(esd)
        model.projector.load_state_dict({k: sd[f"projector.{k}"].float() for k in model.projector.state_dict()})
        lsd = {}
        for k in model.lm.state_dict():
            src = "language_model.model.embed_tokens.weight" if (spec.family == "qwen" and k == "lm_head.weight") else f"language_model.{k}"
            lsd[k] = sd[src].float()
        model.lm.load_state_dict(lsd)
    if spec.family == "qwen":
        assert model.lm.lm_head.weight.data_ptr() == model.lm.model.embed_tokens.weight.data_ptr()


# ----------------------------------------------------------------------------------------------------------------------
# Reference computation
# ----------------------------------------------------------------------------------------------------------------------


@torch.no_grad()
def run_case(model: TinyPrismatic, spec: FixtureSpec, tok: Tokenizer, tok_info: Dict, img_path: Path,
             instruction: str, unnorm_key: str, exported: Dict[str, torch.Tensor]) -> Dict:
    img = load_rgb(img_path)
    u8, pix = preprocess_for(spec, img)
    ref_u8 = pil_bicubic_reference(np.asarray(img, dtype=np.uint8), IMAGE_SIZE, IMAGE_SIZE)
    assert np.array_equal(ref_u8, u8), f"PIL bicubic re-implementation mismatch on {img_path.name}"
    for v, p in zip(spec.vision, pix):  # normalisation == (u8 / 255 - mean) / std in float32
        mean, std = (spec.dino_mean, spec.dino_std) if v.family == "dinov2" else (SIGLIP_MEAN, SIGLIP_STD)
        t = torch.from_numpy(u8).permute(2, 0, 1).float() / 255.0
        manual = (t - torch.tensor(mean, dtype=torch.float32)[:, None, None]) / torch.tensor(std, dtype=torch.float32)[:, None, None]
        assert torch.equal(manual, p)
    prompt, ids = prompt_ids(spec, tok, instruction, tok_info)
    ids_t = torch.tensor([ids])
    mm, feats, proj = model.embed([p[None] for p in pix], ids_t)
    # Cross-check the vision path against the hand-written ViT on the exported tensors.
    for enc_name, v, p, f in zip(["featurizer", "fused_featurizer"], spec.vision, pix, feats):
        man = manual_vit_features(exported, f"vision_backbone.{enc_name}.", v, p)
        err = (man - f[0]).abs().max().item()
        assert err < 1e-4, f"manual ViT mismatch {err}"
    out = model.lm(inputs_embeds=mm, use_cache=True)
    prompt_logits = out.logits[0]
    past = out.past_key_values
    vocab = action_vocab(spec, tok_info)
    step_logits, tokens, margins = [], [], []
    logits = prompt_logits[-1]
    for step in range(7):
        step_logits.append(logits.clone())
        top2 = torch.topk(logits, 2)
        tokens.append(int(top2.indices[0]))
        margins.append(float(top2.values[0] - top2.values[1]))
        if step == 6:
            break
        o = model.lm(input_ids=torch.tensor([[tokens[-1]]]), past_key_values=past, use_cache=True)
        past = o.past_key_values
        logits = o.logits[0, -1]
    # Consistency: a no-cache forward over the full sequence gives the same greedy tokens / close logits.
    full_ids = torch.tensor([ids + tokens[:-1]])
    mm_full, _, _ = model.embed([p[None] for p in pix], full_ids)
    full = model.lm(inputs_embeds=mm_full, use_cache=False).logits[0, -7:]
    assert torch.equal(full.argmax(-1), torch.tensor(tokens)), "KV-cache vs full recompute disagree"
    assert (full - torch.stack(step_logits)).abs().max().item() < 1e-4
    normalized, action = decode_actions(tokens, vocab, NORM_STATS[unnorm_key])
    return {
        "prompt": prompt, "input_ids": ids, "u8": u8, "pix": pix, "feats": [f[0] for f in feats], "proj": proj[0],
        "prompt_logits": prompt_logits, "step_logits": torch.stack(step_logits), "tokens": tokens,
        "margins": margins, "normalized": normalized, "action": action, "seq_len": int(mm.shape[1]),
    }


# ----------------------------------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------------------------------


def versions() -> Dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ["torch", "transformers", "timm", "tokenizers", "safetensors", "numpy", "pillow", "torchvision"]:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "missing"
    return out


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_tokenizer_cases(path: Path, tok_json: str) -> None:
    """One JSON object per line (the pretty form puts every id on its own line and is 3x larger)."""
    header = json.dumps({"tokenizer": "tokenizer.json", "library": "tokenizers"}, ensure_ascii=False)[:-1]
    body = ",\n".join(json.dumps(c, ensure_ascii=False) for c in tokenizer_cases(tok_json))
    path.write_text(header + ', "cases": [\n' + body + "\n]}\n", encoding="utf-8")


def make_config(spec: FixtureSpec, lm: nn.Module, tok_info: Dict) -> Dict:
    fused = len(spec.vision) > 1
    vocab = action_vocab(spec, tok_info)
    if spec.family == "llama":
        prompt_format = {
            "style": "openvla-llama2",
            "template": OPENVLA_PROMPT,
            "lowercase_instruction": True,
            "add_special_tokens": True,
            "append_token_id": tok_info["space_token_id"],
            "image_insert_index": 1,
        }
        action_tok = {
            "type": "bins", "name": "action_tokenizer", "n_bins": N_BINS, "min_action": -1.0, "max_action": 1.0,
            "vocab_size": vocab, "token_begin": vocab - N_BINS, "token_end": vocab - 1, "stop_token_id": 2,
        }
        extra = {"llm_backbone_id": "llama2-7b-pure", "hf_llm_id": "meta-llama/Llama-2-7b-hf",
                 "pad_token_id": tok_info["pad_token_id"]}
    else:
        prompt_format = {
            "style": "minivla-qwen25",
            "template": MINIVLA_PROMPT,
            "lowercase_instruction": True,
            "add_special_tokens": True,
            "append_token_id": None,
            "image_insert_index": 1,
        }
        action_tok = {
            "type": "bins", "name": "extra_action_tokenizer", "n_bins": N_BINS, "min_action": -1.0,
            "max_action": 1.0, "vocab_size": vocab, "token_begin": vocab - N_BINS, "token_end": vocab - 1,
            "stop_token_id": tok_info["im_end_id"],
        }
        extra = {"llm_backbone_id": "qwen25-0_5b-extra", "hf_llm_id": "Qwen/Qwen2.5-0.5B",
                 "pad_token_id": tok_info["endoftext_id"]}
    cfg = {
        "architectures": ["OpenVLAForActionPrediction"],
        "auto_map": {
            "AutoConfig": "configuration_prismatic.OpenVLAConfig",
            "AutoModelForVision2Seq": "modeling_prismatic.OpenVLAForActionPrediction",
        },
        "model_type": "openvla",
        "vision_backbone_id": spec.vision_backbone_id,
        "llm_backbone_id": extra["llm_backbone_id"],
        "hf_llm_id": extra["hf_llm_id"],
        "arch_specifier": spec.arch_specifier,
        "use_fused_vision_backbone": fused,
        "timm_model_ids": spec.timm_model_ids,
        "timm_override_act_layers": [None] * len(spec.vision),
        "image_sizes": [IMAGE_SIZE] * len(spec.vision),
        "image_resize_strategy": "resize-naive",
        "vision_configs": [v.config_entry() for v in spec.vision],
        "llm_max_length": 2048,
        "pad_token_id": extra["pad_token_id"],
        "pad_to_multiple_of": 64,
        "n_action_bins": N_BINS,
        "norm_stats": NORM_STATS,
        "output_projector_states": False,
        "text_config": text_config_dict(spec, lm),
        "prompt_format": prompt_format,
        "action_tokenizer": action_tok,
        "torch_dtype": "bfloat16" if spec.llm_bf16 else "float32",
        "transformers_version": versions()["transformers"],  # the generator's version (real checkpoints: 4.40.1)
    }
    return cfg


def make_preprocessor_config(spec: FixtureSpec) -> Dict:
    means, stds = [], []
    for v in spec.vision:
        if v.family == "dinov2":
            means.append(spec.dino_mean)
            stds.append(spec.dino_std)
        else:
            means.append(SIGLIP_MEAN)
            stds.append(SIGLIP_STD)
    return {
        "auto_map": {
            "AutoImageProcessor": "processing_prismatic.PrismaticImageProcessor",
            "AutoProcessor": "processing_prismatic.PrismaticProcessor",
        },
        "image_processor_type": "PrismaticImageProcessor",
        "processor_class": "PrismaticProcessor",
        "image_resize_strategy": "resize-naive",
        "use_fused_vision_backbone": len(spec.vision) > 1,
        "input_sizes": [[3, IMAGE_SIZE, IMAGE_SIZE]] * len(spec.vision),
        "interpolations": ["bicubic"] * len(spec.vision),
        "means": means,
        "stds": stds,
        "tvf_resize_params": [{"size": [IMAGE_SIZE, IMAGE_SIZE], "interpolation": 3, "max_size": None,
                               "antialias": True}] * len(spec.vision),
        "tvf_crop_params": [{"output_size": [IMAGE_SIZE, IMAGE_SIZE]}] * len(spec.vision),
        "tvf_normalize_params": [{"mean": m, "std": s, "inplace": False} for m, s in zip(means, stds)],
        "tvf_do_letterbox": False,
        "tvf_letterbox_fill": None,
    }


def tokenizer_side_files(spec: FixtureSpec, tok_info: Dict) -> Dict[str, Dict]:
    if spec.family == "llama":
        added = {str(i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                          "special": True}
                 for i, c in [(0, "<unk>"), (1, "<s>"), (2, "</s>"), (tok_info["pad_token_id"], "<PAD>")]}
        return {
            "tokenizer_config.json": {
                "add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": added,
                "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<PAD>",
                "clean_up_tokenization_spaces": False, "legacy": False, "model_max_length": 2048,
                "padding_side": "right", "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer",
                "use_default_system_prompt": False,
            },
            "special_tokens_map.json": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                                        "pad_token": "<PAD>"},
            "generation_config.json": {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": tok_info["pad_token_id"],
                                       "transformers_version": versions()["transformers"]},
        }
    base = tok_info["endoftext_id"]
    added = {}
    for i, (c, special) in enumerate(QWEN_ADDED_TOKENS):
        added[str(base + i)] = {"content": c, "lstrip": False, "normalized": False, "rstrip": False,
                                "single_word": False, "special": special}
    for i in range(256):
        added[str(tok_info["extra_0_id"] + i)] = {"content": f"<|extra_{i}|>", "lstrip": False, "normalized": True,
                                                  "rstrip": False, "single_word": False, "special": False}
    return {
        "tokenizer_config.json": {
            "add_prefix_space": False, "added_tokens_decoder": added,
            "additional_special_tokens": [c for c, s in QWEN_ADDED_TOKENS if s and c != "<|endoftext|>"],
            "bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": None,
            "clean_up_tokenization_spaces": False, "errors": "replace", "model_max_length": 2048,
            "padding_side": "right", "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer",
        },
        "special_tokens_map.json": {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                                    "additional_special_tokens": [c for c, s in QWEN_ADDED_TOKENS if s and c != "<|endoftext|>"]},
        "generation_config.json": {"bos_token_id": base, "eos_token_id": base, "pad_token_id": base,
                                   "transformers_version": versions()["transformers"]},
    }


# ----------------------------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------------------------

IMAGE_FILES = [
    # name, size, scene seed, format, table colour family, table brightness level
    ("scene_160x120.png", (160, 120), 11, "PNG", "warm", 0),
    ("scene_320x240.png", (320, 240), 23, "PNG", "blue", 2),
    ("scene_250x190.png", (250, 190), 37, "PNG", "green", 1),
    ("scene_288x216.jpg", (288, 216), 41, "JPEG", "warm", 2),
]


def make_images(img_dir: Path) -> Dict[str, Scene]:
    img_dir.mkdir(parents=True, exist_ok=True)
    scenes = {}
    for name, (w, h), seed, fmt, fam, lvl in IMAGE_FILES:
        rng = np.random.default_rng(seed)
        sc = random_scene(rng, w, h, bg_family=fam, bg_level=lvl, n_objects=3)
        im = render_scene(sc)
        if fmt == "PNG":
            im.save(img_dir / name, format="PNG", optimize=False, compress_level=9)
        else:
            im.save(img_dir / name, format="JPEG", quality=90, subsampling=2)  # 4:2:0, baseline
        scenes[name] = sc
    return scenes


def describe_scene(sc: Scene) -> Dict:
    return {"size": [sc.width, sc.height], "table_family": sc.bg_family, "table_level": sc.bg_level,
            "objects": [{"color": o.color, "object": o.obj, "grid": [o.gx, o.gy], "size": o.size}
                        for o in sc.objects]}


def candidate_instructions(sc: Scene) -> List[str]:
    out = []
    for o in sc.objects:
        out += [f"pick up the {o.color} {o.obj}", f"push the {o.color} {o.obj} to the right",
                f"Lift the {o.color} {o.obj}", f"put the {o.color} {o.obj} in the bowl",
                f"push the {o.color} {o.obj} to the left"]
    return out


def build_fixture(spec: FixtureSpec, out_root: Path, tok_json: str, tok_info: Dict, scenes: Dict[str, Scene],
                  args: argparse.Namespace, command: str) -> Dict:
    print(f"== {spec.name}", flush=True)
    out_dir = out_root / spec.name
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    tok = Tokenizer.from_str(tok_json)

    torch.manual_seed(spec.seed)
    g = torch.Generator().manual_seed(spec.seed)
    lm = build_lm(spec, tok_info)
    model = TinyPrismatic(spec.vision, lm)
    init_vit_(model.featurizer, g)
    if model.fused_featurizer is not None:
        init_vit_(model.fused_featurizer, g)
    for v, enc in zip(spec.vision, [model.featurizer, model.fused_featurizer]):
        assert all(abs(m.eps - 1e-6) < 1e-12 for m in enc.modules() if isinstance(m, nn.LayerNorm))
        act_cls = type(enc.blocks[0].mlp.act).__name__
        assert act_cls == ("GELU" if v.gelu == "erf" else "GELUTanh"), act_cls
    steps = int(round(args.train_steps * spec.train_steps_scale))
    losses = train(model, spec, tok, tok_info, steps, args.batch)

    exported = export_state_dict(model, spec)
    load_exported_into(model, exported, spec)  # bf16 rounding (if any) is now part of the reference model
    files = write_weights(out_dir, exported, spec.shards)

    # Choose cases: greedy decode must stay in the action range with a clear top-1/top-2 margin at every step.
    vocab = action_vocab(spec, tok_info)
    lo, hi = vocab - N_BINS, vocab - 1
    chosen, seen = [], set()
    for img_name, instruction, unnorm_key in spec.candidate_cases:
        r = run_case(model, spec, tok, tok_info, out_root / "images" / img_name, instruction, unnorm_key, exported)
        ok = all(lo <= t <= hi for t in r["tokens"]) and min(r["margins"]) >= args.min_margin
        key = tuple(r["tokens"])
        print(f"   {img_name:20s} {instruction!r:48s} tokens={r['tokens']} min_margin={min(r['margins']):.3f}"
              f" {'ok' if ok and key not in seen else 'skip'}", flush=True)
        if ok and key not in seen:
            r.update({"image": img_name, "instruction": instruction, "unnorm_key": unnorm_key})
            chosen.append(r)
            seen.add(key)
        if len(chosen) == args.cases:
            break
    if len(chosen) < args.cases:
        raise RuntimeError(f"{spec.name}: only {len(chosen)} usable cases; train longer or add candidates")
    used_images = {c["image"] for c in chosen}
    if len(used_images) < 2:
        raise RuntimeError(f"{spec.name}: chosen cases do not vary the image")

    tensors: Dict[str, torch.Tensor] = {}
    cases_json = []
    enc_names = ["featurizer", "fused_featurizer"]
    for i, c in enumerate(chosen):
        p = f"case{i}."
        tensors[p + "input_ids"] = torch.tensor(c["input_ids"], dtype=torch.int32)
        tensors[p + "generated_ids"] = torch.tensor(c["tokens"], dtype=torch.int32)
        for n, f in zip(enc_names, c["feats"]):
            tensors[p + f"features.{n}"] = f.float().contiguous()
        tensors[p + "projector"] = c["proj"].float().contiguous()
        tensors[p + "step_logits"] = c["step_logits"].float().contiguous()
        if i == 0 and spec.store_pixel_values:
            for v, px in zip(spec.vision, c["pix"]):
                tensors[p + ("pixel_values_dino" if v.family == "dinov2" else "pixel_values_siglip")] = px.float().contiguous()
        if i == 0 and spec.store_prompt_logits:
            tensors[p + "prompt_logits"] = c["prompt_logits"].float().contiguous()
        cases_json.append({
            "image": f"../images/{c['image']}",
            "image_size": list(Image.open(out_root / "images" / c["image"]).size),
            "instruction": c["instruction"],
            "unnorm_key": c["unnorm_key"],
            "prompt": c["prompt"],
            "input_ids": c["input_ids"],
            "sequence_length": c["seq_len"],
            "tokens": c["tokens"],
            "step_margins": [round(m, 6) for m in c["margins"]],
            "normalized_action": [float(x) for x in c["normalized"]],
            "action": [float(x) for x in c["action"]],
        })
    save_file(tensors, str(out_dir / "reference.safetensors"), metadata={"format": "pt"})

    cfg = make_config(spec, lm, tok_info)
    write_json(out_dir / "config.json", cfg)
    write_json(out_dir / "preprocessor_config.json", make_preprocessor_config(spec))
    (out_dir / "tokenizer.json").write_text(tok_json + "\n", encoding="utf-8")
    for fname, obj in tokenizer_side_files(spec, tok_info).items():
        write_json(out_dir / fname, obj)
    write_tokenizer_cases(out_dir / "tokenizer_cases.json", tok_json)
    ref = {
        "fixture": spec.name,
        "weights": files,
        "action_token_range": [lo, hi],
        "action_vocab_size": vocab,
        "preprocessing": {"resize": "PIL BICUBIC to 224x224 (resize-naive)",
                          "normalize": [{"family": v.family,
                                         "mean": spec.dino_mean if v.family == "dinov2" else SIGLIP_MEAN,
                                         "std": spec.dino_std if v.family == "dinov2" else SIGLIP_STD}
                                        for v in spec.vision]},
        "cases": cases_json,
        "tensors_per_case": sorted({k.split(".", 1)[1] for k in tensors if k.startswith("case1.")}),
        "tensors_case0_only": sorted({k.split(".", 1)[1] for k in tensors if k.startswith("case0.")}
                                     - {k.split(".", 1)[1] for k in tensors if k.startswith("case1.")}),
        "training": {"steps": steps, "batch": args.batch, "seed": spec.seed,
                     "final_loss_mean_last50": float(np.mean(losses[-50:])) if losses else None},
        "versions": versions(),
        "command": command,
    }
    write_json(out_dir / "reference.json", ref)
    return ref


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("Tests/Fixtures"))
    ap.add_argument("--train-steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--cases", type=int, default=3)
    ap.add_argument("--min-margin", type=float, default=0.1, help="min top-1 minus top-2 logit at every greedy step")
    ap.add_argument("--only", nargs="*", default=None, help="build only these fixtures")
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    command = "python3 tools/make_fixtures.py " + " ".join(sys.argv[1:])

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    out_root: Path = args.out
    out_root.mkdir(parents=True, exist_ok=True)

    # Images + exact PIL/libjpeg outputs (the resize is what a Swift port most easily gets wrong).
    img_dir = out_root / "images"
    scenes = make_images(img_dir)
    pre = {}
    for name, _, _, fmt, _, _ in IMAGE_FILES:
        img = load_rgb(img_dir / name)
        r = np.asarray(resize_naive(img), dtype=np.uint8).copy()
        assert np.array_equal(r, pil_bicubic_reference(np.asarray(img, dtype=np.uint8), IMAGE_SIZE, IMAGE_SIZE))
        stem = name.rsplit(".", 1)[0]
        pre[f"{stem}.resized_u8"] = torch.from_numpy(r)
        if fmt == "JPEG":
            pre[f"{stem}.decoded_u8"] = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy())
    save_file(pre, str(img_dir / "preprocessed.safetensors"), metadata={"format": "pt"})
    write_json(img_dir / "scenes.json", {n: describe_scene(s) for n, s in scenes.items()})

    # Tokenizers (trained once, shared by the two Llama fixtures).
    corpus = build_corpus(np.random.default_rng(1234))
    llama_json, llama_info = build_llama_tokenizer(corpus, LLAMA_VOCAB)
    qwen_corpus = corpus + [QWEN_SYSTEM_PROMPT] * 400 + ["system\n", "user\n", "assistant\n"] * 400
    qwen_json, qwen_info = build_qwen_tokenizer(qwen_corpus, QWEN_BASE)
    print(f"llama tokenizer: {llama_info}")
    print(f"qwen tokenizer: {qwen_info}")

    def cands(unnorm_keys=("bridge_orig", "tabletop_sim_tiny")) -> List[Tuple[str, str, str]]:
        out = []
        names = [f[0] for f in IMAGE_FILES]
        per_img = {n: candidate_instructions(scenes[n]) for n in names}
        for k in range(max(len(v) for v in per_img.values())):
            for j, n in enumerate(names):
                if k < len(per_img[n]):
                    out.append((n, per_img[n][k], unnorm_keys[(k + j) % len(unnorm_keys)]))
        return out

    dino = lambda gelu="erf": VisionSpec("dinov2", gelu=gelu)  # noqa: E731
    sig = lambda gelu="erf": VisionSpec("siglip", gelu=gelu)  # noqa: E731
    A, B, C, J = (f[0] for f in IMAGE_FILES)  # 160x120 png, 320x240 png, 250x190 png, 288x216 jpg
    specs = [
        FixtureSpec("openvla-tiny-llama", "llama", [dino(), sig()], "dinosiglip-vit-so-224px",
                    ["vit_large_patch14_reg4_dinov2.lvd142m", "vit_so400m_patch14_siglip_224"],
                    "no-align+fused-gelu-mlp", llm_bf16=True, shards=2, dino_mean=DINO_MEAN_OPENVLA_RELEASE,
                    dino_std=DINO_STD_OPENVLA_RELEASE, seed=101,
                    candidate_cases=[(A, "pick up the orange cone", "bridge_orig"),
                                     (J, "pick up the orange cone", "tabletop_sim_tiny"),
                                     (B, "Push the blue ball to the right", "bridge_orig")] + cands(),
                    store_pixel_values=True, store_prompt_logits=True),
        FixtureSpec("minivla-tiny-qwen", "qwen", [dino(), sig()], "dinosiglip-vit-so-224px",
                    ["vit_large_patch14_reg4_dinov2.lvd142m", "vit_so400m_patch14_siglip_224"],
                    "no-align+fused-gelu-mlp", llm_bf16=False, shards=1, dino_mean=DINO_MEAN_F32,
                    dino_std=DINO_STD_F32, seed=202,
                    candidate_cases=[(B, "put the yellow ball in the bowl", "tabletop_sim_tiny"),
                                     (C, "put the yellow ball in the bowl", "bridge_orig"),
                                     (J, "Lift the red block", "bridge_orig")]
                    + cands(("tabletop_sim_tiny", "bridge_orig")),
                    store_prompt_logits=True, train_steps_scale=2.0),
        FixtureSpec("openvla-tiny-siglip", "llama", [sig("tanh")], "siglip-vit-so400m",
                    ["vit_so400m_patch14_siglip_224"], "gelu-mlp", llm_bf16=False, shards=1,
                    dino_mean=DINO_MEAN_F32, dino_std=DINO_STD_F32, seed=303,
                    candidate_cases=[(C, "push the green cone to the left", "bridge_orig"),
                                     (A, "place the purple block on the plate", "tabletop_sim_tiny"),
                                     (J, "push the green cone to the left", "bridge_orig")] + cands()),
    ]
    for spec in specs:
        if args.only and spec.name not in args.only:
            continue
        if spec.family == "llama":
            build_fixture(spec, out_root, llama_json, llama_info, scenes, args, command)
        else:
            build_fixture(spec, out_root, qwen_json, qwen_info, scenes, args, command)

    for p in out_root.rglob("*"):
        if p.is_file():
            p.chmod(0o644)  # safetensors writes 0600
    total = sum(p.stat().st_size for p in out_root.rglob("*") if p.is_file())
    print(f"total size of {out_root}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
