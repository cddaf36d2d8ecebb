#!/usr/bin/env bash
# Installs a reflex .deb into a clean Debian root of its architecture with apt (Depends resolved from the
# mirror: proof that they are right and sufficient) and checks what the package promises:
#   reflex --version names the package's version and architecture and a real commit; the service user exists
#   (groups video, dialout) and owns /var/lib/reflex; the unit, profiles, model and conffiles are in place;
#   `reflex check --offline` passes on /usr/share/reflex/boards/raspberry-pi-5.yaml, and on sim.yaml and
#   /etc/reflex/board.yaml with their model actually loaded (relative and absolute model paths); dpkg --verify
#   is clean; remove keeps an edited conffile, purge removes /etc/reflex.
#
# Usage (root): packaging/deb/test-install.sh ARCH SUITE DEB [CACHE]
#   ARCH arm64 (programs run under qemu-aarch64-static: chroot through binfmt_misc, or proot) or amd64 (chroot).
#   SUITE the Debian suite the package was built for (arm64: trixie; amd64: the build host's, e.g. bookworm).
#   CACHE where the clean base root is kept (default .build-cross): <CACHE>/deb-root-ARCH-SUITE, made once by
#   debootstrap --variant=minbase (foreign arm64: --foreign, then the second stage under qemu)
#   and remade when older than 7 days (its package lists go stale). Each run installs into a fresh copy.
# Environment: REFLEX_CROSS_MIRROR (default http://deb.debian.org/debian), REFLEX_DEB_KEEP=1 keeps the copy.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
ARCH="${1:?ARCH (arm64 or amd64)}"; SUITE="${2:?SUITE (e.g. trixie)}"; DEB="$(realpath "${3:?the .deb}")"
CACHE="$(realpath -m "${4:-$ROOT/.build-cross}")"
MIRROR="${REFLEX_CROSS_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
BASE="$CACHE/deb-root-$ARCH-$SUITE"; W="$CACHE/deb-test-$ARCH-$SUITE"
T0=$(date +%s); TP=$T0
die() { echo "test-install: FAIL: $*" >&2; exit 1; }
step() { local now; now=$(date +%s); echo "   ($(( now - TP )) s)"; TP=$now; echo "== $*"; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot): run it as root or through sudo"
[ -f "$DEB" ] || die "$DEB not found"
case "$ARCH" in
    arm64) NATIVE=0; ARCHNAME=aarch64; QEMU=qemu-aarch64-static ;;
    amd64) NATIVE=1; ARCHNAME=x86_64 ;;
    *) die "ARCH must be arm64 or amd64" ;;
esac
missing=""
for p in debootstrap $([ $NATIVE = 0 ] && echo "proot qemu-user-static"); do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    echo "test-install: installing host packages:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
[ "$(dpkg-deb -f "$DEB" Architecture)" = "$ARCH" ] || die "$DEB is for $(dpkg-deb -f "$DEB" Architecture), not $ARCH"
VERSION="$(dpkg-deb -f "$DEB" Version)"

BINFMT=/proc/sys/fs/binfmt_misc; REGISTERED=0; EMU=chroot; MOUNTS=()
cleanup() {
    for m in "${MOUNTS[@]}"; do mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }; done; MOUNTS=()
    if [ "${REFLEX_DEB_KEEP:-0}" != 1 ]; then rm -rf "$W" "$W.apt.log"; fi
    if [ $REGISTERED = 1 ] && [ -e "$BINFMT/qemu-aarch64" ]; then echo -1 > "$BINFMT/qemu-aarch64" || true; fi; REGISTERED=0
}
trap cleanup EXIT
# How arm64 programs run in the root. chroot when the kernel runs aarch64 ELF files through qemu (binfmt_misc
# entry qemu-aarch64, as qemu-user-static registers it on a host with systemd-binfmt or binfmt-support). Without
# that entry (e.g. in a container without systemd) this script registers qemu-user-static's own definition
# (/usr/lib/binfmt.d/qemu-aarch64.conf) for its run and removes it at exit. Where binfmt_misc cannot be used at
# all: proot -q qemu-aarch64-static (no kernel support needed, but much slower: ptrace on every syscall).
if [ $NATIVE = 0 ]; then
    if [ ! -e "$BINFMT/qemu-aarch64" ]; then
        [ -e "$BINFMT/register" ] || mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null || true
        if [ -e "$BINFMT/register" ] && [ -r /usr/lib/binfmt.d/qemu-aarch64.conf ] &&
           grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf > "$BINFMT/register" 2>/dev/null; then
            REGISTERED=1; echo "test-install: registered qemu-aarch64 in binfmt_misc for this run"
        fi
    fi
    [ -e "$BINFMT/qemu-aarch64" ] || { EMU=proot; echo "test-install: no binfmt_misc: running arm64 programs through proot -q $QEMU"; }
fi
# Runs a command inside root $1 as root with a clean environment.
in_root() {
    local r="$1"; shift
    local envv=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
    if [ $EMU = chroot ]; then
        chroot "$r" "${envv[@]}" "$@"
    else
        proot -q "$QEMU" -r "$r" -b /dev -b /proc -b /sys -w / "${envv[@]}" "$@"
    fi
}
mount_root() {   # /proc and /dev for a chroot (proot binds them itself)
    [ $EMU = chroot ] || return 0
    mount -t proc proc "$1/proc"; MOUNTS=("$1/proc" "${MOUNTS[@]}")
    mount --bind /dev "$1/dev"; MOUNTS=("$1/dev" "${MOUNTS[@]}")
}
umount_root() {   # (debootstrap's second stage unmounts the root's /proc and /dev itself)
    for m in "${MOUNTS[@]}"; do if mountpoint -q "$m"; then umount "$m" || umount -l "$m"; fi; done; MOUNTS=()
}

# --- the clean base root (cached) ----------------------------------------------------------------------
if [ -e "$BASE/.reflex-ready" ] && [ -n "$(find "$BASE/.reflex-ready" -mtime +6)" ]; then
    echo "test-install: $BASE is older than 7 days (stale package lists): making it again"
    rm -f "$BASE/.reflex-ready"
fi
if [ ! -e "$BASE/.reflex-ready" ]; then
    echo "== clean $SUITE $ARCH root: debootstrap --variant=minbase into $BASE"
    rm -rf "$BASE"; mkdir -p "$CACHE"
    if [ $NATIVE = 1 ]; then
        debootstrap --variant=minbase --arch="$ARCH" --keyring="$KEYRING" "$SUITE" "$BASE" "$MIRROR" >"$CACHE/deb-root-$ARCH-$SUITE.log" 2>&1 ||
            die "debootstrap failed (log: $CACHE/deb-root-$ARCH-$SUITE.log)"
    else
        debootstrap --foreign --variant=minbase --arch="$ARCH" --keyring="$KEYRING" "$SUITE" "$BASE" "$MIRROR" \
            >"$CACHE/deb-root-$ARCH-$SUITE.log" 2>&1 || die "debootstrap (first stage) failed (log: $CACHE/deb-root-$ARCH-$SUITE.log)"
        step "debootstrap second stage under $QEMU ($EMU; several minutes)"
        mount_root "$BASE"
        in_root "$BASE" env DEBOOTSTRAP_DIR=/debootstrap /debootstrap/debootstrap --second-stage \
            >>"$CACHE/deb-root-$ARCH-$SUITE.log" 2>&1 || die "debootstrap --second-stage failed (log: $CACHE/deb-root-$ARCH-$SUITE.log)"
        umount_root
    fi
    # The lists debootstrap fetched (signatures checked by the host's gpgv) stay: apt in the copies resolves
    # Depends from them without an update (apt's sqv under qemu failed to verify InRelease here: exit 123).
    [ -s "$BASE/var/lib/apt/lists/"*"_dists_${SUITE}_main_binary-${ARCH}_Packages" ] || die "no package list in $BASE"
    touch "$BASE/.reflex-ready"
fi
for f in "$BASE"/usr/bin/reflex "$BASE"/etc/reflex; do [ ! -e "$f" ] || die "the base root is not clean: $f exists"; done

step "fresh copy of the base root -> $W"
rm -rf "$W"; cp -a "$BASE" "$W"; cp "$DEB" "$W/tmp/"
mount_root "$W"

step "apt-get install ./$(basename "$DEB") (Depends from the $SUITE mirror)"
in_root "$W" apt-get install -y -q --no-install-recommends "/tmp/$(basename "$DEB")" >"$W.apt.log" 2>&1 ||
    { tail -30 "$W.apt.log" >&2; die "apt-get install of $(basename "$DEB") failed (log above)"; }
grep -E '^(Setting up|Unpacking) ' "$W.apt.log" | awk '/^Setting up/{n++} END{print "   installed " n " packages"}'
in_root "$W" dpkg-query -W -f='${Status} ${Version}\n' reflex | grep -qx "install ok installed $VERSION" ||
    die "dpkg does not report reflex $VERSION as installed"

step "files, conffiles, user"
for f in /usr/bin/reflex /lib/systemd/system/reflex.service /usr/share/reflex/boards/raspberry-pi-5.yaml \
         /usr/share/reflex/boards/sim.yaml /usr/share/reflex/models/reflex-sim-tiny/model.safetensors \
         /etc/reflex/board.yaml /etc/reflex/reflex.env /usr/share/doc/reflex/README.md; do
    [ -e "$W$f" ] || die "$f is missing after install"
done
grep -qx 'ExecStart=/usr/bin/reflex run --board /etc/reflex/board.yaml' "$W/lib/systemd/system/reflex.service" ||
    die "the unit's ExecStart is not /usr/bin/reflex run --board /etc/reflex/board.yaml"
! grep -q '@[A-Z]*@' "$W/lib/systemd/system/reflex.service" || die "the unit still has @PLACEHOLDERS@"
conf="$(in_root "$W" dpkg-query -W -f='${Conffiles}\n' reflex | awk 'NF{print $1}' | sort | paste -sd' ')"
[ "$conf" = "/etc/reflex/board.yaml /etc/reflex/reflex.env" ] || die "conffiles are '$conf'"
ids="$(in_root "$W" id reflex)" || die "no user 'reflex' after install"
echo "   $ids"
for g in video dialout; do echo "$ids" | grep -q "($g)" || die "user reflex is not in group $g"; done
owner="$(in_root "$W" stat -c %U:%G /var/lib/reflex /var/lib/reflex/models | sort -u)"
[ "$owner" = reflex:reflex ] || die "/var/lib/reflex{,/models} are owned by '$owner', not reflex:reflex"
in_root "$W" dpkg --verify reflex || die "dpkg --verify reflex reports changed files"

step "reflex --version"
v="$(in_root "$W" /usr/bin/reflex --version)" || die "reflex --version failed"
echo "   $v"
case "$v" in
    "reflex $VERSION ($ARCHNAME, commit "*")") ;;
    *) die "reflex --version says '$v', expected 'reflex $VERSION ($ARCHNAME, commit …)'" ;;
esac
case "$v" in *"commit unknown)") die "the binary was built without a commit stamp" ;; esac

# check --offline; with a model that is installed, the model check must be "ok" (loaded, one prediction).
check() {   # PROFILE EXPECTED_MODEL_STATUS
    local out
    out="$(in_root "$W" /usr/bin/reflex check --board "$1" --offline --json)" || { echo "$out" >&2; die "reflex check --board $1 --offline failed"; }
    python3 - "$1" "$2" "$out" <<'PY' || exit 1
import json, sys
profile, want, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
items = {i["check"]: i for i in out["checks"]}
m = items.get("model")
if not m or m["status"] != want:
    sys.exit(f"test-install: FAIL: check --board {profile}: model {m}, expected status {want}")
print(f"   check --offline {profile}: model {m['status']}: {m['detail'][:90]}")
PY
}
step "reflex check --offline on the installed profiles"
in_root "$W" /usr/bin/reflex check --board /usr/share/reflex/boards/raspberry-pi-5.yaml --offline ||
    die "reflex check --board /usr/share/reflex/boards/raspberry-pi-5.yaml --offline failed"
check /usr/share/reflex/boards/raspberry-pi-5.yaml skipped
check /usr/share/reflex/boards/sim.yaml ok
check /etc/reflex/board.yaml ok

step "dpkg --remove keeps the (edited) conffiles; dpkg --purge removes /etc/reflex"
echo "REFLEX_LOG_LEVEL=debug" >> "$W/etc/reflex/reflex.env"
out="$(in_root "$W" dpkg --remove reflex 2>&1)" || { echo "$out" >&2; die "dpkg --remove reflex failed"; }
! echo "$out" | grep -i 'warning' >&2 || die "dpkg --remove reflex warned (above)"
[ ! -e "$W/usr/bin/reflex" ] || die "/usr/bin/reflex is still there after remove"
grep -q '^REFLEX_LOG_LEVEL=debug' "$W/etc/reflex/reflex.env" || die "remove did not keep the edited /etc/reflex/reflex.env"
out="$(in_root "$W" dpkg --purge reflex 2>&1)" || { echo "$out" >&2; die "dpkg --purge reflex failed"; }
! echo "$out" | grep -i 'warning' >&2 || die "dpkg --purge reflex warned (above)"
[ ! -e "$W/etc/reflex" ] || die "/etc/reflex is still there after purge"
in_root "$W" id reflex >/dev/null || die "purge removed the user (it should stay)"
step "done"
echo "test-install: reflex_${VERSION}_$ARCH.deb installs, runs and purges in a clean $SUITE $ARCH root ($(( $(date +%s) - T0 )) s)"
