#!/usr/bin/env python3
"""End-to-end robot loop: `reflex run` with a replay camera (simulator frames written as PNG), the trained
policy, the safety stage and a direct Feetech bus on a pseudo-terminal, where emulated STS3215 servos
(scripts/feetech_servo_emulator.py) answer. Decodes every byte that reaches the "servo bus" independently
and checks: the pose is read first (SYNC_READ of Present_Position, torque still off), the goals are set to
that pose, torque is enabled per servo, then exactly one well-formed SYNC_WRITE of Goal_Position per sent
tick, every position inside its joint's limits and within max_step of the previous one — starting from
the measured pose, which is away from the profile's home — nothing else on the wire. An arm outside its
limits is refused (exit 1, the joint named) with nothing but the read on the bus. Also checks that a
profile with a bad key and a model path that does not exist are refused with exit 2 and nothing is
written to the bus.

    python3 scripts/loop_e2e.py --reflex .build/debug/reflex
"""
import argparse, os, pty, select, subprocess, sys, tempfile, time, tty
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from feetech_servo_emulator import FeetechServoEmulator  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--reflex", required=True)
ap.add_argument("--ticks", type=int, default=8)
args = ap.parse_args()
fails = []

def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)

work = tempfile.mkdtemp(prefix="reflex-loop-")
frames = os.path.join(work, "frames")
subprocess.run([args.reflex, "sim", "render", "--task", "reach", "--seed", "1000007", "--out", frames, "--rollout"],
               check=True, capture_output=True)

# Input paths in a profile are relative to the profile's folder: this one is written into a temporary folder.
MODEL = os.path.abspath("models/reflex-sim-tiny")

# 2 Hz and a 1.5 s frame age: this test checks the bytes on the bus, not timing; a debug build on a loaded
# machine must not hold every tick (the loop's timing has its own tests and `reflex bench loop`).
def profile(port, extra=""):
    return f"""
board: {{ name: loop-test, memory_mb: 4096 }}
cpu: {{ threads: 1 }}
camera: {{ source: replay, path: {frames}, fps: 10, max_frame_age_ms: 1500 }}
model: {{ path: {MODEL}, unnorm_key: reflex_sim, instruction: move the gripper above the red cube }}
control: {{ rate_hz: 2 }}
bridge: {{ protocol: feetech, port: {port}, baud: 1000000 }}
robot:
  kind: joints
  joints:
    - {{ name: a, servo_id: 1, min: 1500, max: 2600, home: 2048, units_per_action: 3000, max_step: 25 }}
    - {{ name: b, servo_id: 2, min: 1500, max: 2600, home: 2048, units_per_action: 3000, max_step: 25 }}
    - {{ name: c, servo_id: 3, min: 1500, max: 2600, home: 2048, units_per_action: 3000, max_step: 25 }}
  gripper: {{ servo_id: 6, open: 2600, closed: 1950, max_rate: 0.25 }}
{extra}"""

# Where the arm is when the service starts: away from home (2048), inside the limits 1500…2600.
START = {1: 1600, 2: 2500, 3: 1550, 6: 2000}

def run(text, ticks, sigterm_after=None, positions=START, silent=()):
    m, s = pty.openpty()
    tty.setraw(s)
    servos = FeetechServoEmulator(m, positions, silent=silent).start()
    path = os.path.join(work, "p.yaml")
    open(path, "w").write(text.replace("PORT", os.ttyname(s)))
    env = dict(os.environ, REFLEX_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [args.reflex, "run", "--board", path, "--json"] + (["--ticks", str(ticks)] if ticks else [])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    start = time.time()
    while p.poll() is None:
        if sigterm_after is not None and time.time() - start > sigterm_after:
            p.send_signal(15)
            sigterm_after = None
        time.sleep(0.05)
    time.sleep(0.2)
    data = servos.stop()
    out, err = p.communicate()
    return p.returncode, out, err, data

def packets(data):
    """Independent Feetech decoder: FF FF ID LEN INSTR PARAMS CHK."""
    out, i = [], 0
    while i < len(data):
        if data[i:i + 2] != b"\xff\xff":
            return out, i
        ident, length, instr = data[i + 2], data[i + 3], data[i + 4]
        params = data[i + 5:i + 3 + length]
        chk = data[i + 3 + length]
        ok = (~(ident + length + instr + sum(params))) & 0xFF == chk
        out.append((ident, instr, bytes(params), ok))
        i += 4 + length
    return out, None

def goal_packet(positions):
    """SYNC_WRITE Goal_Position {id: position}: (id, instr, params) as packets() returns them."""
    params = bytes([0x2A, 0x02]) + b"".join(bytes([i]) + p.to_bytes(2, "little") for i, p in positions.items())
    return (0xFE, 0x83, params)

READ_POSE = (0xFE, 0x82, bytes([0x38, 0x02, 1, 2, 3, 6]))  # SYNC_READ Present_Position (56, 2 bytes), IDs 1,2,3,6

rc, out, err, data = run(profile("PORT"), args.ticks)
check(rc == 0, f"reflex run exits 0 after {args.ticks} ticks (rc {rc}) {err.strip().splitlines()[-1:] if rc else ''}")
pk, stray = packets(data)
check(stray is None, "every byte on the bus belongs to a well-formed packet")
check(all(p[3] for p in pk), "every packet's checksum is right")
head = [p[:3] for p in pk[:6]]
check(head[:1] == [READ_POSE], "the pose is read first: SYNC_READ Present_Position of 1, 2, 3, 6, torque still off")
check(head[1:2] == [goal_packet(START)], f"then Goal_Position = the measured pose {START} (so torque on does not move)")
check([(p[0], p[2]) for p in head[2:6]] == [(1, b"\x28\x01"), (2, b"\x28\x01"), (3, b"\x28\x01"), (6, b"\x28\x01")],
      "then torque enabled on servos 1, 2, 3, 6 (WRITE 0x28 = 1), before any motion")
torque = [p for p in pk if p[1] == 0x03]
sync = [p for p in pk[2:] if p[1] == 0x83]
import json
summary = json.loads(out) if rc == 0 else {}
check(len(sync) == summary.get("sent", -1), f"one SYNC_WRITE per sent tick ({len(sync)} vs {summary.get('sent')})")
check(summary.get("sent", 0) >= args.ticks // 2, f"most ticks sent a command, not held ({summary.get('sent')} of {args.ticks}; holds: {summary.get('holds')})")
check(len(pk) == 2 + len(torque) + len(sync), "nothing but the pose read, torque writes and SYNC_WRITEs")
prev = [START[1], START[2], START[3]]
if sync:
    first = [sync[0][2][3 + 3 * k] | sync[0][2][4 + 3 * k] << 8 for k in range(3)]
    check(all(abs(f - s) <= 25 for f, s in zip(first, prev)) and all(abs(f - 2048) > 25 for f in first),
          f"the first command moves from the measured pose {prev} (got {first}), not from home 2048")
within, stepok = True, True
for ident, _, params, _ in sync:
    if params[:2] != b"\x2a\x02" or ident != 0xFE or len(params) != 2 + 3 * 4:
        within = False
        continue
    ids = [params[2 + 3 * k] for k in range(4)]
    pos = [params[3 + 3 * k] | params[4 + 3 * k] << 8 for k in range(4)]
    within &= ids == [1, 2, 3, 6] and all(1500 <= v <= 2600 for v in pos[:3]) and 1950 <= pos[3] <= 2600
    stepok &= all(abs(a - b) <= 25 + 1 for a, b in zip(pos[:3], prev))
    prev = pos[:3]
check(within and len(sync) > 0, "SYNC_WRITE Goal_Position to IDs 1,2,3,6 inside each joint's limits")
check(stepok, "no joint moves more than max_step (25) per tick")

# async mode with the scheduler: the VLA on its own thread, ticks at 5 Hz never waiting for it (a debug build's
# inference is slower than a tick), the generator between its results. The bus sees the same well-formed,
# limited commands; run --json reports the origin mix.
async_text = profile("PORT", "acceleration: { scheduler: { mode: async, policy: spvla, max_action_age_ms: 3000 } }").replace(
    "rate_hz: 2 }", "rate_hz: 5 }")
rc, out, err, data = run(async_text, 16)
pk, stray = packets(data)
summary = json.loads(out) if rc == 0 else {}
origins = summary.get("origins", {})
moves = [p for p in pk[2:] if p[1] == 0x83]
check(rc == 0 and summary.get("mode") == "async" and origins.get("vla", 0) >= 1 and summary.get("overruns") == 0,
      f"async mode: reflex run exits 0, no tick overruns, VLA results applied (rc {rc}, origins {origins})")
check(stray is None and all(p[3] for p in pk) and len(moves) == summary.get("sent", -1)
      and sum(origins.values()) == summary.get("ticks", -1),
      f"async mode: well-formed packets, one SYNC_WRITE per sent tick ({len(moves)} vs {summary.get('sent')}), every tick has an origin")
prev, ok = [START[1], START[2], START[3]], True
for _, _, params, _ in moves:
    pos = [params[3 + 3 * k] | params[4 + 3 * k] << 8 for k in range(4)]
    ok &= all(1500 <= v <= 2600 for v in pos[:3]) and all(abs(a - b) <= 26 for a, b in zip(pos[:3], prev))
    prev = pos[:3]
check(ok, "async mode: VLA and generated commands alike inside the limits and max_step")

rc, out, err, data = run(profile("PORT").replace("rate_hz: 2 }", "rate_hz: 2, frame_budjet_ms: 100 }"), 2)
check(rc == 2 and "frame_budjet_ms" in err and "did you mean 'frame_budget_ms'" in err and data == b"",
      "a misspelt key is refused (exit 2, names the key) and nothing reaches the bus")
rc, out, err, data = run(profile("PORT").replace(f"path: {MODEL}", "path: /nonexistent/model"), 2)
check(rc == 2 and "/nonexistent/model" in err and data == b"", "a missing model is refused (exit 2, names the path), bus silent")

# A video file as the replay camera (field recording, decoded with FFmpeg).
video = os.path.abspath("Tests/Fixtures/video/clip_mpeg4.mp4")
rc, out, err, data = run(profile("PORT").replace(f"path: {frames}", f"path: {video}"), 4)
pk, stray = packets(data)
check(rc == 0 and stray is None and len([p for p in pk if p[1] == 0x83]) == 1 + 4, f"a video file replays as the camera (rc {rc}, {len(pk)} packets)")

# The arm is outside its limits at start (joint b at 2900, limits 1500…2600): refused, exit 1, the joint
# named, and nothing but the pose read reaches the bus — no goal, no torque enable, no motion.
rc, out, err, data = run(profile("PORT"), 2, positions={**START, 2: 2900})
pk, stray = packets(data)
msg = "joint 'b' (servo 2) is at 2900, outside its limits 1500…2600: move it by hand into range; torque not enabled"
check(rc == 1 and msg in err, f"an arm outside its limits is refused: exit 1 and \"{msg}\" (rc {rc}: {err.strip().splitlines()[-1:]})")
check(stray is None and [p[:3] for p in pk] == [READ_POSE], f"…and only the pose read reached the bus ({len(pk)} packets)")

# A servo that does not answer (the gripper): refused the same way, naming it; the host retried it with a READ.
rc, out, err, data = run(profile("PORT"), 2, silent=(6,))
pk, stray = packets(data)
msg = "servo 6 (joint 'gripper') did not report its position"
check(rc == 1 and msg in err, f"a silent servo is refused: exit 1 and \"{msg} …\" (rc {rc}: {err.strip().splitlines()[-1:]})")
check(stray is None and [p[:3] for p in pk] == [READ_POSE, (6, 0x02, bytes([0x38, 0x02]))],
      "…and only the pose read (SYNC_READ, then READ of servo 6) reached the bus")


# SIGTERM: the service holds, disables torque (torque_off_on_stop) and exits 0.
rc, out, err, data = run(profile("PORT").replace("baud: 1000000 }", "baud: 1000000, torque_off_on_stop: true }"), None, sigterm_after=3.0)
pk, stray = packets(data)
check(rc == 0 and stray is None and len([p for p in pk if p[1] == 0x83]) >= 1, f"runs until SIGTERM, then exits 0 (rc {rc})")
check([(p[0], p[1], p[2]) for p in pk[-4:]] == [(i, 0x03, b"\x28\x00") for i in (1, 2, 3, 6)],
      "after SIGTERM the last bytes on the bus disable torque on every servo")

# Corrupt frames in the replay folder (issue 15, classes 1 and 5). Good and corrupt frames alternate at 1 fps
# with ticks at 2 Hz: a corrupt frame holds its tick and is logged, the loop goes on with the next good one.
import shutil
jpeg = open("Tests/Fixtures/images/scene_288x216.jpg", "rb").read()
mixed = os.path.join(work, "mixed")
os.makedirs(mixed)
good = sorted(f for f in os.listdir(frames) if f.endswith(".png"))
for k in range(8):
    if k % 2 == 0:
        shutil.copy(os.path.join(frames, good[k % len(good)]), os.path.join(mixed, f"frame_{k:02d}.png"))
    else:  # truncated, 3 bytes, flipped bytes: each once crashed `reflex run`
        bad = [jpeg[:len(jpeg) // 2], jpeg[:3], bytes(b ^ 0x55 if 300 < i < 400 else b for i, b in enumerate(jpeg))][k // 2 % 3]
        open(os.path.join(mixed, f"frame_{k:02d}.jpg"), "wb").write(bad)
mixed_profile = profile("PORT").replace(f"path: {frames}, fps: 10", f"path: {mixed}, fps: 1")
rc, out, err, data = run(mixed_profile, 8)
summary = json.loads(out) if rc == 0 else {}
check(rc == 0 and summary.get("bad_frames", 0) >= 1 and summary.get("sent", 0) >= 1 and "bad frame, holding" in err and "invalid JPEG" in err,
      f"corrupt frames among good ones: held and logged, the loop goes on (rc {rc}, sent {summary.get('sent')}, bad frames {summary.get('bad_frames')})")
pk, stray = packets(data)
check(stray is None and len([p for p in pk[2:] if p[1] == 0x83]) == summary.get("sent", -1), "…and only the good frames' commands reached the bus")

# Only corrupt frames: camera.max_bad_frames in a row run the same stop sequence as SIGTERM (torque off), exit 1.
allbad = os.path.join(work, "allbad")
os.makedirs(allbad)
open(os.path.join(allbad, "frame_00.jpg"), "wb").write(jpeg[:len(jpeg) // 2])
text = profile("PORT").replace(f"path: {frames}, fps: 10", f"path: {allbad}, fps: 1, max_bad_frames: 3").replace(
    "baud: 1000000 }", "baud: 1000000, torque_off_on_stop: true }")
rc, out, err, data = run(text, None)
pk, stray = packets(data)
check(rc == 1 and "3 bad frames in a row (camera.max_bad_frames is 3)" in err and err.strip().splitlines()[-1].startswith("reflex: error: "),
      f"max_bad_frames corrupt frames in a row: exit 1 with the reason (rc {rc}: {err.strip().splitlines()[-1:]})")
check(stray is None and [(p[0], p[1], p[2]) for p in pk[-4:]] == [(i, 0x03, b"\x28\x00") for i in (1, 2, 3, 6)]
      and [p[:3] for p in pk if p[1] == 0x83] == [goal_packet(START)], "…after the same stop sequence as SIGTERM: torque off on every servo, no goal but the start pose")

# `reflex bridge send --protocol feetech` writes exactly one SYNC_WRITE and nothing else.
m, s_ = pty.openpty()
tty.setraw(s_)
r = subprocess.run([args.reflex, "bridge", "send", "--protocol", "feetech", "--port", os.ttyname(s_), "--targets", "2048,1024",
                    "--ids", "1,2"], capture_output=True, text=True)
sent = b""
while select.select([m], [], [], 0.2)[0]:
    sent += os.read(m, 4096)
check(r.returncode == 0 and sent == bytes.fromhex("ff ff fe 0a 83 2a 02 01 00 08 02 00 04 39"),
      f"bridge send --protocol feetech: exactly FF FF FE 0A 83 2A 02 01 00 08 02 00 04 39 ({sent.hex(' ')})")
# A target the servo cannot take is refused (exit 2, the flag named), not clamped to 4095 on the wire.
r = subprocess.run([args.reflex, "bridge", "send", "--protocol", "feetech", "--port", os.ttyname(s_), "--targets", "2048,5000",
                    "--ids", "1,2"], capture_output=True, text=True)
sent = b""
while select.select([m], [], [], 0.2)[0]:
    sent += os.read(m, 4096)
check(r.returncode == 2 and "--targets" in r.stderr and "5000" in r.stderr and sent == b"",
      f"bridge send --protocol feetech --targets 2048,5000: exit 2 naming --targets, nothing on the bus (rc {r.returncode}: {r.stderr.strip()})")

import glob
for prof in sorted(glob.glob("boards/*.yaml")):
    r = subprocess.run([args.reflex, "check", "--board", prof, "--offline"], capture_output=True, text=True)
    check(r.returncode == 0 and "all checks passed" in r.stdout, f"reflex check --offline {prof}")

print(f"loop e2e: {len(fails)} failure(s)")
sys.exit(1 if fails else 0)
