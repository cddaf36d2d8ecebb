#!/usr/bin/env bash
# Builds the Debian package of `reflex` with Debian's own dpkg-deb from a staging folder.
#
# Usage: packaging/deb/build-deb.sh ARCH BINARY OUTDIR [SYSROOT]
#   ARCH     arm64 or amd64 (must match BINARY's ELF machine)
#   BINARY   the release `reflex` built with --static-swift-stdlib (no Swift library needed at run time)
#   OUTDIR   where reflex_<version>_<arch>.deb, its staging folder and deb-facts-<arch>.txt go
#   SYSROOT  arm64: the cross sysroot the binary was linked against (Toolchains/aarch64-linux/build.sh); its
#            file index maps each NEEDED soname to the package that ships it (packaging/deb/depends.py).
#            amd64: not used; the binary links the host's libraries and dpkg-shlibdeps maps them.
#
# Layout: /usr/bin/reflex (stripped), the unit reflex.service (packaging/reflex.service) in /usr/lib/systemd/system
# (bookworm and older: /lib/systemd/system),
# /usr/share/reflex/{boards,models/reflex-sim-tiny} (so boards/sim.yaml's ../models/... still resolves),
# /etc/reflex/{board.yaml,reflex.env} (conffiles; board.yaml = the simulated board with the model's absolute
# path), /usr/share/doc/reflex/. Maintainer scripts: packaging/deb/{postinst,prerm,postrm}.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
ARCH="${1:?ARCH (arm64 or amd64)}"; BIN="${2:?release reflex binary}"; OUT="${3:?output folder}"; SYSROOT="${4:-}"
T0=$(date +%s)
die() { echo "build-deb: error: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "$BIN is not an executable (build it first: make cross / make deb does)"
case "$ARCH" in
    arm64) MACHINE=AArch64; TRIPLET=aarch64-linux-gnu; STRIP=aarch64-linux-gnu-strip
           [ -n "$SYSROOT" ] && [ -s "$SYSROOT/.reflex-dpkg/files" ] ||
               die "arm64 needs the cross sysroot with its file index (.reflex-dpkg/files): got '${SYSROOT:-}'"
           SUITE="$(cat "$SYSROOT/.reflex-dpkg/suite" 2>/dev/null || echo unknown)" ;;
    amd64) MACHINE=X86-64; TRIPLET=x86_64-linux-gnu; STRIP=strip
           SUITE="$(. /etc/os-release; echo "${VERSION_CODENAME:-unknown}")" ;;
    *) die "ARCH must be arm64 or amd64, not '$ARCH'" ;;
esac
command -v "$STRIP" >/dev/null || die "$STRIP not found (Debian package: $([ "$ARCH" = arm64 ] && echo binutils-aarch64-linux-gnu || echo binutils))"
got="$(readelf -h "$BIN" | awk -F: '/Machine:/{gsub(/^ +/,"",$2); print $2}')"
case "$got" in *"$MACHINE"*) ;; *) die "$BIN is a '$got' binary, not $ARCH" ;; esac
if readelf -d "$BIN" | grep -q 'NEEDED.*libswift'; then
    die "$BIN needs Swift shared libraries ($(readelf -d "$BIN" | grep -o 'libswift[^]]*' | paste -sd' ')): build it with --static-swift-stdlib"
fi

# The unit's folder: where the target suite's systemd package keeps units, so dpkg sees the folder as shared
# (trixie and later: /usr/lib/systemd/system; with /lib a link to usr/lib, a unit in /lib/systemd/system made dpkg
# warn "directory '/lib/systemd/system' not empty so not removed" on remove). Either way the unit is reachable as
# /lib/systemd/system/reflex.service on these merged-/usr systems.
case "$SUITE" in bullseye|bookworm) UNITDIR=lib/systemd/system ;; *) UNITDIR=usr/lib/systemd/system ;; esac

VERSION="$(sed -n 's/^ *static let number = "\(.*\)"$/\1/p' "$ROOT/Sources/reflex/Reflex.swift")"
[ -n "$VERSION" ] || die "no 'static let number = \"…\"' in Sources/reflex/Reflex.swift"
mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
ST="$OUT/stage-$ARCH"; DEB="$OUT/reflex_${VERSION}_${ARCH}.deb"
rm -rf "$ST" "$DEB"
echo "== build-deb: reflex $VERSION for $ARCH (libraries of Debian $SUITE) from $BIN"

# --- files ---------------------------------------------------------------------------------------------
install -d "$ST/DEBIAN" "$ST/usr/bin" "$ST/$UNITDIR" "$ST/etc/reflex" "$ST/usr/share/reflex/boards" \
    "$ST/usr/share/reflex/models" "$ST/usr/share/doc/reflex"
# Debian ships binaries stripped (84 MB -> 59 MB for aarch64: most of what is left is Foundation's ICU data).
"$STRIP" --strip-all -o "$ST/usr/bin/reflex" "$BIN"; chmod 0755 "$ST/usr/bin/reflex"
sed -e 's|@BINDIR@|/usr/bin|g' -e 's|@SHAREDIR@|/usr/share/reflex|g' -e 's|@DOCDIR@|/usr/share/doc/reflex|g' \
    "$ROOT/packaging/reflex.service" > "$ST/$UNITDIR/reflex.service"
install -m 0644 "$ROOT"/boards/*.yaml "$ROOT/boards/README.md" "$ST/usr/share/reflex/boards/"
cp -r "$ROOT/models/reflex-sim-tiny" "$ST/usr/share/reflex/models/"
install -m 0644 "$ROOT/README.md" "$ST/usr/share/doc/reflex/README.md"
install -m 0644 "$HERE/copyright" "$ST/usr/share/doc/reflex/copyright"
# The example profile: the simulated board (runs with no hardware), its model by absolute path.
grep -q '^  path: \.\./models/reflex-sim-tiny' "$ROOT/boards/sim.yaml" || die "boards/sim.yaml no longer has 'path: ../models/reflex-sim-tiny'"
{
    echo "# /etc/reflex/board.yaml: the profile the reflex service runs (reflex run --board /etc/reflex/board.yaml)."
    echo "# As installed it is the simulated board (no hardware; the model in /usr/share/reflex/models). For a real"
    echo "# board copy its profile over this file and edit it (camera, serial port, model path, joints):"
    echo "#   cp /usr/share/reflex/boards/raspberry-pi-5.yaml /etc/reflex/board.yaml"
    echo "# then: reflex check --board /etc/reflex/board.yaml && systemctl enable --now reflex"
    echo "# (a conffile: dpkg keeps your edits on upgrade and asks when the packaged version changes)."
    sed 's|^  path: \.\./models/reflex-sim-tiny.*$|  path: /usr/share/reflex/models/reflex-sim-tiny|' "$ROOT/boards/sim.yaml"
} > "$ST/etc/reflex/board.yaml"
install -m 0644 "$HERE/reflex.env" "$ST/etc/reflex/reflex.env"
find "$ST" -type d -exec chmod 0755 {} +
find "$ST/usr/share" "$ST/etc" "$ST/$UNITDIR" -type f -exec chmod 0644 {} +

# --- control ---------------------------------------------------------------------------------------------
echo "-- Depends"
if [ "$ARCH" = arm64 ]; then
    DEPENDS="$(python3 "$HERE/depends.py" --binary "$BIN" --index "$SYSROOT/.reflex-dpkg" --extra passwd)"
else
    # The host's own tool: the binary links the host's libraries, which the host's dpkg database knows.
    W="$(mktemp -d)"; trap 'rm -rf "$W"' EXIT
    mkdir -p "$W/debian"; printf 'Source: reflex\n\nPackage: reflex\nArchitecture: any\n' > "$W/debian/control"
    (cd "$W" && dpkg-shlibdeps -O "$ST/usr/bin/reflex") > "$W/substvars" || die "dpkg-shlibdeps failed on $BIN"
    DEPENDS="$(sed -n 's/^shlibs:Depends=//p' "$W/substvars"), passwd"
fi
[ -n "$DEPENDS" ] || die "empty Depends"
echo "Depends: $DEPENDS"
cat > "$ST/DEBIAN/control" <<EOF
Package: reflex
Version: $VERSION
Architecture: $ARCH
Maintainer: Reflex maintainers <maintainers@users.noreply.h-seed-787d1c9e.example>
Installed-Size: $(du -sk --exclude=DEBIAN "$ST" | cut -f1)
Depends: $DEPENDS
Section: misc
Priority: optional
Description: Vision-Language-Action robot policies on a board's CPU
 Reflex runs OpenVLA-family robot policies (camera -> int8 VLA with token pruning
 and action scheduling -> safety stage -> motor controller) as a systemd service on
 ARM boards (Raspberry Pi 5, Jetson Orin, RK3588) and x86-64 machines.
 .
 This package holds the reflex command (Swift runtime linked in), the systemd unit
 (disabled until you enable it), the board profiles and a small simulator policy in
 /usr/share/reflex, and /etc/reflex/board.yaml, the profile the service runs.
EOF
printf '/etc/reflex/board.yaml\n/etc/reflex/reflex.env\n' > "$ST/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "$HERE/$s" "$ST/DEBIAN/$s"; done

# --- package ---------------------------------------------------------------------------------------------
# gzip, not dpkg-deb's default xz: on a loaded 2-core machine xz took ~2.5 min per package, gzip seconds; the
# package grows by about 8 MB (most of it the 58 MB binary).
echo "-- dpkg-deb --build -Zgzip"
dpkg-deb --build --root-owner-group -Zgzip "$ST" "$DEB" >/dev/null
FACTS="$OUT/deb-facts-$ARCH.txt"
{
    echo "package: $DEB ($(stat -c %s "$DEB") bytes)"
    echo "binary: $BIN ($(stat -L -c %s "$BIN") bytes; stripped in the package: $(stat -c %s "$ST/usr/bin/reflex") bytes)"
    echo "NEEDED: $(readelf -d "$BIN" | awk '/NEEDED/{gsub(/[][]/,"",$NF); print $NF}' | paste -sd' ')"
    echo "max GLIBC: $(readelf -V -W "$BIN" | grep -o 'GLIBC_[0-9.]*' | sort -u -V | tail -1)"
    echo "libraries of: Debian $SUITE $ARCH"
    dpkg-deb --info "$DEB" | sed -n '/Package:/,$p'
} | tee "$FACTS"
echo "build-deb: $DEB in $(( $(date +%s) - T0 )) s"
