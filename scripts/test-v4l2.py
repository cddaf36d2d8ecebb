#!/usr/bin/env python3
"""`make test-v4l2`: the V4L2 capture code against a real kernel driver. Boots a stock Debian kernel under
qemu (TCG, no KVM needed) with the `vivid` virtual video driver loaded, runs `reflex capture` inside it, and
checks format negotiation (a size the driver adjusts, read back), mmap streaming, RGB24 conversion of YUYV
and of other formats (UYVY, RGB565), newest-frame semantics through the capture thread, and recovery after
the device disappears and comes back (vivid's platform device unbound and re-bound while capturing, as a USB
reset would).

Recipe: ../shared/reference/cross-and-firmware.md part C. Needs qemu-system-x86, busybox-static, kmod, cpio
and one linux-image-*-amd64 package (downloaded with apt-get download, cached in the work directory).

    python3 scripts/test-v4l2.py --reflex .build/debug/reflex [--work .build-v4l2]
"""
import argparse, glob, json, os, re, shutil, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("--reflex", required=True)
ap.add_argument("--work", default=".build-v4l2")
args = ap.parse_args()
W = os.path.abspath(args.work)
os.makedirs(W, exist_ok=True)

def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, text=True, capture_output=True, **kw).stdout

# 1. Kernel package (cached).
debs = sorted(glob.glob(f"{W}/linux-image-*.deb"))
if not debs:
    names = sh("apt-cache search --names-only '^linux-image-[0-9].*-amd64$'").split("\n")
    names = [n.split()[0] for n in names if n and not re.search(r"cloud|rt-amd64|dbg|unsigned", n.split()[0])]
    names.sort(key=lambda s: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", s)])
    print(f"test-v4l2: downloading {names[-1]}", flush=True)
    sh(f"cd {W} && apt-get download {names[-1]}")
    debs = sorted(glob.glob(f"{W}/linux-image-*.deb"))
deb = debs[-1]
K = f"{W}/kernel"
if not os.path.isdir(K):
    sh(f"dpkg-deb -x {deb} {K}")
kver = os.listdir(f"{K}/lib/modules")[0]
vmlinuz = glob.glob(f"{K}/boot/vmlinuz-*")[0]

# 2. initramfs: busybox, the media modules (decompressed), reflex and its shared libraries.
R = f"{W}/root"
shutil.rmtree(R, ignore_errors=True)
for d in ["bin", "proc", "sys", "dev", "tmp", "out"]:
    os.makedirs(f"{R}/{d}")
shutil.copy("/bin/busybox", f"{R}/bin/busybox")
for l in ["sh", "mount", "modprobe", "rmmod", "sleep", "poweroff", "echo", "cat", "ls", "insmod"]:
    os.symlink("busybox", f"{R}/bin/{l}")
mdir = f"{R}/lib/modules/{kver}"
os.makedirs(f"{mdir}/kernel/drivers")
shutil.copytree(f"{K}/lib/modules/{kver}/kernel/drivers/media", f"{mdir}/kernel/drivers/media")
for f in glob.glob(f"{K}/lib/modules/{kver}/modules.*"):
    if not f.endswith((".bin",)):
        shutil.copy(f, mdir)
sh(f"find {mdir} -name '*.ko.xz' -exec xz -d {{}} + ; find {mdir} -name '*.ko.zst' -exec zstd -q -d --rm {{}} + 2>/dev/null || true")
# modules.dep names the compressed files: rebuild it for what is in the initramfs.
sh(f"depmod -b {R} {kver}")
shutil.copy(args.reflex, f"{R}/bin/reflex")
for line in sh(f"ldd {args.reflex}").splitlines():
    m = re.search(r"=> (\S+)", line) or re.match(r"\s*(/\S+)", line)
    if m and os.path.exists(m.group(1)):
        dst = R + m.group(1)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(m.group(1), dst)
# libv4l2 loads its conversion plugins and libv4lconvert dynamically: bring the whole libv4l directory.
for d in glob.glob("/usr/lib/x86_64-linux-gnu/libv4l*"):
    os.makedirs(os.path.dirname(R + d), exist_ok=True)
    if os.path.isdir(d):
        shutil.copytree(d, R + d, dirs_exist_ok=True)
    elif not os.path.exists(R + d):
        shutil.copy(d, R + d)
cap = "/bin/reflex capture --device /dev/video0 --json"
init = f"""#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
export REFLEX_NO_BLAS_REEXEC=1 OPENBLAS_NUM_THREADS=1 REFLEX_THREADS=1
modprobe vivid n_devs=1 node_types=0x1 || echo "@@ modprobe failed"
sleep 1
echo "@@ begin yuyv"; {cap} --width 1001 --height 701 --format YUYV --fps 30 --frames 8; echo "@@ end $?"
echo "@@ begin uyvy"; {cap} --width 320 --height 240 --format UYVY --frames 5; echo "@@ end $?"
echo "@@ begin rgbp"; {cap} --width 320 --height 240 --format RGBP --frames 5; echo "@@ end $?"
echo "@@ begin newest"; {cap} --width 320 --height 240 --format YUYV --fps 30 --frames 5 --newest-interval-ms 200; echo "@@ end $?"
echo "@@ begin reconnect"
( sleep 2; echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind || echo "@@ unbind failed"; sleep 1; echo vivid.0 > /sys/bus/platform/drivers/vivid/bind || echo "@@ bind failed" ) &
{cap} --width 320 --height 240 --format YUYV --fps 30 --frames 40 --newest-interval-ms 150 --timeout-ms 60000; echo "@@ end $?"
echo "@@ begin missing"; /bin/reflex capture --device /dev/video9 --frames 1; echo "@@ end $?"
poweroff -f
"""
open(f"{R}/init", "w").write(init)
os.chmod(f"{R}/init", 0o755)
sh(f"cd {R} && find . | cpio -o -H newc 2>/dev/null | gzip -1 > {W}/initrd.gz")

# 3. Boot.
print(f"test-v4l2: booting {os.path.basename(vmlinuz)} with vivid under qemu", flush=True)
boot = subprocess.run(["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "1024", "-nographic",
                       "-no-reboot", "-kernel", vmlinuz, "-initrd", f"{W}/initrd.gz", "-append",
                       "console=ttyS0 quiet panic=-1 loglevel=3"], capture_output=True, text=True, timeout=600)
console = boot.stdout.replace("\r", "")
open(f"{W}/console.log", "w").write(console)
sections = dict(re.findall(r"@@ begin (\w+)\n(.*?)@@ end", console, re.S))
codes = dict(re.findall(r"@@ begin (\w+)\n.*?@@ end (\d+)", console, re.S))
fails = []

def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)

def result(name):
    m = re.search(r"^\{.*\}$", sections.get(name, ""), re.M)
    return json.loads(m.group(0)) if m else None

check("@@ modprobe failed" not in console, "vivid loaded")
y = result("yuyv")
check(y is not None and codes.get("yuyv") == "0", "capture YUYV exits 0 with a JSON report")
if y:
    g = y["granted"]
    check((g["width"], g["height"]) != (1001, 701) and g["width"] > 0, f"the driver adjusted 1001x701 and the granted size was read back ({g['width']}x{g['height']})")
    check(g["nativeFourCC"] == "YUYV" and y["frames"] == 8, "8 frames streamed from YUYV mmap buffers")
    check(all(b > a for a, b in zip(y["sequences"], y["sequences"][1:])), "sequence numbers increase")
    check(y["colorfulness"] > 40, f"RGB24 conversion gives vivid's colour bars (mean max-min channel spread {y['colorfulness']:.0f})")
for name, fourcc in [("uyvy", "UYVY"), ("rgbp", "RGBP")]:
    r = result(name)
    check(r is not None and r["granted"]["nativeFourCC"] == fourcc and r["frames"] == 5 and r["colorfulness"] > 40,
          f"{fourcc} negotiated and converted to RGB24")
n = result("newest")
check(n is not None and n["frames"] == 5 and any(b - a > 1 for a, b in zip(n["sequences"], n["sequences"][1:])),
      "the capture thread keeps only the newest frame (a slow reader skips sequence numbers)")
if n:
    check(n["frame_age_ms"]["max"] < 200, f"newest frame is fresh (max age {n['frame_age_ms']['max']:.0f} ms < 200)")
rc = result("reconnect")
check(rc is not None and rc["reconnects"] >= 1 and rc["frames"] == 40, f"capture resumes after the device vanished and came back (reconnects: {rc and rc['reconnects']})")
check(codes.get("missing") == "1" and "camera /dev/video9: cannot open" in sections.get("missing", ""), "a missing camera is a clean error (exit 1)")
print(f"test-v4l2: {len(fails)} failure(s); console log: {W}/console.log")
sys.exit(1 if fails else 0)
