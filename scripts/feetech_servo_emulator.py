#!/usr/bin/env python3
"""Feetech STS3215 servos on a serial line (a pty), for the end-to-end tests (scripts/loop_e2e.py: the
host's direct bus; scripts/hil.py: the firmware's servo bus under qemu). Written from the Feetech packet
description in docs (robot-io facts), independently of the Swift code.

Each servo has a 256-byte register file; positions are stored sign-magnitude (bit 15 = sign), as the STS
does. The servos behave as with Status_Return_Level 0 (the LeRobot setting): they answer PING, READ and
SYNC_READ and stay silent on WRITE / SYNC_WRITE. With Torque_Enable = 1, Present_Position follows
Goal_Position at once (an ideal servo). Every instruction packet received is recorded (and every byte, for
an independent decode of the bus); bad checksums are counted and never acted on.

    python3 scripts/feetech_servo_emulator.py --port /dev/pts/7 --positions 1=2048,2=1500,3=-16 [--record bus.bin]
    python3 scripts/feetech_servo_emulator.py --pty --positions 1=2048      # opens a pty, prints its path

As a module: FeetechServoEmulator(fd, {1: 2048, …}).start() … .stop(); .packets, .raw, .position(id).
"""
import argparse
import os
import select
import sys
import threading
import tty

PING, READ, WRITE, SYNC_READ, SYNC_WRITE = 0x01, 0x02, 0x03, 0x82, 0x83
TORQUE_ENABLE, GOAL_POSITION, PRESENT_POSITION = 40, 42, 56
BROADCAST = 0xFE


def checksum(body) -> int:
    return (~sum(body)) & 0xFF


def encode_position(p: int) -> bytes:
    raw = (0x8000 | min(-p, 0x7FFF)) if p < 0 else min(p, 0x7FFF)
    return bytes([raw & 0xFF, raw >> 8])


def decode_position(lo: int, hi: int) -> int:
    raw = lo | hi << 8
    return -(raw & 0x7FFF) if raw & 0x8000 else raw


class FeetechServoEmulator:
    def __init__(self, fd, positions, silent=(), record=None):
        self.fd = fd
        self.regs = {}
        for sid, p in positions.items():
            r = bytearray(256)
            r[PRESENT_POSITION:PRESENT_POSITION + 2] = encode_position(p)
            r[GOAL_POSITION:GOAL_POSITION + 2] = encode_position(p)
            self.regs[sid] = r
        self.silent = set(silent)
        self.record = record
        self.packets = []        # (id, instruction, params bytes), in order received
        self.raw = bytearray()   # every byte received
        self.replies = bytearray()
        self.bad_checksums = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._pending = bytearray()

    # -- state ------------------------------------------------------------------------------------
    def position(self, sid):
        with self.lock:
            r = self.regs[sid]
            return decode_position(r[PRESENT_POSITION], r[PRESENT_POSITION + 1])

    def torque(self, sid):
        with self.lock:
            return self.regs[sid][TORQUE_ENABLE] == 1

    def set_position(self, sid, p):
        with self.lock:
            self.regs[sid][PRESENT_POSITION:PRESENT_POSITION + 2] = encode_position(p)

    # -- serving ----------------------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops after draining what is already readable; returns the bytes received."""
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        return bytes(self.raw)

    def _serve(self):
        while True:
            ready = select.select([self.fd], [], [], 0.02)[0]
            if not ready:
                if self._stop.is_set():
                    return
                continue
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                if self._stop.is_set():
                    return
                continue
            if not data:
                continue
            with self.lock:
                self.raw += data
                if self.record:
                    with open(self.record, "ab") as f:
                        f.write(data)
                self._pending += data
                out = bytearray()
                for pkt in self._take():
                    self.packets.append(pkt)
                    out += self._handle(*pkt)
            if out:
                self.replies += out
                os.write(self.fd, bytes(out))

    def _take(self):
        buf = self._pending
        while True:
            i = buf.find(b"\xff\xff")
            if i < 0:
                del buf[:max(len(buf) - 1, 0)]
                return
            del buf[:i]
            if len(buf) < 4:
                return
            if buf[2] == 0xFF:
                del buf[:1]
                continue
            ln = buf[3]
            if ln < 2:
                del buf[:2]
                continue
            if len(buf) < 4 + ln:
                return
            body = bytes(buf[2:3 + ln])
            if checksum(body) != buf[3 + ln]:
                self.bad_checksums += 1
                del buf[:2]
                continue
            del buf[:4 + ln]
            yield body[0], body[2], body[3:]

    def _status(self, sid, data):
        body = bytes([sid, len(data) + 2, 0]) + bytes(data)
        return b"\xff\xff" + body + bytes([checksum(body)])

    def _read(self, sid, addr, n):
        if sid not in self.regs or sid in self.silent or addr + n > 256:
            return b""
        return self._status(sid, self.regs[sid][addr:addr + n])

    def _write(self, sid, addr, data):
        for t in (list(self.regs) if sid == BROADCAST else [sid]):
            if t not in self.regs or addr + len(data) > 256:
                continue
            r = self.regs[t]
            r[addr:addr + len(data)] = data
            if r[TORQUE_ENABLE] == 1:
                r[PRESENT_POSITION:PRESENT_POSITION + 2] = r[GOAL_POSITION:GOAL_POSITION + 2]

    def _handle(self, sid, instr, params):
        if instr == PING:
            return self._status(sid, b"") if sid in self.regs and sid not in self.silent else b""
        if instr == READ and len(params) == 2:
            return self._read(sid, params[0], params[1])
        if instr == SYNC_READ and len(params) >= 3:
            return b"".join(self._read(i, params[0], params[1]) for i in params[2:])
        if instr == WRITE and len(params) >= 2:
            self._write(sid, params[0], params[1:])
        elif instr == SYNC_WRITE and len(params) >= 2:
            addr, n = params[0], params[1]
            k = 2
            while n and k + 1 + n <= len(params):
                self._write(params[k], addr, params[k + 1:k + 1 + n])
                k += 1 + n
        return b""


def parse_positions(text):
    out = {}
    for item in text.split(","):
        sid, p = item.split("=")
        out[int(sid)] = int(p)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--port", help="serial device / pty to serve on")
    g.add_argument("--pty", action="store_true", help="open a new pty and print the device the host should use")
    ap.add_argument("--positions", required=True, help="ID=POSITION,… (servo units, may be negative)")
    ap.add_argument("--silent", default="", help="IDs that never answer, comma-separated")
    ap.add_argument("--record", help="append every received byte to this file")
    a = ap.parse_args()
    if a.pty:
        import pty as ptymod
        fd, slave = ptymod.openpty()
        tty.setraw(slave)
        print(os.ttyname(slave), flush=True)
    else:
        fd = os.open(a.port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
    silent = [int(x) for x in a.silent.split(",") if x]
    emu = FeetechServoEmulator(fd, parse_positions(a.positions), silent, a.record).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emu.stop()
        print(f"{len(emu.packets)} packets, {emu.bad_checksums} bad checksums", file=sys.stderr)


if __name__ == "__main__":
    main()
