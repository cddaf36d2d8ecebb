#!/usr/bin/env python3
"""The aarch64 `reflex` (from Toolchains/aarch64-linux/build.sh) under qemu-aarch64-static, on three CPU models.

For each of cortex-a72 (NEON), cortex-a76 (dotprod) and max (i8mm):
  - `predict` on every case of every fixture's reference.json, fp32 (OpenBLAS) and int8 (the ARM kernel path
    this CPU selects): fp32 tokens must equal the reference's (PyTorch) tokens; with --x86 every run's tokens
    must equal the x86 binary's for the same arguments;
  - `bench kernels` on one small shape set with that CPU's best path forced (a smoke run: qemu gives no timings);
  - `check --offline` on every shipped board profile (exit 0);
  - `eval --task reach --episodes 2` (with --x86: same per-episode outcome as the x86 binary).
Writes a JSON summary (--out) and exits 1 on any mismatch or failure.
"""
import argparse, glob, json, os, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CPUS = [("cortex-a72", "neon"), ("cortex-a76", "dotprod"), ("max", "i8mm")]


def run(cmd, env=None, timeout=900):
    t0 = time.time()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout, p.stderr, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reflex", required=True, help="the aarch64 binary")
    ap.add_argument("--sysroot", required=True, help="the arm64 sysroot (qemu -L)")
    ap.add_argument("--x86", help="an x86-64 reflex binary to compare tokens and eval outcomes with")
    ap.add_argument("--qemu", default="qemu-aarch64-static")
    ap.add_argument("--cpus", default=",".join(c for c, _ in CPUS))
    ap.add_argument("--out", help="write the JSON summary here")
    a = ap.parse_args()

    failures, summary = [], {"binary": a.reflex, "cpus": {}}
    cases = []
    for ref in sorted(glob.glob(os.path.join(ROOT, "Tests/Fixtures/*/reference.json"))):
        fixture = os.path.dirname(ref)
        for i, c in enumerate(json.load(open(ref))["cases"]):
            cases.append((os.path.relpath(fixture, ROOT), i, c))
    profiles = sorted(glob.glob(os.path.join(ROOT, "boards/*.yaml")))

    def predict_args(fixture, c, quant):
        img = os.path.relpath(os.path.normpath(os.path.join(ROOT, fixture, c["image"])), ROOT)
        return ["predict", "--model", fixture, "--image", img, "--instruction", c["instruction"],
                "--unnorm-key", c["unnorm_key"], "--quant", quant, "--json"]

    x86 = {}
    if a.x86:
        for fixture, i, c in cases:
            for quant in ("fp32", "int8"):
                rc, out, err, _ = run([a.x86] + predict_args(fixture, c, quant))
                x86[(fixture, i, quant)] = json.loads(out)["tokens"] if rc == 0 else f"exit {rc}: {err.strip()[-200:]}"
        rc, out, err, _ = run([a.x86, "eval", "--task", "reach", "--episodes", "2", "--json"])
        x86["eval"] = json.loads(out) if rc == 0 else None

    for cpu in a.cpus.split(","):
        best = dict(CPUS).get(cpu)
        q = [a.qemu, "-L", a.sysroot, "-cpu", cpu, a.reflex]
        s = summary["cpus"][cpu] = {"predict": [], "check": {}, "bench": None, "eval": None}
        t_cpu = time.time()
        for fixture, i, c in cases:
            for quant in ("fp32", "int8"):
                rc, out, err, secs = run(q + predict_args(fixture, c, quant))
                tokens = json.loads(out)["tokens"] if rc == 0 else None
                row = {"fixture": fixture, "case": i, "quant": quant, "tokens": tokens, "seconds": round(secs, 1)}
                if rc != 0:
                    failures.append(f"{cpu} predict {fixture}#{i} {quant}: exit {rc}: {err.strip()[-300:]}")
                if quant == "fp32":
                    row["reference"] = c["tokens"]
                    if tokens is not None and tokens != c["tokens"]:
                        failures.append(f"{cpu} predict {fixture}#{i} fp32: {tokens} != reference {c['tokens']}")
                if a.x86:
                    row["x86"] = x86[(fixture, i, quant)]
                    if tokens is not None and tokens != row["x86"]:
                        failures.append(f"{cpu} predict {fixture}#{i} {quant}: {tokens} != x86 {row['x86']}")
                s["predict"].append(row)
                print(f"{cpu:10} predict {fixture}#{i} {quant:4} {tokens} ({secs:.1f} s)", flush=True)
        if best:
            rc, out, err, secs = run(q + ["bench", "kernels", "--isa", best, "--m", "1", "--shapes", "qwen",
                                          "--min-seconds", "0.01", "--no-layer", "--no-dram", "--json"])
            s["bench"] = {"isa": best, "exit": rc, "seconds": round(secs, 1)}
            if rc != 0:
                failures.append(f"{cpu} bench kernels --isa {best}: exit {rc}: {err.strip()[-300:]}")
            print(f"{cpu:10} bench kernels --isa {best}: exit {rc} ({secs:.1f} s)", flush=True)
        for prof in profiles:
            rc, out, err, secs = run(q + ["check", "--board", os.path.relpath(prof, ROOT), "--offline"])
            s["check"][os.path.relpath(prof, ROOT)] = rc
            if rc != 0:
                failures.append(f"{cpu} check --offline {os.path.relpath(prof, ROOT)}: exit {rc}: {err.strip()[-300:]}")
            print(f"{cpu:10} check --offline {os.path.relpath(prof, ROOT)}: exit {rc}", flush=True)
        rc, out, err, secs = run(q + ["eval", "--task", "reach", "--episodes", "2", "--json"])
        ev = json.loads(out) if rc == 0 else None
        s["eval"] = {"exit": rc, "result": ev, "seconds": round(secs, 1)}
        if rc != 0:
            failures.append(f"{cpu} eval reach: exit {rc}: {err.strip()[-300:]}")
        elif a.x86 and x86.get("eval") is not None:
            strip = lambda d: json.dumps(drop_timing(d), sort_keys=True)
            if strip(ev) != strip(x86["eval"]):
                failures.append(f"{cpu} eval reach differs from x86: {strip(ev)[:400]} vs {strip(x86['eval'])[:400]}")
        print(f"{cpu:10} eval reach x2: exit {rc} ({secs:.1f} s)", flush=True)
        s["seconds"] = round(time.time() - t_cpu, 1)

    summary["failures"] = failures
    if a.out:
        with open(a.out, "w") as f:
            json.dump(summary, f, indent=1)
    for f in failures:
        print("FAIL:", f)
    print("aarch64 under qemu:", "all passed" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


def drop_timing(d):
    """Eval JSON without wall-clock fields (latencies differ between hosts, outcomes must not)."""
    if isinstance(d, dict):
        return {k: drop_timing(v) for k, v in d.items()
                if not any(t in k.lower() for t in ("ms", "latency", "seconds", "time", "hz", "fps", "wall", "per_s"))}
    if isinstance(d, list):
        return [drop_timing(v) for v in d]
    return d


if __name__ == "__main__":
    sys.exit(main())
