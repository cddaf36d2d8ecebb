#!/usr/bin/env python3
"""Reference fixture for Reflex's Pillow-compatible bicubic resize (Tests/ReflexModelsTests/Fixtures).

Writes a random RGB source image and Pillow's Image.resize(..., BICUBIC) of it to several sizes
(down- and up-sampling, non-integer ratios, 224x224 as OpenVLA uses), all as lossless PNGs:
  resize_src.png, resize_WxH.png
Run: python3 tools/make_resize_fixture.py [--out Tests/ReflexModelsTests/Fixtures]
The README next to the fixtures records the Pillow version used.
"""
import argparse
import os

import numpy as np
from PIL import Image, __version__ as pil_version

SIZES = [(224, 224), (16, 10), (50, 31), (7, 90)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Tests/ReflexModelsTests/Fixtures")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(20261124)
    # Smooth gradients plus noise and a hard edge, so both the filter taps and clipping matter.
    h, w = 61, 83
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 3, y * 4, (x + y) * 2], axis=-1).astype(np.int32)
    noise = rng.integers(-40, 40, size=(h, w, 3))
    img = base + noise
    img[:, w // 2:, 0] = 255
    img = np.clip(img, 0, 255).astype(np.uint8)
    src = Image.fromarray(img, "RGB")
    src.save(os.path.join(args.out, "resize_src.png"))
    for (tw, th) in SIZES:
        src.resize((tw, th), Image.BICUBIC).save(os.path.join(args.out, f"resize_{tw}x{th}.png"))
    print(f"wrote {len(SIZES) + 1} PNGs to {args.out} with Pillow {pil_version}")


if __name__ == "__main__":
    main()
