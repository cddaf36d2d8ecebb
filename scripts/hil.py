#!/usr/bin/env python3
"""Hardware in the loop: the real firmware ELF under qemu-system-arm (netduinoplus2, STM32F405),
USART1 on a pseudo-terminal driven by the real host code (`reflex bridge …`), USART2 (the servo bus) on
a second pseudo-terminal where emulated STS3215 servos answer (scripts/feetech_servo_emulator.py); every
byte the firmware puts on the servo bus is recorded and decoded with an independent Feetech decoder
(scripts/hil_wire.py).

    python3 scripts/hil.py --reflex .build-fw/debug/reflex --elf .build-firmware/reflex-fw.elf

Asserts: starts safe (nothing on the bus before configure), the pose is read (SYNC_READ of
Present_Position) after configure and reported in STATUS, torque goes on only from that pose (goals set
to it first), goal positions arrive as exact SYNC_WRITE frames (clamped to the configured limits), status
reports arrive at 10 Hz, a corrupted frame and an oversize run are rejected and counted, the watchdog
holds within its window when the host goes silent and cuts torque after the delay, the pose is read
again with torque off, an arm moved outside its limits keeps torque off (NACK), streaming resumes after
re-enable. Prints the host→firmware→status round trip and the watchdog timings. Exit 0 only if every
check passed.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hil_wire as W  # noqa: E402
from feetech_servo_emulator import FeetechServoEmulator  # noqa: E402

WINDOW_MS, DELAY_MS, STATUS_MS = 500, 1000, 100
failures = []


def check(ok, what):
    print(("  ok   " if ok else "  FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reflex", required=True)
    ap.add_argument("--elf", required=True)
    ap.add_argument("--out", default=".build-firmware/hil")
    ap.add_argument("--json-out", help="write the measured figures here")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    servo_path = os.path.join(a.out, "servo.bin")
    if os.path.exists(servo_path):
        os.remove(servo_path)
    t_start = time.monotonic()
    qemu = subprocess.Popen(
        ["qemu-system-arm", "-M", "netduinoplus2", "-nographic", "-kernel", a.elf, "-monitor", "none",
         "-serial", "pty", "-serial", "pty"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pty = None
    servos = None
    try:
        ptys = []
        while len(ptys) < 2:
            line = qemu.stdout.readline()
            m = re.search(r"(/dev/pts/\d+)", line)
            if not m:
                print("hil: qemu did not report two ptys:", line, qemu.stdout.read() if qemu.poll() is not None else "")
                return 1
            ptys.append(m.group(1))
        pty, servo_pty = ptys
        print(f"hil: qemu {a.elf} USART1 on {pty}, USART2 (servo bus) on {servo_pty} → emulated servos, recorded to {servo_path}")
        # Keep the pty's slave side open for the whole run so qemu sees one continuous connection
        # (it drops the link on hang-up); raw, so the line discipline never echoes.
        holder = os.open(pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(holder)
        bus = os.open(servo_pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(bus)
        # The arm at rest, torque off, away from the centre but inside the limits (500…3500).
        servos = FeetechServoEmulator(bus, START, record=servo_path).start()
        return run(a, pty, holder, servos, t_start)
    finally:
        if servos:
            servos.stop()
        qemu.terminate()
        try:
            qemu.wait(5)
        except subprocess.TimeoutExpired:
            qemu.kill()


START = {1: 600, 2: 2000, 3: 3400}


def reflex(a, pty, *args, expect_rc=0):
    cmd = [a.reflex, "bridge", *args, "--port", pty, "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if p.returncode != expect_rc:
        print(f"hil: {' '.join(cmd)} exited {p.returncode}\n{p.stderr}", flush=True)
        raise SystemExit(1)
    return json.loads(p.stdout) if expect_rc == 0 else p.stderr


def servo_packets(servos):
    with servos.lock:
        return W.feetech_decode(bytes(servos.raw))


def torque_writes(ids, on):
    return [("write", i, 40, bytes([1 if on else 0])) for i in ids]


def goal(ids, pos):
    return [("sync", 42, tuple((i, p.to_bytes(2, "little")) for i, p in zip(ids, pos)))]


def summarize(pkts):
    out = []
    for p in pkts:
        if p["kind"] == "write":
            out.append(("write", p["id"], p["addr"], p["data"]))
        elif p["kind"] == "sync_write":
            out.append(("sync", p["addr"], tuple(p["items"])))
        elif p["kind"] == "sync_read":
            out.append(("read", p["addr"], p["len"], tuple(p["ids"])))
        else:
            out.append(("other", p["id"], p["instr"]))
    return out


def run(a, pty, holder, servos, t_start):
    ids = [1, 2, 3]
    lo, hi = 500, 3500
    expected = []  # servo-bus packets, in order

    print("hil: 1. boot state")
    p = reflex(a, pty, "ping", "--count", "10")
    st = p["status"]
    check(st["firmware_version"] == "2.0.0", f"firmware version 2.0.0 (got {st['firmware_version']})")
    check(not st["configured"] and not st["torque_enabled"] and st["watchdog"] == "disarmed",
          "starts unconfigured, torque off, watchdog disarmed")
    check(not st["positions_measured"] and st["measured"] == [], "no pose before configure")
    check(servo_packets(servos) == ([], 0), "nothing on the servo bus before configure")
    rtt_boot = p["rtt_ms"]

    print("hil: 2. configure, enable, stream targets")
    sets = [[2048, 1000, 3000], [3900, 100, 2000], [1024, 2048, 3072]]
    acked_at = None
    last = None
    for i, t in enumerate(sets):
        extra = ["--ids", "1,2,3", "--limits", f"{lo}:{hi}"] if i == 0 else []
        r = reflex(a, pty, "send", "--targets", ",".join(map(str, t)), *extra)
        if i == 0:
            check(r["configured"] and r["enabled"], "first send configured the controller and enabled torque")
            check(r["status"]["positions_measured"] and r["status"]["measured"] == [START[j] for j in ids],
                  f"STATUS carries the pose measured before torque on ({r['status']['measured']})")
        if r["enabled"]:  # goals = the measured pose (where the servos are), then torque on
            expected += goal(ids, [START[j] for j in ids] if i == 0 else last) + torque_writes(ids, True)
        clamped = [min(max(v, lo), hi) for v in t]
        expected += goal(ids, clamped)
        last = clamped
        check(r["status"]["applied"] == clamped, f"status reports applied {clamped}")
        check(r["clamped"] == sum(v != c for v, c in zip(t, clamped)), f"ack reports {r['clamped']} clamped")
        acked_at = r["acked_at"]
    r = reflex(a, pty, "send", "--targets", "1500,1600,1700", "--count", "10", "--interval-ms", "30")
    if r["enabled"]:
        expected += goal(ids, last) + torque_writes(ids, True)
    expected += goal(ids, [1500, 1600, 1700]) * 10
    acked_at = r["acked_at"]
    check(r["status"]["torque_enabled"] and r["status"]["watchdog"] == "armed", "armed while streaming")
    pkts = summarize(servo_packets(servos)[0])
    reads = [p for p in pkts if p[0] == "read"]
    first_write = next((k for k, p in enumerate(pkts) if p[0] != "read"), len(pkts))
    check(len(reads) >= 1 and pkts[0] == ("read", 56, 2, (1, 2, 3)) and first_write > 0,
          f"after configure the firmware read the pose first: SYNC_READ Present_Position (56, 2 bytes) of 1, 2, 3 ({len(reads)} reads)")
    check(pkts[first_write] == expected[0], f"then goals = the measured pose {[START[i] for i in ids]}, before torque on")
    torque_on_at = first_write + 1
    check(all(p[0] != "read" for p in pkts[torque_on_at:]), "no reads while torque is on (the bus carries the goals)")
    check(servos.torque(1) and servos.position(1) == 1500, "the emulated servos follow: torque on, servo 1 at the last goal")

    print("hil: 3. watchdog: the host goes silent")
    mon = reflex(a, pty, "monitor", "--duration", "2.2")
    sts = mon["statuses"]
    check(len(sts) >= 18, f"periodic status reports arrive ({len(sts)} in 2.2 s)")
    ups = [s["uptime_ms"] for s in sts]
    gaps = [b - a_ for a_, b in zip(ups, ups[1:])]
    # Under emulation on a shared host the firmware's poll loop can run a few ms late; the schedule
    # is drift-free, so gaps stay near the period and a lost report would show as a ~200 ms gap.
    check(all(STATUS_MS - 10 <= g <= STATUS_MS + 10 for g in gaps)
          and abs((ups[-1] - ups[0]) / max(len(gaps), 1) - STATUS_MS) <= 2,
          f"status every {STATUS_MS} ms of firmware time (gaps {min(gaps)}–{max(gaps)} ms), none lost")
    hold = next((s for s in sts if s["watchdog"] == "holding"), None)
    off = next((s for s in sts if s["watchdog"] == "torque_off"), None)
    trip_ms = off_ms = None
    if check(hold is not None and off is not None, "watchdog went holding, then torque_off"):
        trip_ms = (hold["t"] - acked_at) * 1000
        off_ms = (off["t"] - acked_at) * 1000
        check(WINDOW_MS < hold["feed_age_ms"] <= WINDOW_MS + STATUS_MS,
              f"first holding report {hold['feed_age_ms']} ms after the last feed (firmware clock)")
        check(WINDOW_MS <= trip_ms <= WINDOW_MS + STATUS_MS + 50,
              f"hold seen by the host {trip_ms:.0f} ms after the last ack (window {WINDOW_MS} + one status period {STATUS_MS} + 50 ms link slack)")
        check(WINDOW_MS + DELAY_MS < off["feed_age_ms"] <= WINDOW_MS + DELAY_MS + STATUS_MS,
              f"first torque_off report {off['feed_age_ms']} ms after the last feed")
        check(off["watchdog_trips"] == hold["watchdog_trips"] >= 1 and not off["torque_enabled"], "torque reported off")
    expected += goal(ids, [1500, 1600, 1700])  # hold: the last applied goal again
    expected += torque_writes(ids, False)
    time.sleep(0.3)
    st = reflex(a, pty, "ping", "--count", "1")["status"]
    check(st["positions_measured"] and st["measured"] == [1500, 1600, 1700] and st["measured_age_ms"] <= 200,
          f"torque off: the pose is read again ({st['measured']}, {st['measured_age_ms']} ms old)")

    print("hil: 4. corrupted frame and oversize run")
    before = reflex(a, pty, "ping", "--count", "1")["status"]
    vec = {l.split()[1]: l.split() for l in open(os.path.join(os.path.dirname(__file__), "../firmware-bridge/vectors.txt"))
           if l.startswith("frame ")}
    bad = bytearray(bytes.fromhex(vec["heartbeat"][3]))
    bad[4] ^= 0x04  # a CRC byte (index 4 of 03 01 01 03 9d c8 00 is not a COBS code byte)
    os.write(holder, b"\x00" + bytes(bad) + b"\x55" * 200 + b"\x00")
    time.sleep(0.2)
    after = reflex(a, pty, "ping", "--count", "1")["status"]
    check(after["crc_errors"] == before["crc_errors"] + 1, f"CRC errors {before['crc_errors']} → {after['crc_errors']}")
    check(after["oversize"] == before["oversize"] + 1, f"oversize {before['oversize']} → {after['oversize']}")
    check(after["bad_frames"] == before["bad_frames"], "no other frame errors")
    check(after["watchdog"] == "torque_off" and after["applied"] == [1500, 1600, 1700], "corrupt input changed nothing")

    print("hil: 5. the arm is moved outside its limits while torque is off")
    servos.set_position(2, 3900)  # limits 500…3500
    time.sleep(0.3)
    st = reflex(a, pty, "ping", "--count", "1")["status"]
    check(st["measured"] == [1500, 3900, 1700], f"STATUS reports the moved joint ({st['measured']})")
    err = reflex(a, pty, "send", "--targets", "2000,2100,2200", expect_rc=1)
    check("refused" in err and "positionOutOfLimits" in err, f"torque refused by the firmware: {err.strip().splitlines()[-1:]}")
    check(not servos.torque(2), "torque stays off")
    servos.set_position(2, 2150)  # moved back by hand
    time.sleep(0.3)

    print("hil: 6. re-enable and stream again")
    r = reflex(a, pty, "send", "--targets", "2000,2100,2200")
    check(r["enabled"] and not r["configured"], "send re-enabled torque without reconfiguring")
    check(r["status"]["watchdog"] == "armed" and r["status"]["applied"] == [2000, 2100, 2200], "streaming resumed")
    expected += goal(ids, [1500, 2150, 1700]) + torque_writes(ids, True) + goal(ids, [2000, 2100, 2200])

    print("hil: 7. round trip")
    p = reflex(a, pty, "ping", "--count", "50")
    rtt = p["rtt_ms"]

    print("hil: 8. the servo bus, decoded independently")
    pkts, junk = servo_packets(servos)
    all_pkts = summarize(pkts)
    got = [p for p in all_pkts if p[0] != "read"]
    reads = [p for p in all_pkts if p[0] == "read"]
    check(junk == 0, f"servo bus: {len(pkts)} valid Feetech packets, {junk} stray bytes")
    check(all(p == ("read", 56, 2, (1, 2, 3)) for p in reads) and len(reads) >= 5,
          f"{len(reads)} position reads, each SYNC_READ Present_Position (56, 2 bytes) of 1, 2, 3")
    check(servos.bad_checksums == 0 and len(servos.packets) == len(pkts), "the emulated servos saw the same packets, none corrupt")
    # The host goes silent after phase 7's pings: if they and this read take longer than the watchdog
    # window (a loaded machine), the firmware's watchdog legitimately holds (re-sends the last goals) and
    # later cuts torque. Only those may follow the expected packets.
    tail = got[len(expected):]
    watchdog_tail = goal(ids, [2000, 2100, 2200]) + torque_writes(ids, False)
    check(all(p in watchdog_tail for p in tail),
          f"after the expected packets only the watchdog's hold and torque-off ({len(tail)} packets: {tail[:4]})")
    got = got[:len(expected)]
    if not check(got == expected, f"servo bus carries exactly the {len(expected)} expected packets in order"):
        for i, (g, e) in enumerate(zip(got + [None] * len(expected), expected + [None] * len(got))):
            if g != e:
                print(f"    first difference at packet {i}: got {g}, expected {e}")
                break
    syncs = [p for p in pkts if p["kind"] == "sync_write"]
    check(all(p["addr"] == 42 and p["id"] == 0xFE and p["instr"] == 0x83 for p in syncs),
          f"{len(syncs)} SYNC_WRITEs: broadcast, instruction 0x83, Goal_Position (42), 2 bytes each")

    figures = {
        "rtt_ms": {k: round(rtt[k], 3) for k in ("min", "median", "max")},
        "rtt_first_connect_ms": round(rtt_boot["max"], 3),
        "watchdog_hold_after_ms": round(trip_ms, 1) if trip_ms else None,
        "watchdog_torque_off_after_ms": round(off_ms, 1) if off_ms else None,
        "servo_packets": len(pkts),
        "position_reads": len(reads),
        "seconds": round(time.monotonic() - t_start, 1),
    }
    print(f"hil: round trip host→firmware→status under qemu: min {rtt['min']:.2f} ms, median {rtt['median']:.2f} ms, "
          f"max {rtt['max']:.2f} ms (50 pings)")
    if trip_ms:
        print(f"hil: watchdog: hold seen {trip_ms:.0f} ms and torque off {off_ms:.0f} ms after the last ack "
              f"(window {WINDOW_MS} ms, delay {DELAY_MS} ms, status period {STATUS_MS} ms)")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(figures, f, indent=1)
    print(f"hil: {'PASS' if not failures else 'FAIL (' + str(len(failures)) + ')'} in {figures['seconds']} s")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
