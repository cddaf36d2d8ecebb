#!/usr/bin/env python3
"""The command line's contract for bad input (issue 15), run against the real binary: every error starts
with `reflex: error: `, names the file, key, flag or variable at fault, exits 2 for invalid usage or input
and 1 for a failure while doing valid work (a broken model's output included), never crashes (no signal,
no Swift "Fatal error", no backtrace) and never hangs (every case has a time limit). The bad inputs are
made here from the committed fixtures: truncated, 3-byte and flipped-byte JPEGs, a PNG declaring
20000x20000, a checkpoint with NaN weights, hostile config values, FIFOs, out-of-range flags and
environment values.

    python3 scripts/cli_contract.py --reflex .build/debug/reflex
"""
import argparse, json, os, shutil, struct, subprocess, sys, tempfile, time, zlib

ap = argparse.ArgumentParser()
ap.add_argument("--reflex", required=True)
args = ap.parse_args()
REFLEX = os.path.abspath(args.reflex)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(REPO)
work = tempfile.mkdtemp(prefix="reflex-cli-")
fails = []

def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)

def reflex(*argv, env=None, cwd=None, timeout=60):
    e = dict(os.environ, REFLEX_THREADS="1")
    e.update(env or {})
    t0 = time.time()
    try:
        p = subprocess.run([REFLEX, *argv], capture_output=True, text=True, env=e, cwd=cwd, timeout=timeout)
        return p.returncode, p.stdout, p.stderr, time.time() - t0
    except subprocess.TimeoutExpired:
        return "timeout", "", "", timeout

def expect(argv, code, needle, what, env=None, cwd=None, timeout=60):
    rc, out, err, dt = reflex(*argv, env=env, cwd=cwd, timeout=timeout)
    last = err.strip().splitlines()[-1] if err.strip() else ""
    first_error = next((l for l in err.splitlines() if l.startswith("reflex: error: ")), "")
    crashed = "Fatal error" in err or "crashed" in err or "Backtrac" in err or (isinstance(rc, int) and rc < 0)
    ok = rc == code and not crashed and (needle is None or needle in first_error)
    check(ok, f"{what}: exit {code}{', ' + repr(needle) if needle else ''} (got {rc} in {dt:.1f} s: {first_error or last})")
    return rc, out, err, dt

SIM = "models/reflex-sim-tiny"
JPEG = open("Tests/Fixtures/images/scene_288x216.jpg", "rb").read()
PNG_OK = "Tests/Fixtures/images/scene_160x120.png"
INSTR = ["--instruction", "pick up the red cube"]

def write(name, data):
    path = os.path.join(work, name)
    open(path, "wb").write(data)
    return path

# 1. Corrupt images (each once a SIGSEGV in `predict`).
for name, data in [("truncated.jpg", JPEG[:len(JPEG) // 2]), ("three.jpg", JPEG[:3]),
                   ("flipped.jpg", bytes(b ^ 0x55 if len(JPEG) - 400 < i < len(JPEG) - 300 else b for i, b in enumerate(JPEG))),
                   ("empty.png", b""), ("text.png", b"not an image at all")]:
    path = write(name, data)
    expect(["predict", "--model", SIM, "--image", path, *INSTR], 2, f"{path}: ", f"predict --image {name}")

# 2. Unbounded images: refused from the header, before anything is allocated.
def png_declaring(w, h):
    chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b"")
huge = write("huge.png", png_declaring(20000, 20000))
_, _, _, dt = expect(["predict", "--model", SIM, "--image", huge, *INSTR], 2, "20000x20000 = 400000000 pixels, more than the limit of 40000000",
                     "predict: a PNG declaring 20000x20000")
check(dt < 5, f"…refused at once ({dt:.2f} s)")
expect(["predict", "--model", SIM, "--image", PNG_OK, *INSTR, "--max-image-pixels", "1000"], 2, "more than the limit of 1000",
       "predict --max-image-pixels 1000 on a 160x120 image")
expect(["predict", "--model", SIM, "--image", PNG_OK, *INSTR], 2, "more than the limit of 1000", "REFLEX_MAX_IMAGE_PIXELS=1000",
       env={"REFLEX_MAX_IMAGE_PIXELS": "1000"})
expect(["predict", "--model", SIM, "--image", PNG_OK, *INSTR, "--max-image-pixels", "0"], 2, "--max-image-pixels", "--max-image-pixels 0")
rc, out, err, _ = expect(["predict", "--model", SIM, "--image", PNG_OK, *INSTR, "--json"], 0, None, "predict on a good image")
check(rc == 0 and len(json.loads(out)["action"]) == 7, "…prints a 7-dim action")

# 3. A broken model never turns into motion: NaN weights → predict fails (1), check says invalid (2).
nan_model = os.path.join(work, "nan-model")
shutil.copytree(SIM, nan_model)
st = os.path.join(nan_model, "model.safetensors")
blob = bytearray(open(st, "rb").read())
n = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + n])
name = next(k for k in header if k.endswith("model.norm.weight") and "language_model" in k)
a, b = header[name]["data_offsets"]
assert header[name]["dtype"] == "F32"
blob[8 + n + a:8 + n + b] = struct.pack("<f", float("nan")) * ((b - a) // 4)
open(st, "wb").write(bytes(blob))
expect(["predict", "--model", nan_model, "--image", PNG_OK, *INSTR], 1, "policy output is not finite", "predict with NaN weights")
sim_profile = open("boards/sim.yaml").read()
nan_profile = write("nan.yaml", sim_profile.replace("../models/reflex-sim-tiny", nan_model).encode())
expect(["check", "--board", nan_profile], 2, None, "check with NaN weights: invalid (2)")
rc, out, _, _ = reflex("check", "--board", nan_profile, "--json")
check("policy output is not finite" in out, "…the model check names the non-finite output")
eps = os.path.join(work, "eps-model")
shutil.copytree(SIM, eps)
cfg = json.load(open(os.path.join(eps, "config.json")))
cfg["text_config"]["rms_norm_eps"] = 0
json.dump(cfg, open(os.path.join(eps, "config.json"), "w"))
expect(["predict", "--model", eps, "--image", PNG_OK, *INSTR], 2, "text_config.rms_norm_eps", "rms_norm_eps 0")

# 4. Config values (each once a crash).
for key, value, needle in [("num_attention_heads", 0, "text_config.num_attention_heads"), ("num_hidden_layers", -1, "text_config.num_hidden_layers")]:
    d = os.path.join(work, f"cfg-{key}")
    shutil.copytree(SIM, d)
    c = json.load(open(os.path.join(d, "config.json")))
    c["text_config"][key] = value
    json.dump(c, open(os.path.join(d, "config.json"), "w"))
    expect(["predict", "--model", d, "--image", PNG_OK, *INSTR], 2, needle, f"config.json {key}: {value}")
expect(["predict", "--model", SIM, "--image", PNG_OK, "--instruction", "pick " * 5000], 2, "positions", "a prompt longer than the model's positions")
for cmd in (["eval"], ["sim", "record", "--task", "reach", "--episodes", "2", "--out", os.path.join(work, "rec")]):
    expect([*cmd, "--seed", "18446744073709551615"], 2, "--seed", f"{cmd[0]} --seed 2^64-1")
check(not os.path.exists(os.path.join(work, "rec")), "…sim record leaves no folder behind")
joints_profile = open("boards/raspberry-pi-5.yaml").read().replace("action_dims: 7", "action_dims: 1")
expect(["check", "--board", write("dims.yaml", joints_profile.encode()), "--offline"], 2, "robot.action_dims", "robot.action_dims: 1 with kind joints")

# 7. Exit codes and messages: one prefix, locations, the README's codes for every subcommand.
dup = write("dup.yaml", (sim_profile + "\nboard: { name: again, memory_mb: 64 }\n").encode())
_, _, err, _ = expect(["check", "--board", dup], 2, "dup.yaml:", "a duplicate YAML key")
check(len(err.strip().splitlines()) == 1 and "duplicate key 'board'" in err, f"…in one line naming the key ({len(err.splitlines())} lines)")
expect(["check", "--board", os.path.join(work, "missing.yaml")], 2, "missing.yaml", "check a profile that does not exist")
for sub in [["run"], ["check"], ["capture"], ["predict"], ["eval"], ["bench", "kernels"], ["bench", "model"], ["bench", "loop"],
            ["quantize"], ["sim", "record"], ["sim", "render"], ["bridge", "ping"], ["bridge", "send"], ["bridge", "monitor"]]:
    expect([*sub, "--no-such-flag"], 2, "", f"reflex {' '.join(sub)} --no-such-flag")
    rc, out, _, _ = reflex(*sub, "--help")
    check(rc == 0 and "USAGE" in out.upper(), f"reflex {' '.join(sub)} --help exits 0")

# 8. Paths: input paths in a profile resolve against its folder, from any working directory.
rc, out, err, _ = reflex("check", "--board", os.path.abspath("boards/sim.yaml"), cwd="/tmp", timeout=120)
check(rc == 0 and "all checks passed" in out and "reflex-sim-tiny" in out, f"check boards/sim.yaml from /tmp: all checks passed (rc {rc})")
moved = write("moved.yaml", sim_profile.encode())  # ../models/reflex-sim-tiny is not next to this copy
expect(["check", "--board", moved], 1, None, "a relative model.path that does not exist is a failed check (1)")
rc, out, _, _ = reflex("check", "--board", moved, "--offline")
check(rc == 1 and "FAILED  model" in out, "…also with --offline (only an absolute path is skipped there)")

# 9. Silent acceptance: out-of-range flags and environment values are refused, naming them.
for env, needle in [({"REFLEX_THREADS": "0"}, "REFLEX_THREADS=0"), ({"REFLEX_THREADS": "many"}, "REFLEX_THREADS=many"),
                    ({"REFLEX_ISA": "neon" if os.uname().machine == "x86_64" else "avx2"}, "REFLEX_ISA="),
                    ({"REFLEX_LOG_LEVEL": "loud"}, "REFLEX_LOG_LEVEL=loud"), ({"REFLEX_MAX_IMAGE_PIXELS": "-5"}, "REFLEX_MAX_IMAGE_PIXELS=-5")]:
    expect(["check", "--board", "boards/sim.yaml", "--offline"], 2, needle, f"{list(env.items())[0][0]}={list(env.values())[0]}", env=env)
expect(["eval", "--min-success", "nan"], 2, "--min-success", "eval --min-success nan")
expect(["eval", "--min-success", "1.5"], 2, "--min-success", "eval --min-success 1.5")
# The scheduler's flags are range-checked like the profile's keys.
expect(["eval", "--scheduler", "spvla", "--tau", "1.5"], 2, "--tau: 1.5 must be a share in 0…1", "eval --tau 1.5")
expect(["eval", "--buffer", "1"], 2, "--buffer: 1 must be 2…64", "eval --buffer 1")
expect(["eval", "--v-min", "0.3", "--v-max", "0.2"], 2, "--v-min: 0.3 is above v_max", "eval --v-min above --v-max")
expect(["eval", "--scheduler", "smith", "--gain", "2"], 2, "--gain: 2.0 must be ≥ 0 and below 2", "eval --gain 2")
expect(["eval", "--scheduler", "smith", "--saturation-factor", "0.5"], 2, "--saturation-factor: 0.5 must be 1…10", "eval --saturation-factor 0.5")
expect(["eval", "--scheduler", "smith", "--max-generated", "65"], 2, "--max-generated: 65 must be 0…64", "eval --max-generated 65")
expect(["eval", "--vla-latency-ms", "400"], 2, "needs --mode async", "eval --vla-latency-ms in sync mode")
expect(["eval", "--mode", "async", "--vla-latency-ms", "soon"], 2, "--vla-latency-ms", "eval --vla-latency-ms soon")
expect(["eval", "--mode", "async", "--max-action-age-ms", "50"], 2, "at least one control period", "eval --max-action-age-ms below a period")
# The pruning flags likewise (and a layer the model does not have, at load).
expect(["eval", "--prune", "attention", "--theta", "0"], 2, "--theta: 0.0 must be in (0, 1]", "eval --theta 0")
expect(["predict", "--model", SIM, "--image", PNG_OK, *INSTR, "--prune", "spvla", "--adaptive", "fast"], 2, "--adaptive: 'fast' is not Z_THRE,Z_MIN", "predict --adaptive fast")
expect(["eval", "--prune", "spvla", "--adaptive", "1,0.9"], 2, "--adaptive (z_thre): 1.0 must be in [0, 1)", "eval --adaptive 1,0.9")
expect(["bench", "model", "--model", SIM, "--prune", "sqap", "--keep", "1.5"], 2, "--keep: 1.5 must be in (0, 1]", "bench model --keep 1.5")
expect(["eval", "--prune", "sqap", "--ee-radius=-1"], 2, "--ee-radius: -1.0 must be ≥ 0", "eval --ee-radius -1")
expect(["eval", "--prune", "sqap", "--layer", "6"], 2, "pruning at LLM layer 6 (acceleration.pruning.layer, --layer) needs a deeper model", "eval --layer beyond the depth")
expect(["eval", "--prune", "fastv"], 2, "--prune", "eval --prune fastv")
expect(["eval", "--prune", "attention", "--vit-blocks", "1"], 2, "--vit-blocks: 1 needs method edges", "eval --vit-blocks with attention")
expect(["eval", "--prune", "edges", "--vit-blocks", "9"], 2, "9 ViT blocks on kept patches", "eval --vit-blocks beyond the encoder")
expect(["capture", "--width", "0"], 2, "--width", "capture --width 0")
expect(["capture", "--fps", "0"], 2, "--fps", "capture --fps 0")

# 10. A FIFO named model.safetensors (or an image) is refused, not waited on.
fifo_model = os.path.join(work, "fifo-model")
shutil.copytree(SIM, fifo_model)
os.remove(os.path.join(fifo_model, "model.safetensors"))
os.mkfifo(os.path.join(fifo_model, "model.safetensors"))
expect(["predict", "--model", fifo_model, "--image", PNG_OK, *INSTR], 2, "not a regular file", "a FIFO as model.safetensors", timeout=20)
fifo_image = os.path.join(work, "frame.png")
os.mkfifo(fifo_image)
expect(["predict", "--model", SIM, "--image", fifo_image, *INSTR], 2, "not a regular file (a FIFO)", "a FIFO as --image", timeout=20)

shutil.rmtree(work, ignore_errors=True)
print(f"cli contract: {len(fails)} failure(s)")
sys.exit(1 if fails else 0)
