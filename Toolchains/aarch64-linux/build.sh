#!/usr/bin/env bash
# Builds the whole `reflex` executable (Foundation, ArgumentParser, Yams, swift-log, OpenBLAS, libv4l2,
# libpng, libjpeg, giflib, FFmpeg) for aarch64-unknown-linux-gnu with the Swift runtime linked statically,
# from a cold machine, and runs `reflex --version` under qemu-aarch64-static. See README.md next to it.
#
# Road: Debian sid's own Swift compiler (amd64 `swiftlang`) in a sid amd64 root made by mmdebstrap,
# cross-compiling against an arm64 sysroot made from sid's arm64 packages plus sid's arm64 `swiftlang`
# runtime. Both swiftlang builds must be the same version (binary Foundation modules are tied to the
# compiler that built them); the script checks and stops with a clear message when they differ.
#
# Usage: Toolchains/aarch64-linux/build.sh [extra swift build flags, e.g. -v]   (as root, or with sudo)
# Environment (all optional):
#   REFLEX_CROSS_CACHE    roots, sysroot and downloads        (default: <repo>/.build-cross)
#   REFLEX_CROSS_SCRATCH  SwiftPM scratch path of the build   (default: <repo>/.build-arm64)
#   REFLEX_CROSS_MIRROR   Debian mirror, e.g. a snapshot.debian.org/archive/debian/<stamp> URL to pin sid
#   REFLEX_CROSS_CONFIG   release (default) or debug
#   REFLEX_CROSS_REFRESH  1: rebuild the compiler root and the sysroot even if cached
#   REFLEX_CROSS_TARGET_SUITE  Debian suite of the sysroot's libraries (default trixie: the binary needs only
#                         trixie's glibc and libraries, so it runs on Debian 13 and Raspberry Pi OS; sid for sid's
#                         newest libraries). The Swift runtime linked in is sid's either way (it must match the compiler).
# Output: $REFLEX_CROSS_SCRATCH/aarch64-unknown-linux-gnu/<config>/reflex, and
#         $REFLEX_CROSS_SCRATCH/cross-timings.txt (wall seconds per phase), cross-facts.txt (binary facts).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# The commit `reflex --version` prints (before sudo: git refuses a checkout owned by another user).
bash "$ROOT/scripts/stamp-commit.sh"

if [ "$(id -u)" != 0 ]; then
    # chroot and bind mounts need root. (proot would avoid it but was not tried: see README.md.)
    command -v sudo >/dev/null 2>&1 || { echo "error: $0 needs root (chroot, mount) and sudo is not installed" >&2; exit 1; }
    exec sudo --preserve-env=REFLEX_CROSS_CACHE,REFLEX_CROSS_SCRATCH,REFLEX_CROSS_MIRROR,REFLEX_CROSS_CONFIG,REFLEX_CROSS_REFRESH,REFLEX_CROSS_TARGET_SUITE "$0" "$@"
fi

CACHE="${REFLEX_CROSS_CACHE:-$ROOT/.build-cross}"
SCRATCH="${REFLEX_CROSS_SCRATCH:-$ROOT/.build-arm64}"
MIRROR="${REFLEX_CROSS_MIRROR:-http://deb.debian.org/debian}"
CONFIG="${REFLEX_CROSS_CONFIG:-release}"
SUITE=sid                                          # the compiler's suite (and the Swift runtime's)
TARGET_SUITE="${REFLEX_CROSS_TARGET_SUITE:-trixie}"   # the suite of the libraries the binary links against
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
TRIPLE=aarch64-unknown-linux-gnu
CROOT="$CACHE/root-amd64"        # sid amd64 root with sid's swiftlang (the compiler)
SYSROOT="$CACHE/sysroot-arm64"   # arm64 libraries + sid's arm64 Swift runtime (the target)
[ "$TARGET_SUITE" = sid ] || SYSROOT="$CACHE/sysroot-arm64-$TARGET_SUITE"
DEBS="$CACHE/debs"
mkdir -p "$CACHE" "$SCRATCH" "$DEBS"
TIMINGS="$SCRATCH/cross-timings.txt"
: > "$TIMINGS"

# The arm64 libraries `reflex` links against (and the C/C++ runtime to link with).
case "$TARGET_SUITE" in
    trixie) LIBSTDCXX=libstdc++-14-dev ;;
    *)      LIBSTDCXX=libstdc++-16-dev ;;
esac
SYSROOT_PACKAGES="libc6-dev,$LIBSTDCXX,libopenblas-dev,libopenblas0-pthread,libv4l-dev,libpng-dev,libjpeg-dev,libgif-dev,libavformat-dev,libavcodec-dev,libswscale-dev,libavutil-dev"
# Debian mirrors of sid are sometimes served past their Valid-Until (and this machine's clock may be ahead).
APT_OPT='Acquire::Check-Valid-Until "false"'   # mmdebstrap --aptopt syntax
APT_O='Acquire::Check-Valid-Until=false'        # apt-get -o syntax

phase_start() { PHASE="$1"; PHASE_T0=$(date +%s); echo "== $PHASE"; }
phase_end() {
    local s=$(( $(date +%s) - PHASE_T0 ))
    printf '%-28s %5d s  (%s min)\n' "$PHASE" "$s" "$(awk -v s="$s" 'BEGIN{printf "%.1f", s/60}')" | tee -a "$TIMINGS"
}

# --- 0. host tools -------------------------------------------------------------------------------
phase_start "host packages"
missing=""
for p in mmdebstrap qemu-user-static binutils file; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
phase_end

if [ "${REFLEX_CROSS_REFRESH:-0}" = 1 ]; then rm -rf "$CROOT" "$SYSROOT" "$DEBS"; mkdir -p "$DEBS"; fi

# --- 1. the compiler root: sid amd64 + swiftlang -----------------------------------------------------
if [ ! -e "$CROOT/.reflex-ready" ]; then
    phase_start "compiler root (sid amd64)"
    rm -rf "$CROOT"
    mmdebstrap --mode=root --variant=apt --keyring="$KEYRING" --aptopt="$APT_OPT" \
        --include=swiftlang,libc6-dev,pkg-config,git "$SUITE" "$CROOT" "deb $MIRROR $SUITE main"
    touch "$CROOT/.reflex-ready"
    phase_end
fi
SWIFT_AMD64="$(chroot "$CROOT" dpkg-query -W -f='${Version}' swiftlang)"
echo "compiler: sid amd64 swiftlang $SWIFT_AMD64"

# --- 2. the target sysroot: sid arm64 libraries + the arm64 Swift runtime ------------------------------
if [ ! -e "$SYSROOT/.reflex-ready" ] || [ "$(cat "$SYSROOT/.reflex-dpkg/format" 2>/dev/null)" != 2 ]; then
    phase_start "sysroot libraries ($TARGET_SUITE arm64)"
    rm -rf "$SYSROOT"
    # extract: unpack the packages and their dependencies, run nothing (no emulation needed).
    # --skip=cleanup/apt/cache keeps the .debs for the file index below.
    mmdebstrap --mode=root --variant=extract --architectures=arm64 --keyring="$KEYRING" --aptopt="$APT_OPT" \
        --skip=cleanup/apt/cache --include="$SYSROOT_PACKAGES" "$TARGET_SUITE" "$SYSROOT" "deb $MIRROR $TARGET_SUITE main"
    # An extract root has no dpkg database. What `dpkg -S` and the shlibs/symbols files would give, kept for the
    # .deb's Depends (packaging/deb/depends.py): <pkg> <path> per shipped file, each package's shlibs and symbols.
    IDX="$SYSROOT/.reflex-dpkg"; rm -rf "$IDX"; mkdir -p "$IDX"; : > "$IDX/files"; : > "$IDX/packages"
    echo "$TARGET_SUITE" > "$IDX/suite"
    for deb in "$SYSROOT"/var/cache/apt/archives/*.deb; do
        pkg="$(dpkg-deb -f "$deb" Package)"
        dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e "s|^|$pkg |" >> "$IDX/files"
        for c in shlibs symbols; do
            dpkg-deb --ctrl-tarfile "$deb" | tar -xO "./$c" 2>/dev/null > "$IDX/$pkg.$c" || rm -f "$IDX/$pkg.$c"
        done
        dpkg-deb -f "$deb" Package Version | paste -sd' ' >> "$IDX/packages"
    done
    echo 2 > "$IDX/format"
    rm -f "$SYSROOT"/var/cache/apt/archives/*.deb
    phase_end

    phase_start "arm64 swiftlang download"
    # The same version as the compiler, fetched through the compiler root's own apt (arm64 added there).
    chroot "$CROOT" dpkg --add-architecture arm64
    cat > "$CROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
EOF
    chroot "$CROOT" apt-get -o "$APT_O" -qq update
    ARM_VER="$(chroot "$CROOT" apt-cache policy swiftlang:arm64 | awk '/Candidate:/{print $2}')"
    if [ "$ARM_VER" != "$SWIFT_AMD64" ]; then
        echo "error: Debian $SUITE has swiftlang $SWIFT_AMD64 for amd64 (the compiler) but $ARM_VER for arm64" >&2
        echo "       (the target runtime). Foundation's binary modules only load into the compiler that built" >&2
        echo "       them, so the two must match. sid is mid-transition: wait until both architectures carry" >&2
        echo "       the same version, or pin both to one date with" >&2
        echo "       REFLEX_CROSS_MIRROR=http://snapshot.debian.org/archive/debian/<YYYYMMDDTHHMMSSZ> REFLEX_CROSS_REFRESH=1" >&2
        exit 1
    fi
    rm -f "$CROOT"/tmp/swiftlang_*_arm64.deb
    chroot "$CROOT" sh -c "cd /tmp && apt-get -o '$APT_O' -qq download swiftlang:arm64=$ARM_VER"
    mv "$CROOT"/tmp/swiftlang_*_arm64.deb "$DEBS/"
    phase_end

    phase_start "sysroot Swift runtime + fixups"
    DEB="$(ls "$DEBS"/swiftlang_*_arm64.deb | tail -1)"
    # Only the runtime: modules, static and shared libraries, and clang's resource dir (aarch64 crt files).
    dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$SYSROOT" \
        ./usr/libexec/swift/lib/swift ./usr/libexec/swift/lib/swift_static ./usr/libexec/swift/lib/clang
    dpkg-deb -f "$DEB" Version > "$SYSROOT/.swiftlang-version"
    # What maintainer scripts would have done: merged /usr, OpenBLAS alternatives.
    # The driver looks for swiftrt.o and the link-time runtime under <sdk>/usr/lib/swift{,_static}.
    ln -sfn ../libexec/swift/lib/swift "$SYSROOT/usr/lib/swift"
    ln -sfn ../libexec/swift/lib/swift_static "$SYSROOT/usr/lib/swift_static"
    for d in lib bin sbin; do [ -e "$SYSROOT/$d" ] || ln -s "usr/$d" "$SYSROOT/$d"; done
    A="$SYSROOT/usr/lib/aarch64-linux-gnu"; I="$SYSROOT/usr/include/aarch64-linux-gnu"
    ln -sf openblas-pthread/cblas.h "$I/cblas.h"
    ln -sf openblas-pthread/openblas_config.h "$I/openblas_config.h"
    ln -sf openblas-pthread/libopenblas.so.0 "$A/libopenblas.so.0"
    ln -sf openblas-pthread/libopenblas.so.0 "$A/libopenblas.so"
    ln -sf openblas-pthread/libblas.so.3 "$A/libblas.so.3"
    touch "$SYSROOT/.reflex-ready"
    phase_end
fi
ARM_VER="$(cat "$SYSROOT/.swiftlang-version")"
if [ "$ARM_VER" != "$SWIFT_AMD64" ]; then
    echo "error: the cached sysroot carries arm64 swiftlang $ARM_VER but the compiler root has $SWIFT_AMD64;" >&2
    echo "       rebuild both with REFLEX_CROSS_REFRESH=1 (see the version note in $0)." >&2
    exit 1
fi
echo "target runtime: sid arm64 swiftlang $ARM_VER (matches)"

# --- 3. the build, inside the compiler root ---------------------------------------------------------
# Mount points inside the root: /src (the package), /scratch (the SwiftPM scratch path), /sysroot.
MOUNTS=()
bind() { mkdir -p "$CROOT$2"; mount --bind "$1" "$CROOT$2"; MOUNTS=("$CROOT$2" "${MOUNTS[@]}"); }
cleanup() { for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done; }
trap cleanup EXIT
mkdir -p "$CROOT/proc"; mount -t proc proc "$CROOT/proc"; MOUNTS=("$CROOT/proc")
bind /dev /dev
bind "$ROOT" /src
bind "$SCRATCH" /scratch
bind "$SYSROOT" /sysroot
# Swift packages: the root's git sees the host's URL rewrites (e.g. github.com -> a local mirror) and,
# when that mirror is a local folder, the folder itself.
: > "$CROOT/etc/gitconfig"
{ git config --system --get-regexp '^url\.' 2>/dev/null || true; git config --global --get-regexp '^url\.' 2>/dev/null || true; } | \
while read -r key val; do
    git config --file "$CROOT/etc/gitconfig" --add "$key" "$val"
done
MIRROR_DIRS="$(git config --file "$CROOT/etc/gitconfig" --get-regexp '^url\..*\.insteadof$' 2>/dev/null | \
    sed -E 's/^url\.(.*)\.insteadof .*/\1/I' | sort -u)"
for base in $MIRROR_DIRS; do
    case "$base" in /*) [ -d "$base" ] && bind "$base" "$base" ;; esac
done
git config --file "$CROOT/etc/gitconfig" --add safe.directory '*'

cat > "$SCRATCH/toolset-aarch64.json" <<EOF
{
  "schemaVersion": "1.0",
  "swiftCompiler": { "extraCLIOptions": ["-use-ld=lld", "-sdk", "/sysroot", "-resource-dir", "/sysroot/usr/libexec/swift/lib/swift_static"] },
  "linker": { "path": "/usr/libexec/swift/bin/ld.lld" }
}
EOF

phase_start "swift build ($CONFIG)"
PC="/sysroot/usr/lib/aarch64-linux-gnu/pkgconfig:/sysroot/usr/share/pkgconfig:/sysroot/usr/lib/aarch64-linux-gnu/openblas-pthread/pkgconfig"
chroot "$CROOT" env -i HOME=/root PATH=/usr/libexec/swift/bin:/usr/bin:/bin LANG=C.UTF-8 \
    PKG_CONFIG_SYSROOT_DIR=/sysroot PKG_CONFIG_PATH="$PC" PKG_CONFIG_LIBDIR="$PC" \
    sh -c "cd /src && swift build -c $CONFIG --product reflex --triple $TRIPLE --sdk /sysroot \
        --toolset /scratch/toolset-aarch64.json --static-swift-stdlib --scratch-path /scratch $*"
phase_end
cleanup; trap - EXIT

BIN="$SCRATCH/$TRIPLE/$CONFIG/reflex"
[ -x "$BIN" ] || { echo "error: build finished but $BIN is missing" >&2; exit 1; }

# --- 4. facts and a first run under qemu ----------------------------------------------------------------
FACTS="$SCRATCH/cross-facts.txt"
{
    echo "binary: $BIN"
    echo "swiftlang: $SWIFT_AMD64 (amd64 compiler) / $ARM_VER (arm64 runtime); libraries: $TARGET_SUITE arm64"
    file -L "$BIN"
    echo "size: $(stat -L -c %s "$BIN") bytes"
    echo "NEEDED:"; readelf -d "$BIN" | awk '/NEEDED/{print "  " $NF}'
    echo "max GLIBC: $(readelf -V -W "$BIN" | grep -o 'GLIBC_[0-9.]*' | sort -u -V | tail -1)"
    echo "--- qemu-aarch64-static -cpu cortex-a76 reflex --version"
    qemu-aarch64-static -L "$SYSROOT" -cpu cortex-a76 "$BIN" --version
} 2>&1 | tee "$FACTS"
echo "timings (wall):"; cat "$TIMINGS"
echo "sysroot for qemu: -L $SYSROOT"
