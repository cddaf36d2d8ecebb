#!/usr/bin/env python3
"""A NumPy transcription of OpenCV's 8-bit RGB->gray conversion and its Canny edge detector (3x3 Sobel,
L1 or L2 gradient), written to be bit-exact with cv2 and to serve as the readable reference for the Swift
port (SP-VLA's spatial token set: `cv2.Canny(gray, 100, 200)` cut into patch-size blocks).

What it transcribes (OpenCV 4.x/5.x modules/imgproc/src/color_rgb.simd.hpp, canny.cpp, canny.simd.hpp;
see /work/notes/canny-opencv-notes.md for the line-by-line reading):
- gray = (9798*R + 19235*G + 3735*B + 16384) >> 15  (RGB2Gray<uchar>, gray_shift 15; COLOR_RGB2GRAY)
- dx, dy = 3x3 Sobel in int (CV_16S), BORDER_REPLICATE, no scaling
- magnitude |dx|+|dy| (L1) or dx^2+dy^2 (L2), with a ring of zeros outside the image
- thresholds: low/high swapped if low > high; L2 squares them (after min(32767, t)); both floored to int;
  candidate needs m > low, strong needs m > high (both strict)
- non-maximum suppression in 3 sectors with TG22 = 13573 (tan 22.5 deg in Q15): y=|dy|<<15 < x*TG22 ->
  horizontal (m > left, m >= right); y > x*TG22 + (x<<16) -> vertical (m > up, m >= down); else diagonal,
  s = -1 if dx, dy have different signs else 1: m > M[i-1, j-s] and m > M[i+1, j+s] (both strict)
- hysteresis: 8-connected flood fill from strong pixels through candidates; border pixels can be edges.

Usage as a self-test (needs opencv-python-headless + numpy; a developer tool, never a runtime/CI dependency):
  python3 tools/canny_reference.py [--random N] [--exhaustive-gray] [IMAGE.png ...]
"""
import argparse
import sys

import numpy as np

# OpenCV's fixed-point BT.601 luma weights (Q15; they sum to 32768).
RY15, GY15, BY15 = 9798, 19235, 3735
GRAY_SHIFT = 15
TG22 = 13573  # (int)(tan(22.5 deg) * 2^15 + 0.5)


# Deliberate deviations, each a plausible porting mistake; make_canny_fixture.py checks that the fixture
# images detect every one of them. None is OpenCV's behaviour.
VARIANTS = {
    "gray_q14": "gray with OpenCV 3.x's Q14 weights 4899/9617/1868 (+8192) >> 14",
    "gray_float": "gray = round(0.299 R + 0.587 G + 0.114 B) in float64",
    "gray_bgr": "gray with the R and B weights swapped (COLOR_BGR2GRAY on RGB data)",
    "sobel_reflect101": "Sobel with BORDER_REFLECT_101 (OpenCV's default border) instead of BORDER_REPLICATE",
    "sobel_zero": "Sobel with a zero border",
    "nms_strict": "NMS with > on both neighbours in the horizontal and vertical sectors",
    "nms_ge": "NMS with >= on both neighbours in every sector",
    "nms_diag_swapped": "diagonal sector comparing the other diagonal",
    "threshold_ge": "m >= low and m >= high instead of strict >",
    "hysteresis_4": "hysteresis through 4-neighbours only",
    "no_border_edges": "the outermost pixel ring never an edge",
}


def rgb_to_gray(rgb, variant=None):
    """cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) for uint8 [H, W, 3] in R, G, B order."""
    rgb = np.asarray(rgb)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    r, g, b = (rgb[..., c].astype(np.int32) for c in range(3))
    if variant == "gray_q14":
        return ((r * 4899 + g * 9617 + b * 1868 + 8192) >> 14).astype(np.uint8)
    if variant == "gray_float":
        return np.clip(np.round(0.299 * r + 0.587 * g + 0.114 * b), 0, 255).astype(np.uint8)
    if variant == "gray_bgr":
        r, b = b, r
    return ((r * RY15 + g * GY15 + b * BY15 + (1 << (GRAY_SHIFT - 1))) >> GRAY_SHIFT).astype(np.uint8)


def sobel3(gray, variant=None):
    """(dx, dy) as int32 [H, W]: cv2.Sobel(gray, CV_16S, 1, 0 / 0, 1, ksize=3, borderType=BORDER_REPLICATE)."""
    mode = {"sobel_reflect101": "reflect", "sobel_zero": "constant"}.get(variant, "edge")
    p = np.pad(gray.astype(np.int32), 1, mode=mode)
    h, w = gray.shape
    up, mid, down = p[0:h], p[1:h + 1], p[2:h + 2]
    left, ctr, right = (lambda a: a[:, 0:w]), (lambda a: a[:, 1:w + 1]), (lambda a: a[:, 2:w + 2])
    dx = (right(up) + 2 * right(mid) + right(down)) - (left(up) + 2 * left(mid) + left(down))
    dy = (left(down) + 2 * ctr(down) + right(down)) - (left(up) + 2 * ctr(up) + right(up))
    return dx, dy


def integer_thresholds(low, high, l2=False):
    """The two int thresholds OpenCV compares against (swap, L2 squaring, floor)."""
    if low > high:
        low, high = high, low
    if l2:
        low, high = min(32767.0, low), min(32767.0, high)
        if low > 0:
            low *= low
        if high > 0:
            high *= high
    return int(np.floor(low)), int(np.floor(high))


def canny_stages(gray, low, high, l2=False, variant=None):
    """Every intermediate of cv2.Canny(gray, low, high, apertureSize=3, L2gradient=l2) on uint8 [H, W].
    Returns a dict: dx, dy, mag, sector (0 horizontal, 1 vertical, 2 diagonal, -1 not a candidate),
    candidate (passed m > low and NMS), strong (candidate and m > high), edges (uint8 0/255)."""
    gray = np.asarray(gray)
    assert gray.dtype == np.uint8 and gray.ndim == 2
    h, w = gray.shape
    lo, hi = integer_thresholds(low, high, l2)
    dx, dy = sobel3(gray, variant)
    dx64, dy64 = dx.astype(np.int64), dy.astype(np.int64)
    mag = dx64 * dx64 + dy64 * dy64 if l2 else np.abs(dx64) + np.abs(dy64)
    M = np.zeros((h + 2, w + 2), dtype=np.int64)  # zero magnitude outside the image
    M[1:-1, 1:-1] = mag

    def nb(di, dj):  # neighbour magnitude at (i+di, j+dj), for every pixel
        return M[1 + di:h + 1 + di, 1 + dj:w + 1 + dj]

    x = np.abs(dx64)
    y = np.abs(dy64) << 15
    tg22x = x * TG22
    tg67x = tg22x + (x << 16)
    horiz = y < tg22x
    vert = ~horiz & (y > tg67x)
    diag = ~horiz & ~vert
    s_neg = (dx64 ^ dy64) < 0  # s = -1: compare up-right and down-left
    gt = (lambda a, b: a >= b) if variant == "nms_ge" else (lambda a, b: a > b)
    ge = (lambda a, b: a > b) if variant == "nms_strict" else (lambda a, b: a >= b)
    if variant == "nms_diag_swapped":
        s_neg = ~s_neg
    nms_h = gt(mag, nb(0, -1)) & ge(mag, nb(0, 1))
    nms_v = gt(mag, nb(-1, 0)) & ge(mag, nb(1, 0))
    nms_d = np.where(s_neg, gt(mag, nb(-1, 1)) & gt(mag, nb(1, -1)), gt(mag, nb(-1, -1)) & gt(mag, nb(1, 1)))
    above_low = mag >= lo if variant == "threshold_ge" else mag > lo
    candidate = above_low & np.where(horiz, nms_h, np.where(vert, nms_v, nms_d))
    strong = candidate & ((mag >= hi) if variant == "threshold_ge" else (mag > hi))
    sector = np.where(above_low, np.where(horiz, 0, np.where(vert, 1, 2)), -1)
    edges = hysteresis(strong, candidate, four=variant == "hysteresis_4")
    if variant == "no_border_edges":
        edges[0, :] = edges[-1, :] = False
        edges[:, 0] = edges[:, -1] = False
    return {"dx": dx, "dy": dy, "mag": mag, "sector": sector, "candidate": candidate, "strong": strong,
            "edges": edges.astype(np.uint8) * 255, "thresholds": (lo, hi)}


def hysteresis(strong, candidate, four=False):
    """Pixels 8-connected to a strong pixel through candidates (a flood fill: visiting order is irrelevant)."""
    h, w = strong.shape
    edge = strong.copy()
    stack = list(zip(*np.nonzero(strong)))
    while stack:
        i, j = stack.pop()
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                if four and di != 0 and dj != 0:
                    continue
                a, b = i + di, j + dj
                if 0 <= a < h and 0 <= b < w and candidate[a, b] and not edge[a, b]:
                    edge[a, b] = True
                    stack.append((a, b))
    return edge


def canny(gray, low=100, high=200, l2=False, variant=None):
    """cv2.Canny(gray, low, high) (aperture 3) as uint8 0/255."""
    return canny_stages(gray, low, high, l2, variant)["edges"]


def edge_patches(edges, patch):
    """Row-major indices (py * grid_w + px) of the patch x patch blocks holding at least one edge pixel,
    and the per-patch edge-pixel counts [grid_h, grid_w]."""
    h, w = edges.shape
    assert h % patch == 0 and w % patch == 0, f"{w}x{h} is not a multiple of patch {patch}"
    counts = (edges != 0).reshape(h // patch, patch, w // patch, patch).sum(axis=(1, 3))
    return [int(i) for i in np.flatnonzero(counts.ravel())], counts


# ---------------------------------------------------------------------------------------------------------
# Self-test against cv2

def _random_image(rng, h, w):
    kind = rng.integers(0, 5)
    if kind == 0:  # white noise
        return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    if kind == 1:  # blocks with noise: step edges, ties between equal magnitudes
        cell = int(rng.integers(2, 9))
        base = rng.integers(0, 256, size=((h + cell - 1) // cell, (w + cell - 1) // cell, 3))
        img = np.kron(base, np.ones((cell, cell, 1)))[:h, :w] + rng.integers(-6, 7, size=(h, w, 3))
        return np.clip(img, 0, 255).astype(np.uint8)
    if kind == 2:  # integer ramps: plateaus of equal magnitude at and around the thresholds
        yy, xx = np.mgrid[0:h, 0:w]
        sx, sy = rng.integers(-30, 31, size=2)
        g = np.clip(128 + sx * (xx - w // 2) + sy * (yy - h // 2), 0, 255)
        return np.repeat(g[..., None], 3, axis=2).astype(np.uint8)
    if kind == 3:  # smoothed noise (blurred with a box filter): thin, branching contours
        a = rng.integers(0, 256, size=(h + 4, w + 4, 3)).astype(np.float64)
        k = sum(a[i:i + h, j:j + w] for i in range(5) for j in range(5)) / 25
        return np.clip((k - 128) * 4 + 128, 0, 255).astype(np.uint8)
    # discs and lines
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.full((h, w, 3), rng.integers(0, 256, size=3), dtype=np.int32)
    for _ in range(int(rng.integers(1, 6))):
        cy, cx, r = rng.uniform(-5, h + 5), rng.uniform(-5, w + 5), rng.uniform(1, max(h, w) / 2)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(0, 256, size=3)
    return img.astype(np.uint8)


def self_test(n_random, exhaustive_gray, paths):
    import cv2

    failures = 0
    if exhaustive_gray:
        v = np.arange(1 << 24, dtype=np.uint32)
        rgb = np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], axis=-1).astype(np.uint8).reshape(4096, 4096, 3)
        same = np.array_equal(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), rgb_to_gray(rgb))
        print(f"RGB->gray, all 2^24 colours: {'identical' if same else 'DIFFERENT'}")
        failures += not same
    total = agree = 0
    for p in paths:
        bgr = cv2.imread(p, cv2.IMREAD_COLOR)
        rgb = bgr[..., ::-1].copy()
        gray = rgb_to_gray(rgb)
        assert np.array_equal(gray, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        ours, theirs = canny(gray), cv2.Canny(gray, 100, 200)
        total += ours.size
        agree += int((ours == theirs).sum())
        print(f"{p}: {int((ours == theirs).sum())}/{ours.size} pixels agree")
    rng = np.random.default_rng(18)
    for t in range(n_random):
        h, w = (int(v) for v in rng.integers(1, 90, size=2))
        rgb = _random_image(rng, h, w)
        gray = rgb_to_gray(rgb)
        if not np.array_equal(gray, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)):
            failures += 1
            print(f"random {t}: gray differs")
        if t % 3 == 0:
            low, high, l2 = 100, 200, False
        else:
            low, high = (float(v) for v in rng.uniform(0, 400, size=2))
            l2 = bool(rng.integers(0, 2)) and t % 3 == 2
        ours, theirs = canny(gray, low, high, l2), cv2.Canny(gray, low, high, L2gradient=l2)
        total += ours.size
        agree += int((ours == theirs).sum())
        if not np.array_equal(ours, theirs):
            failures += 1
            print(f"random {t}: {w}x{h} low {low} high {high} l2 {l2}: {int((ours != theirs).sum())} pixels differ")
    print(f"Canny: {agree}/{total} pixels agree ({100.0 * agree / max(total, 1):.4f}%), {failures} failing cases")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--random", type=int, default=300, help="random images to compare with cv2")
    ap.add_argument("--exhaustive-gray", action="store_true", help="compare RGB->gray on all 2^24 colours")
    ap.add_argument("paths", nargs="*", help="PNG images to compare on (read with cv2.imread)")
    args = ap.parse_args()
    sys.exit(1 if self_test(args.random, args.exhaustive_gray, args.paths) else 0)


if __name__ == "__main__":
    main()
