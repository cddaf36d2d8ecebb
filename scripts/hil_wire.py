#!/usr/bin/env python3
"""Independent Python implementation of the Reflex bridge wire format and of the Feetech STS bus,
used by the hardware-in-the-loop test (scripts/hil.py) and to generate firmware-bridge/vectors.txt.
Written from firmware-bridge/PROTOCOL.md and the Feetech packet description, not from the Swift code,
so the Swift encoder/decoder and the firmware are checked against a second implementation.

    python3 scripts/hil_wire.py --vectors > firmware-bridge/vectors.txt
"""
import struct
import sys

VERSION = 2
T = dict(heartbeat=0x01, status_request=0x02, configure=0x10, torque=0x11, targets=0x12, hold=0x13,
         estop=0x14, status=0x80, ack=0x81, nack=0x82)


def crc16_ccitt_false(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def cobs_encode(data: bytes) -> bytes:
    out = bytearray([0])
    code_at, code = 0, 1
    for b in data:
        if b == 0:
            out[code_at] = code
            code_at, code = len(out), 1
            out.append(0)
        else:
            out.append(b)
            code += 1
            if code == 0xFF:
                out[code_at] = code
                code_at, code = len(out), 1
                out.append(0)
    out[code_at] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(data):
        code = data[i]
        if code == 0 or i + code > len(data):
            raise ValueError("bad COBS")
        out += data[i + 1:i + code]
        i += code
        if code != 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


def raw_frame(mtype: int, seq: int, body: bytes) -> bytes:
    head = bytes([VERSION, mtype, seq]) + body
    return head + struct.pack("<H", crc16_ccitt_false(head))


def wire_frame(mtype: int, seq: int, body: bytes) -> bytes:
    return cobs_encode(raw_frame(mtype, seq, body)) + b"\x00"


def configure_body(ids, lo, hi, watchdog_ms=500, action=0, delay_ms=1000) -> bytes:
    n = len(ids)
    return (bytes([n]) + bytes(ids) + struct.pack(f"<{n}H", *lo) + struct.pack(f"<{n}H", *hi)
            + struct.pack("<HBH", watchdog_ms, action, delay_ms))


def targets_body(pos) -> bytes:
    return bytes([len(pos)]) + struct.pack(f"<{len(pos)}H", *pos)


STATUS_FIELDS = ("flags watchdog fw_major fw_minor fw_patch uptime_ms feed_age_ms last_rx_seq rx_frames "
                 "crc_errors bad_frames oversize nacks seq_gaps watchdog_trips clamped_targets").split()
STATUS_FMT = "<BBBBBIIBIIIIIIII"


def status_body(applied, measured=(), measured_mask=0, measured_age_ms=0xFFFF, **f) -> bytes:
    """Version 2: ... applied, then measured_age_ms (u16), measured_mask (u16), m, measured[m] (i16)."""
    vals = [f.get(k, 0) for k in STATUS_FIELDS]
    return (struct.pack(STATUS_FMT, *vals) + bytes([len(applied)]) + struct.pack(f"<{len(applied)}H", *applied)
            + struct.pack("<HHB", measured_age_ms, measured_mask, len(measured))
            + struct.pack(f"<{len(measured)}h", *measured))


def parse_frame(raw: bytes):
    """(type, seq, fields) of an un-stuffed frame, or raises ValueError."""
    if len(raw) < 5 or crc16_ccitt_false(raw[:-2]) != struct.unpack("<H", raw[-2:])[0]:
        raise ValueError("crc")
    if raw[0] != VERSION:
        raise ValueError("version")
    mtype, seq, body = raw[1], raw[2], raw[3:-2]
    if mtype == T["status"]:
        n0 = struct.calcsize(STATUS_FMT)
        f = dict(zip(STATUS_FIELDS, struct.unpack(STATUS_FMT, body[:n0])))
        n = body[n0]
        f["applied"] = list(struct.unpack(f"<{n}H", body[n0 + 1:n0 + 1 + 2 * n]))
        k = n0 + 1 + 2 * n
        f["measured_age_ms"], f["measured_mask"], m = struct.unpack("<HHB", body[k:k + 5])
        if len(body) != k + 5 + 2 * m:
            raise ValueError("status length")
        f["measured"] = list(struct.unpack(f"<{m}h", body[k + 5:]))
        f["positions_measured"] = bool(f["flags"] & 0x10)
        return mtype, seq, f
    if mtype in (T["ack"], T["nack"]):
        return mtype, seq, dict(type=body[0], seq=body[1], detail=body[2])
    return mtype, seq, dict(body=body)


# ---- Feetech STS ----------------------------------------------------------------------------------

def feetech_packet(sid: int, instr: int, params: bytes) -> bytes:
    ln = len(params) + 2
    chk = (~(sid + ln + instr + sum(params))) & 0xFF
    return bytes([0xFF, 0xFF, sid, ln, instr]) + params + bytes([chk])


def feetech_status(sid: int, error: int, data: bytes) -> bytes:
    """A servo's status packet: FF FF ID LEN ERR DATA CHK (same checksum rule, ERR where INSTR was)."""
    return feetech_packet(sid, error, data)


def sign_magnitude(value: int) -> bytes:
    """STS position register encoding: bit 15 is the sign, little-endian."""
    return struct.pack("<H", (0x8000 | -value) if value < 0 else value)


def feetech_decode(data: bytes):
    """Splits a servo-bus byte stream into packets: list of dicts, and a count of bytes that were not
    part of any valid packet (must be 0 for a clean bus)."""
    out, i, junk = [], 0, 0
    while i < len(data):
        if data[i:i + 2] != b"\xff\xff" or i + 4 > len(data):
            junk += 1
            i += 1
            continue
        sid, ln = data[i + 2], data[i + 3]
        end = i + 4 + ln
        if ln < 2 or end > len(data):
            junk += 1
            i += 1
            continue
        instr, params, chk = data[i + 4], data[i + 5:end - 1], data[end - 1]
        if (~(sid + ln + instr + sum(params))) & 0xFF != chk:
            junk += 1
            i += 1
            continue
        p = dict(id=sid, instr=instr, params=bytes(params))
        if instr == 0x03 and len(params) >= 2:          # WRITE addr data…
            p["kind"] = "write"
            p["addr"], p["data"] = params[0], bytes(params[1:])
        elif instr == 0x83 and len(params) >= 2:        # SYNC_WRITE addr len {id data}…
            addr, dl = params[0], params[1]
            rest = params[2:]
            if dl == 0 or len(rest) % (dl + 1) != 0 or ln != (dl + 1) * (len(rest) // (dl + 1)) + 4:
                junk += end - i
                i = end
                continue
            p["kind"] = "sync_write"
            p["addr"] = addr
            p["items"] = [(rest[k], bytes(rest[k + 1:k + 1 + dl])) for k in range(0, len(rest), dl + 1)]
        elif instr == 0x82 and len(params) >= 3:        # SYNC_READ addr len id…
            p["kind"] = "sync_read"
            p["addr"], p["len"], p["ids"] = params[0], params[1], list(params[2:])
        elif instr == 0x02 and len(params) == 2:        # READ addr len
            p["kind"] = "read"
            p["addr"], p["len"] = params[0], params[1]
        elif instr == 0x01 and len(params) == 0:
            p["kind"] = "ping"
        else:
            p["kind"] = "other"
        out.append(p)
        i = end
    return out, junk


# ---- golden vectors ---------------------------------------------------------------------------------

def vectors():
    lines = ["# Reflex bridge protocol golden vectors, generated by scripts/hil_wire.py (an independent",
             "# Python implementation); checked by Tests/BridgeProtocolTests and firmware-bridge/Tests.",
             "# crc   NAME INPUT CRC16           CRC-16/CCITT-FALSE of INPUT",
             "# cobs  NAME INPUT ENCODED         COBS encoding (no delimiter)",
             "# frame NAME RAW WIRE              RAW = version type seq body crc16-le; WIRE = COBS(RAW) 00",
             "# servo NAME BYTES                 Feetech STS packet",
             "# Hex, lower case, no spaces; '-' is the empty input. The meaning of each frame is in PROTOCOL.md (section Vectors)."]
    def h(data):
        return data.hex() or "-"
    def crc(name, data):
        lines.append(f"crc {name} {h(data)} {crc16_ccitt_false(data):04x}")
    def cobs(name, data):
        lines.append(f"cobs {name} {h(data)} {cobs_encode(data).hex()}")
    def frame(name, mtype, seq, body):
        lines.append(f"frame {name} {raw_frame(T[mtype], seq, body).hex()} {wire_frame(T[mtype], seq, body).hex()}")
    def servo(name, data):
        lines.append(f"servo {name} {data.hex()}")
    crc("check", b"123456789")
    crc("empty", b"")
    crc("zeros", bytes(4))
    cobs("empty", b"")
    cobs("zero", b"\x00")
    cobs("zeros2", b"\x00\x00")
    cobs("mixed", bytes([0x11, 0x22, 0x00, 0x33]))
    cobs("run254", bytes(range(1, 255)))
    cobs("run255", bytes(range(1, 256)))
    frame("heartbeat", "heartbeat", 0, b"")
    frame("status_request", "status_request", 1, b"")
    frame("configure3", "configure", 2, configure_body([1, 2, 3], [0, 500, 1000], [4095, 3500, 3000]))
    frame("torque_on", "torque", 3, b"\x01")
    frame("torque_off", "torque", 4, b"\x00")
    frame("targets3", "targets", 5, targets_body([2048, 1000, 3000]))
    frame("hold", "hold", 6, b"")
    frame("estop", "estop", 7, b"")
    frame("targets_zero_bytes", "targets", 0, targets_body([0, 256]))
    frame("status3", "status", 9, status_body([2048, 1000, 3000], flags=0x13, watchdog=1, fw_major=2,
                                              uptime_ms=123456, feed_age_ms=20, last_rx_seq=5, rx_frames=42,
                                              crc_errors=1, bad_frames=2, nacks=3, seq_gaps=4,
                                              watchdog_trips=5, clamped_targets=6,
                                              measured=[2040, 1010, 2990], measured_mask=0b111, measured_age_ms=30))
    frame("status_unmeasured", "status", 12, status_body([], flags=1, watchdog=0, fw_major=2, uptime_ms=5000,
                                                         feed_age_ms=5000, last_rx_seq=2, rx_frames=3,
                                                         measured=[2048, 0, -5], measured_mask=0b101,
                                                         measured_age_ms=60))
    frame("ack_targets", "ack", 10, bytes([T["targets"], 5, 1]))
    frame("nack_tripped", "nack", 11, bytes([T["targets"], 5, 8]))
    frame("nack_out_of_limits", "nack", 13, bytes([T["torque"], 3, 11]))
    servo("torque_on_id1", feetech_packet(1, 0x03, bytes([40, 1])))
    servo("torque_off_id3", feetech_packet(3, 0x03, bytes([40, 0])))
    servo("torque_off_broadcast", feetech_packet(0xFE, 0x03, bytes([40, 0])))
    servo("goal_2048_id1_write", feetech_packet(1, 0x03, bytes([42, 0x00, 0x08])))
    servo("sync_goal3", feetech_packet(0xFE, 0x83, bytes([42, 2, 1, 0x00, 0x08, 2, 0xE8, 0x03, 3, 0xB8, 0x0B])))
    servo("sync_read3", feetech_packet(0xFE, 0x82, bytes([56, 2, 1, 2, 3])))
    servo("read_position_id2", feetech_packet(2, 0x02, bytes([56, 2])))
    servo("reply_position_id1_2040", feetech_status(1, 0, sign_magnitude(2040)))
    servo("reply_position_id2_1010", feetech_status(2, 0, sign_magnitude(1010)))
    servo("reply_position_id3_2990", feetech_status(3, 0, sign_magnitude(2990)))
    servo("reply_position_id3_minus5", feetech_status(3, 0, sign_magnitude(-5)))
    servo("reply_position_id2_3900", feetech_status(2, 0, sign_magnitude(3900)))
    servo("reply_ping_id1", feetech_status(1, 0, b""))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if "--vectors" in sys.argv:
        sys.stdout.write(vectors())
    else:
        print(__doc__)
