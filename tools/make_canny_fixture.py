#!/usr/bin/env python3
"""Writes Tests/Fixtures/canny/: OpenCV's grayscale and Canny edges of a few images, and the patches that
hold an edge pixel: the reference for the Swift edge detector behind SP-VLA's spatial token set
(`cv2.Canny(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 100, 200)`, any patch with an edge pixel is kept).

Per case NAME:
  NAME.rgb.png    the RGB input (8-bit, lossless)
  NAME.gray.png   cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 8-bit grayscale PNG
  NAME.edges.png  cv2.Canny(gray, 100, 200), 8-bit grayscale PNG of 0/255
  NAME.json       sizes, patch size and grid, edge-pixel count, the row-major indices (py * grid_w + px) of
                  the patches holding an edge pixel, per-patch edge counts, what the case exercises, provenance

Images: frames of the simulator (`reflex sim render`, 224x224; the 112x112 versions are Pillow's bicubic
resize, which is what Reflex's BicubicResize feeds the reflex-sim-tiny SigLIP at image size 112) and
synthetic images (step edges, ties, threshold plateaus, diagonals, edges on the image border, non-square).

Every output is checked against tools/canny_reference.py (a NumPy transcription of OpenCV's code) before
it is written, and every deliberate mistake in canny_reference.VARIANTS must change at least one case.

Usage (a developer tool; opencv-python-headless, numpy and Pillow are never runtime or CI dependencies):
  python3 -m venv /tmp/cv && /tmp/cv/bin/pip install opencv-python-headless numpy pillow
  /tmp/cv/bin/python tools/make_canny_fixture.py [--reflex .build/release/reflex] [--out Tests/Fixtures/canny]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

import cv2
import numpy as np
from PIL import Image, __version__ as pil_version

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import canny_reference as ref  # noqa: E402

LOW, HIGH = 100, 200
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def sim_frames(reflex, task, seed, frames):
    """RGB uint8 arrays of the simulator's frames (0 = the scene before any step) from `reflex sim render`."""
    with tempfile.TemporaryDirectory() as d:
        cmd = [reflex, "sim", "render", "--task", task, "--seed", str(seed), "--out", d]
        if any(f > 0 for f in frames):
            cmd.append("--rollout")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        out = []
        for f in frames:
            with Image.open(os.path.join(d, f"{task}_{seed}_{f:03d}.png")) as im:
                out.append(np.asarray(im.convert("RGB")).copy())
        shown = f"reflex sim render --task {task} --seed {seed}" + (" --rollout" if "--rollout" in cmd else "")
        return out, shown


def resize(rgb, size):
    """Pillow's bicubic resize (= Reflex's BicubicResize, bit-exact; see Tests/Fixtures/README.md)."""
    return np.asarray(Image.fromarray(rgb, "RGB").resize((size, size), Image.BICUBIC))


def synthetic_224(rng):
    """224x224: a smooth colour gradient, a 9-px checkerboard (cells straddle the 14-px patches) with mild
    noise in the lower left, flat discs and a bar touching the image border, a thin diagonal line, and a
    chromatic step whose only contrast is in the gray rounding (equal-luma colours on either side)."""
    h = w = 224
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([60 + xx * 0.5, 70 + yy * 0.45, 150 - (xx + yy) * 0.2], axis=-1)
    checker = ((yy // 9 + xx // 9) % 2).astype(np.float64)
    region = (yy >= 120) & (xx < 110)
    for c, (lo, hi) in enumerate([(40, 210), (60, 190), (90, 120)]):
        img[..., c] = np.where(region, lo + (hi - lo) * checker, img[..., c])
    img = img + np.where(region[..., None], rng.integers(-5, 6, size=(h, w, 3)), 0)
    for cy, cx, r, col in [(40, 180, 26, (230, 40, 40)), (0, 40, 30, (20, 20, 160)), (200, 224, 35, (250, 250, 250))]:
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = col
    img[95:104, 0:70] = (10, 10, 10)          # a bar running into the left border
    line = np.abs((yy - 20) - 0.7 * (xx - 110)) < 1.2
    img[line & (xx > 110) & (yy < 140)] = (255, 230, 200)
    img[150:200, 140:200] = (200, 100, 100)   # then a half with an equal-ish luma, different hue
    img[150:200, 170:200] = (120, 140, 110)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def synthetic_98x70():
    """98 wide x 70 high (grid 7 x 5 of 14-px patches): gray (R=G=B) integer ramps whose Sobel magnitude is a
    constant plateau of 96, 100, 104, 200, 208 (below low, = low, weak, = high, strong), horizontal, vertical
    and at 45 degrees, so the strict thresholds and the > / >= tie-breaking of the suppression decide every
    edge pixel; then a hard vertical step on the right (isolated strong edge next to weak plateaus)."""
    h, w = 70, 98
    g = np.full((h, w), 20, dtype=np.int32)
    bands = [(0, 14, 12), (14, 28, 25), (28, 42, 13), (42, 56, 26), (56, 70, 25)]  # slope -> |dx| = 8 * slope
    for (y0, y1, slope) in bands:
        for x in range(0, 42):
            g[y0:y1, x] = 20 + slope * min(max(x - 14, 0), 9)
    # vertical ramps (|dy| = 8 * slope) in columns 42..69, slopes 12.5 in two rows -> 100 exactly
    for y in range(h):
        g[y, 42:56] = 30 + 13 * min(max(y - 20, 0), 15)
        g[y, 56:70] = 30 + 25 * min(max(y - 30, 0), 8)
    yy, xx = np.mgrid[0:h, 0:w]
    diag = np.clip(40 + 9 * ((xx - 70) + (yy - 10)), 40, 240)  # 45 degrees: |dx| = |dy| = 4*9*2 -> m = 144
    g[:, 70:84] = diag[:, 70:84]
    g[:, 84:] = np.where(xx[:, 84:] < 91, 30, 230)
    rgb = np.repeat(np.clip(g, 0, 255)[..., None], 3, axis=2).astype(np.uint8)
    return rgb


def noise_blobs_112(rng):
    """112x112 smoothed noise: thin, branching, broken contours where hysteresis and connectivity matter."""
    h = w = 112
    a = rng.integers(0, 256, size=(h + 6, w + 6, 3)).astype(np.float64)
    k = sum(a[i:i + h, j:j + w] for i in range(7) for j in range(7)) / 49
    return np.clip((k - 128) * 5 + 128, 0, 255).astype(np.uint8)


def coverage(rgb, stages):
    """What a case exercises (so a reader can tell which code paths the fixture pins down)."""
    mag, sector, cand, strong = stages["mag"], stages["sector"], stages["candidate"], stages["strong"]
    edges = stages["edges"] != 0
    h, w = mag.shape
    M = np.zeros((h + 2, w + 2), dtype=mag.dtype)
    M[1:-1, 1:-1] = mag
    ties = 0
    for di, dj in [(0, 1), (1, 0), (1, 1), (1, -1)]:
        nb = M[1 + di:h + 1 + di, 1 + dj:w + 1 + dj]
        ties += int(((mag == nb) & (mag > LOW)).sum())
    border = np.zeros_like(edges)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    return {
        "edge_pixels": int(edges.sum()),
        "strong_pixels": int(strong.sum()),
        "weak_edge_pixels": int((edges & ~strong).sum()),
        "weak_dropped_pixels": int((cand & ~edges).sum()),
        "candidates_by_sector": {"horizontal": int((cand & (sector == 0)).sum()),
                                 "vertical": int((cand & (sector == 1)).sum()),
                                 "diagonal": int((cand & (sector == 2)).sum())},
        "magnitude_ties_above_low": ties,
        "magnitude_equal_low": int((mag == LOW).sum()),
        "magnitude_equal_high": int((mag == HIGH).sum()),
        "border_edge_pixels": int((edges & border).sum()),
        "gray_is_not_channel_mean": int((ref.rgb_to_gray(rgb) != np.round(rgb.mean(axis=2))).sum()),
    }


def write_png(arr, path):
    mode = "RGB" if arr.ndim == 3 else "L"
    Image.fromarray(arr, mode).save(path, optimize=True)
    with Image.open(path) as im:  # round trip
        assert np.array_equal(np.asarray(im), arr), path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reflex", default=os.path.join(ROOT, ".build", "release", "reflex"),
                    help="a built reflex binary (for `reflex sim render`)")
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests", "Fixtures", "canny"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(20261204)

    (pp0, pp10), render_cmd = sim_frames(args.reflex, "pick_place", 7, [0, 10])
    (push0,), push_cmd = sim_frames(args.reflex, "push", 3, [0])
    cases = [
        ("sim_pick_place_s7_f0_224", pp0, 14,
         f"`{render_cmd}` frame 0 (224x224, the renderer's size)"),
        ("sim_pick_place_s7_f0_112", resize(pp0, 112), 14,
         "the same frame, Pillow bicubic to 112x112 (what reflex-sim-tiny's SigLIP sees; patch 14 -> 8x8 grid)"),
        ("sim_pick_place_s7_f10_112", resize(pp10, 112), 14,
         f"`{render_cmd}` frame 10 (gripper at the object), Pillow bicubic to 112x112"),
        ("sim_push_s3_f0_112", resize(push0, 112), 14,
         f"`{push_cmd}` frame 0, Pillow bicubic to 112x112"),
        ("synthetic_224", synthetic_224(rng), 14,
         "synthetic: gradient, noisy 9-px checkerboard, discs and a bar on the image border, thin diagonal, "
         "hue step (224x224, 16x16 grid as in SP-VLA/OpenVLA)"),
        ("synthetic_ramps_98x70", synthetic_98x70(), 14,
         "synthetic, non-square (98 wide, 70 high; grid 5 rows x 7 columns): integer ramps with magnitude "
         "plateaus at 96/100/104/200/208 and 45-degree ramps: thresholds and NMS tie-breaking"),
        ("synthetic_noise_112", noise_blobs_112(rng), 14,
         "synthetic: smoothed colour noise, 112x112: branching broken contours, hysteresis"),
    ]

    version = subprocess.run([args.reflex, "--version"], capture_output=True, text=True).stdout.strip()
    provenance = {
        "tool": "tools/make_canny_fixture.py (checked against tools/canny_reference.py)",
        "simulator_frames": f"{os.path.relpath(args.reflex, ROOT)} ({version}) at git "
                            + subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                             capture_output=True, text=True).stdout.strip(),
        "opencv": cv2.__version__, "numpy": np.__version__, "pillow": pil_version,
        "python": platform.python_version(), "machine": platform.machine(),
        "gray": "cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) = (9798 R + 19235 G + 3735 B + 16384) >> 15",
        "canny": f"cv2.Canny(gray, {LOW}, {HIGH}) (apertureSize 3, L2gradient false: |dx| + |dy|)",
        "patches": "patch index = py * grid_w + px (row-major, as the ViT's patch tokens); a patch is listed "
                   "when its patch x patch block holds at least one edge pixel (value 255)",
    }
    total_bytes = 0
    kept_summary = []
    all_agree = True
    for name, rgb, patch, source in cases:
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        h, w = rgb.shape[:2]
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        edges = cv2.Canny(gray, LOW, HIGH)
        stages = ref.canny_stages(ref.rgb_to_gray(rgb), LOW, HIGH)
        gray_ok = np.array_equal(gray, ref.rgb_to_gray(rgb))
        agree = int((stages["edges"] == edges).sum())
        all_agree &= gray_ok and agree == edges.size
        print(f"{name}: gray {'identical' if gray_ok else 'DIFFERENT'}, Canny {agree}/{edges.size} pixels agree")
        kept, counts = ref.edge_patches(edges, patch)
        gh, gw = h // patch, w // patch
        doc = {
            "name": name, "source": source, "width": w, "height": h, "patch_size": patch,
            "grid_height": gh, "grid_width": gw, "num_patches": gh * gw,
            "files": {"rgb": f"{name}.rgb.png", "gray": f"{name}.gray.png", "edges": f"{name}.edges.png"},
            "thresholds": {"low": LOW, "high": HIGH, "aperture_size": 3, "l2_gradient": False},
            "edge_patches": kept,
            "edge_pixels_per_patch": counts.astype(int).tolist(),
            "coverage": coverage(rgb, stages),
            "produced_by": provenance,
        }
        write_png(rgb, os.path.join(args.out, f"{name}.rgb.png"))
        write_png(gray, os.path.join(args.out, f"{name}.gray.png"))
        write_png(edges, os.path.join(args.out, f"{name}.edges.png"))
        with open(os.path.join(args.out, f"{name}.json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        total_bytes += sum(os.path.getsize(os.path.join(args.out, f"{name}.{s}"))
                           for s in ("rgb.png", "gray.png", "edges.png", "json"))
        kept_summary.append(f"{name}: {len(kept)}/{gh * gw} patches kept, {int((edges != 0).sum())} edge pixels")
    for line in kept_summary:
        print(line)

    # Each plausible porting mistake must change at least one case (gray or edges or the patch list).
    survivors = []
    for variant, what in ref.VARIANTS.items():
        caught = []
        for name, rgb, patch, _ in cases:
            rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
            g = ref.rgb_to_gray(rgb, variant)
            e = ref.canny(g, LOW, HIGH, variant=variant)
            if not np.array_equal(e, cv2.Canny(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), LOW, HIGH)):
                caught.append(name)
        print(f"variant {variant:18s} ({what}): caught by {len(caught)}/{len(cases)} cases")
        if not caught:
            survivors.append(variant)
    # A transposed (column-major) patch order must change a patch list.
    name, rgb, patch, _ = cases[5]
    e = cv2.Canny(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), LOW, HIGH)
    kept, counts = ref.edge_patches(e, patch)
    transposed = sorted(int(px * counts.shape[0] + py) for py, px in zip(*np.nonzero(counts)))
    print(f"variant patch_column_major: {'caught' if transposed != kept else 'NOT caught'} by {name}")
    print(f"wrote {len(cases)} cases, {total_bytes} bytes, to {os.path.relpath(args.out, ROOT)}")
    if survivors or transposed == kept or not all_agree:
        sys.exit(f"fixture not discriminating or not exact: survivors {survivors}, agree {all_agree}")


if __name__ == "__main__":
    main()
