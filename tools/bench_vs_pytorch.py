#!/usr/bin/env python3
"""Compare Reflex's kernels with PyTorch on the same shapes, threads and machine, in one run.

Runs `reflex bench kernels --json`, then times PyTorch's fp32 nn.Linear and its dynamically
quantized int8 Linear (torch.ao.quantization.quantize_dynamic, fbgemm engine: per-tensor uint8
activations quantized on the fly, int8 weights) on every (M, K, N) that Reflex measured, and
prints the ratios that BENCHMARKS.md tracks:
  - Reflex int8 GEMM / OpenBLAS sgemm   (target >= 3x at M >= 64)
  - Reflex int8 GEMM / PyTorch int8     (target >= 0.8x at M >= 64)

PyTorch is a developer tool here (pip install torch), never a runtime or CI dependency.
Usage: python3 tools/bench_vs_pytorch.py --reflex .build/release/reflex [--out FILE] [--threads N]
"""
import argparse
import json
import os
import subprocess
import sys
import time


def median_seconds(fn, min_reps=3, max_reps=25, min_seconds=0.3):
    fn()  # warm-up
    times = []
    while len(times) < max_reps and (len(times) < min_reps or sum(times) < min_seconds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reflex", default=".build/release/reflex", help="path to the reflex binary")
    ap.add_argument("--out", help="write the combined JSON here")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--m", default="1,64,256,512", help="row counts M")
    ap.add_argument("--shapes", default="all", choices=["qwen", "llama", "all"])
    ap.add_argument("--min-seconds", type=float, default=0.3)
    args = ap.parse_args()

    import torch
    import torch.nn as nn

    env = dict(os.environ, REFLEX_THREADS=str(args.threads))
    cmd = [args.reflex, "bench", "kernels", "--json", "--m", args.m, "--shapes", args.shapes,
           "--threads", str(args.threads), "--min-seconds", str(args.min_seconds)]
    print("running:", " ".join(cmd), file=sys.stderr)
    reflex = json.loads(subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE).stdout)

    torch.set_num_threads(args.threads)
    torch.backends.quantized.engine = "fbgemm"
    rows = sorted({(r["k"], r["n"]) for r in reflex["results"]}, key=lambda s: (s[0] * s[1], s))
    ms = sorted({r["m"] for r in reflex["results"]})
    torch_results = []
    with torch.inference_mode():
        for k, n in rows:
            print(f"pytorch: K×N = {k}×{n}", file=sys.stderr)
            lin = nn.Linear(k, n, bias=False)
            qlin = torch.ao.quantization.quantize_dynamic(nn.Sequential(lin), {nn.Linear}, dtype=torch.qint8)
            for m in ms:
                x = torch.randn(m, k)
                for kind, mod in (("fp32", lin), ("int8_dynamic", qlin)):
                    t = median_seconds(lambda: mod(x), min_seconds=args.min_seconds)
                    torch_results.append({"kernel": kind, "m": m, "k": k, "n": n,
                                          "gops": 2 * m * n * k / t / 1e9, "ms": t * 1e3})
                    print(f"  {kind:13s} M={m}: {torch_results[-1]['gops']:.1f} GOP/s", file=sys.stderr)

    def find(results, **kw):
        for r in results:
            if all(r.get(a) == b for a, b in kw.items()):
                return r
        return None

    best = reflex.get("isa_best")
    comparison = []
    print(f"\nthreads {args.threads}, Reflex best int8 path {best}, torch {torch.__version__}")
    print(f"{'M':>4} {'K':>6} {'N':>7} | {'sgemm':>7} {'torch32':>7} {'torch8':>7} | "
          f"{'reflex8':>7} {'×sgemm':>7} {'×torch8':>7}   (GOP/s)")
    for k, n in rows:
        for m in ms:
            sg = find(reflex["results"], kernel="sgemm", m=m, k=k, n=n)
            r8 = find(reflex["results"], isa=best, m=m, k=k, n=n)
            t32 = find(torch_results, kernel="fp32", m=m, k=k, n=n)
            t8 = find(torch_results, kernel="int8_dynamic", m=m, k=k, n=n)
            if not (sg and r8 and t32 and t8):
                continue
            row = {"m": m, "k": k, "n": n, "sgemm_gops": sg["gops"], "torch_fp32_gops": t32["gops"],
                   "torch_int8_gops": t8["gops"], "reflex_int8_gops": r8["gops"], "reflex_isa": best,
                   "int8_over_sgemm": r8["gops"] / sg["gops"], "int8_over_torch_int8": r8["gops"] / t8["gops"]}
            comparison.append(row)
            print(f"{m:>4} {k:>6} {n:>7} | {sg['gops']:7.1f} {t32['gops']:7.1f} {t8['gops']:7.1f} | "
                  f"{r8['gops']:7.1f} {row['int8_over_sgemm']:7.2f} {row['int8_over_torch_int8']:7.2f}")
    print(f"memory bandwidth (copy) {reflex['memory_bandwidth_gbps']:.1f} GB/s")
    for r in reflex["results"]:
        if r["kernel"] == "int8_gemv" and r["isa"] == best:
            print(f"GEMV {r['k']}×{r['n']}: {r['gbps']:.1f} GB/s = "
                  f"{100 * r['gbps'] / reflex['memory_bandwidth_gbps']:.0f}% of copy bandwidth")
    if reflex.get("decoder_layer"):
        l = reflex["decoder_layer"]
        print(f"decoder layer {l['model']} {l['tokens']} tokens: {l['total_ms']:.1f} ms, "
              f"outside GEMM {100 * l['non_gemm_fraction']:.1f}%")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"reflex": reflex, "torch": {"version": torch.__version__, "results": torch_results},
                       "comparison": comparison}, f, indent=1)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
