#!/usr/bin/env python3
"""Paired comparison of two `reflex eval --json` runs on the same seeds: per task family, the difference in
success rate (B − A) with its 95% interval, and the ratio of effective actions per second.

Each episode i of family f was run with the same seed in both arms, so the difference is the mean of the
per-episode differences d_i = s_B,i − s_A,i ∈ {−1, 0, 1}; its 95% interval is Newcombe's score interval for
paired proportions (method 10, Newcombe 1998: Wilson intervals of each arm combined with the phi correlation
of the pairs), sound near 0% and 100% where the Wald interval is not. "Within M points" means the lower bound
is above −M.

Compute: "VLA calls per episode" is what completing the tasks cost in each arm. Speed: "actions per VLA call" (acting ticks ÷ VLA calls, B over A) is the speed-up at equal cost per VLA call,
immune to the load a shared machine puts on two runs made at different times; "measured actions/s" divides
the runs' own effective rates (sync: acting ticks ÷ VLA + generator compute time).

Usage: tools/paired_success.py A.json B.json [--markdown]
"""
import argparse
import json
import math
import sys

Z = 1.959964


def wilson(k, n):
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / denom
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_paired(a, b):
    """95% interval of mean(b) − mean(a) for paired 0/1 outcomes (Newcombe 1998, method 10)."""
    n = len(a)
    both = sum(1 for x, y in zip(a, b) if x and y)
    only_a = sum(1 for x, y in zip(a, b) if x and not y)
    only_b = sum(1 for x, y in zip(a, b) if y and not x)
    neither = n - both - only_a - only_b
    pa, pb = (both + only_a) / n, (both + only_b) / n
    la, ua = wilson(both + only_a, n)
    lb, ub = wilson(both + only_b, n)
    d = pb - pa
    denom = (both + only_a) * (neither + only_b) * (both + only_b) * (neither + only_a)
    if denom == 0:
        phi = 0.0
    else:
        phi = (both * neither - only_a * only_b) / math.sqrt(denom)
    dl = math.sqrt(max(0.0, (pb - lb) ** 2 - 2 * phi * (pb - lb) * (ua - pa) + (ua - pa) ** 2))
    du = math.sqrt(max(0.0, (ub - pb) ** 2 - 2 * phi * (ub - pb) * (pa - la) + (pa - la) ** 2))
    return d, d - dl, d + du, only_a, only_b


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    A, B = (json.load(open(p)) for p in (args.a, args.b))
    if A["first_seed"] != B["first_seed"]:
        sys.exit(f"error: the runs start at different seeds ({A['first_seed']} vs {B['first_seed']}): not paired")
    ta = {t["task"]: t for t in A["tasks"]}
    rows = []
    for tb in B["tasks"]:
        t = ta.get(tb["task"])
        if t is None or t["episodes"] != tb["episodes"]:
            sys.exit(f"error: {tb['task']}: not in both runs with the same episode count")
        d, lo, hi, only_a, only_b = newcombe_paired(t["episode_success"], tb["episode_success"])
        ea, eb = t.get("effective_actions_per_s", 0), tb.get("effective_actions_per_s", 0)
        # Acting ticks per VLA call: the speed-up at equal cost per VLA call (the generator's microseconds
        # aside), immune to the load a shared machine puts on the two runs at different times.
        def per_call(r):
            o = r["origins"]
            return (o["vla"] + o["generator"]) / max(1, r["vla_calls"])
        # VLA calls per episode: the compute the tasks actually cost (a scheduler whose generated steps are less
        # effective makes episodes longer, which the per-call ratio does not see).
        calls = (t["vla_calls"] / t["episodes"], tb["vla_calls"] / tb["episodes"])
        rows.append((tb["task"], tb["episodes"], t["success_rate"], tb["success_rate"], d, lo, hi, only_a, only_b,
                     eb / ea if ea else float("nan"), per_call(tb) / per_call(t), calls, (t["mean_steps"], tb["mean_steps"])))
    if args.markdown:
        print("| family | episodes | A | B | B − A [95% CI] | only A / only B | mean steps A → B | VLA calls per episode A → B | actions per VLA call B ÷ A | measured actions/s B ÷ A |")
        print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {100*r[2]:.1f}% | {100*r[3]:.1f}% | {100*r[4]:+.1f} [{100*r[5]:+.1f}, {100*r[6]:+.1f}] | {r[7]} / {r[8]} "
                  f"| {r[12][0]:.1f} → {r[12][1]:.1f} | {r[11][0]:.1f} → {r[11][1]:.1f} | {r[10]:.2f}× | {r[9]:.2f}× |")
    else:
        for r in rows:
            print(f"{r[0]:<11} n={r[1]:<4} A {100*r[2]:5.1f}%  B {100*r[3]:5.1f}%  B−A {100*r[4]:+5.1f} pts "
                  f"[{100*r[5]:+5.1f}, {100*r[6]:+5.1f}]  discordant {r[7]}/{r[8]}  steps {r[12][0]:.1f}→{r[12][1]:.1f}  "
                  f"VLA calls/episode {r[11][0]:.1f}→{r[11][1]:.1f}  actions per VLA call ×{r[10]:.2f}  measured actions/s ×{r[9]:.2f}")


if __name__ == "__main__":
    main()
