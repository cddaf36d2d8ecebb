#!/usr/bin/env python3
"""Success versus VLA latency, hold-only against the schedulers: an SVG from `reflex eval --mode async --json`
files (one per latency, scheduler and model), for BENCHMARKS.md. Plain SVG, no plotting library needed.

Usage: tools/plot_latency.py --out docs/latency.svg out/async/*.json [sync-none.json]
Each file's config gives the latency, the scheduler and the model; each task family gets one panel, the 95%
Wilson interval as a band around each curve of the trained policy; `--model expert` runs (the scripted expert
in the VLA's seat: the ceiling) are thin dotted lines without bands. A `--mode sync --scheduler none` file
stands for latency 0 of every series of its model: at zero latency every async scheduler equals sync VLA-only
(a fresh result every tick; tested for `none`, and the gates only act without one).
"""
import argparse
import json
import sys

COLORS = {"none": "#c0392b", "spvla": "#1f6fb2", "smith": "#1e8449"}
LABELS = {"none": "hold-only", "spvla": "SP-VLA (async gate)", "smith": "Smith predictor"}
ORDER = ("none", "spvla", "smith")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    runs = {}  # (series, task) -> [(latency, rate, lo, hi)]; series = (expert?, scheduler)
    tasks, episodes, rate_hz, zero = [], set(), set(), []
    for f in args.files:
        d = json.load(open(f))
        c = d["config"]
        expert = c["model"] == "expert"
        if c["mode"] == "sync" and c["scheduler"] == "none":
            zero.append((expert, d))
            continue
        if c["mode"] != "async" or not isinstance(c["vla_latency_ms"], (int, float)):
            sys.exit(f"error: {f}: not an async eval with a fixed --vla-latency-ms (nor a sync VLA-only one)")
        rate_hz.add(c["rate_hz"])
        for t in d["tasks"]:
            if t["task"] not in tasks:
                tasks.append(t["task"])
            episodes.add(t["episodes"])
            runs.setdefault(((expert, c["scheduler"]), t["task"]), []).append((c["vla_latency_ms"], t["success_rate"], *t["ci95"]))
    for expert, d in zero:
        for t in d["tasks"]:
            for (series, task), pts in runs.items():
                if series[0] == expert and task == t["task"] and not any(p[0] == 0 for p in pts):
                    pts.append((0, t["success_rate"], *t["ci95"]))
    series_all = [(e, sc) for e in (False, True) for sc in ORDER if any(k[0] == (e, sc) for k in runs)]
    lat_max = max(p[0] for v in runs.values() for p in v) or 1
    W, H, pad, gap = 300, 220, 46, 24
    width = pad + len(tasks) * (W + gap)
    height = H + 2 * pad + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{pad}" y="18" font-size="14">Success versus VLA latency at {"/".join(f"{r:g}" for r in sorted(rate_hz))} Hz '
           f'(simulated time, {"/".join(str(e) for e in sorted(episodes))} held-out episodes per point, 95% Wilson bands)</text>']
    for i, task in enumerate(tasks):
        x0, y0 = pad + i * (W + gap), pad
        X = lambda ms: x0 + W * ms / lat_max
        Y = lambda r: y0 + H * (1 - r)
        out.append(f'<rect x="{x0}" y="{y0}" width="{W}" height="{H}" fill="none" stroke="#999"/>')
        out.append(f'<text x="{x0 + W / 2}" y="{y0 - 6}" text-anchor="middle" font-weight="bold">{task}</text>')
        for r in (0, 0.25, 0.5, 0.75, 1):
            out.append(f'<line x1="{x0}" x2="{x0 + W}" y1="{Y(r)}" y2="{Y(r)}" stroke="#eee"/>')
            if i == 0:
                out.append(f'<text x="{x0 - 6}" y="{Y(r) + 4}" text-anchor="end">{int(r * 100)}%</text>')
        lats = sorted({p[0] for v in runs.values() for p in v})
        for ms in lats:
            out.append(f'<text x="{X(ms)}" y="{y0 + H + 16}" text-anchor="middle">{ms:g}</text>')
        out.append(f'<text x="{x0 + W / 2}" y="{y0 + H + 32}" text-anchor="middle">VLA latency, ms</text>')
        for expert, sched in series_all:
            pts = sorted(runs.get(((expert, sched), task), []))
            if not pts:
                continue
            dash = ' stroke-dasharray="2,3"' if expert else (' stroke-dasharray="5,4"' if sched == "none" else "")
            if not expert:
                band = [(X(p[0]), Y(p[3])) for p in pts] + [(X(p[0]), Y(p[2])) for p in reversed(pts)]
                out.append('<polygon points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in band) + f'" fill="{COLORS[sched]}" opacity="0.15"/>')
            out.append('<polyline points="' + " ".join(f"{X(p[0]):.1f},{Y(p[1]):.1f}" for p in pts)
                       + f'" fill="none" stroke="{COLORS[sched]}" stroke-width="{1.2 if expert else 2}"{dash}/>')
            for p in pts:
                out.append(f'<circle cx="{X(p[0]):.1f}" cy="{Y(p[1]):.1f}" r="{2 if expert else 3}" fill="{COLORS[sched]}"/>')
    ly = height - 14
    for j, (expert, sched) in enumerate(series_all):
        lx = pad + j * 190
        dash = ' stroke-dasharray="2,3"' if expert else (' stroke-dasharray="5,4"' if sched == "none" else "")
        out.append(f'<line x1="{lx}" x2="{lx + 30}" y1="{ly - 4}" y2="{ly - 4}" stroke="{COLORS[sched]}" stroke-width="{1.2 if expert else 2}"{dash}/>')
        out.append(f'<text x="{lx + 36}" y="{ly}">{LABELS[sched]}{" (expert)" if expert else ""}</text>')
    out.append("</svg>")
    open(args.out, "w").write("\n".join(out) + "\n")
    print(f"wrote {args.out}: {len(tasks)} families, {len(args.files)} runs")
    # The same figures as a markdown table (success [95% CI] per family and series).
    lats = sorted({p[0] for v in runs.values() for p in v})
    name = lambda e, sc: LABELS[sc] + (" (expert)" if e else "")
    print("| VLA latency | " + " | ".join(f"{t}: {name(e, sc)}" for t in tasks for e, sc in series_all) + " |")
    print("|---:|" + "---|" * (len(tasks) * len(series_all)))
    for ms in lats:
        cells = []
        for t in tasks:
            for e, sc in series_all:
                hit = [p for p in runs.get(((e, sc), t), []) if p[0] == ms]
                cells.append(f"{100 * hit[0][1]:.0f}% [{100 * hit[0][2]:.0f}, {100 * hit[0][3]:.0f}]" if hit else "—")
        print(f"| {ms:g} ms | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
