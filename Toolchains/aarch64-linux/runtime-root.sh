#!/usr/bin/env bash
# Runs an aarch64 `reflex` against a clean Debian arm64 root that holds ONLY the runtime libraries it needs
# (no -dev packages, no Swift anything): proof that the binary is self-contained apart from those libraries.
# Usage (root): Toolchains/aarch64-linux/runtime-root.sh SUITE BINARY [ROOTDIR]
#   SUITE: trixie for a CROSS_SUITE=trixie build, sid for the default build.
# The root is extracted (mmdebstrap --variant=extract, no emulation) and kept in ROOTDIR
# (default .build-cross/runtime-arm64-SUITE); then --version, `check --offline` on raspberry-pi-5.yaml and one
# fixture `predict` (tokens must equal reference.json's) run under qemu-aarch64-static -cpu cortex-a72 and max.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
SUITE="${1:?suite (trixie or sid)}"; BIN="$(realpath "${2:?aarch64 reflex binary}")"
R="${3:-$ROOT/.build-cross/runtime-arm64-$SUITE}"
MIRROR="${REFLEX_CROSS_MIRROR:-http://deb.debian.org/debian}"
# FFmpeg's packages are named after their sonames (trixie: libavformat61…, sid today: libavformat63…):
# take them from the binary.
AV="$(readelf -d "$BIN" | sed -n 's/.*\[\(libav[a-z]*\|libswscale\)\.so\.\([0-9]*\)\].*/\1\2/p' | paste -sd,)"
if [ ! -e "$R/.reflex-ready" ]; then
    rm -rf "$R"
    mmdebstrap --mode=root --variant=extract --architectures=arm64 \
        --keyring=/usr/share/keyrings/debian-archive-keyring.gpg --aptopt='Acquire::Check-Valid-Until "false"' \
        --include="libc6,libstdc++6,libgcc-s1,libopenblas0-pthread,libv4l-0t64,libpng16-16t64,libjpeg62-turbo,libgif7,$AV" \
        "$SUITE" "$R" "deb $MIRROR $SUITE main"
    # What base-files (merged /usr) and libopenblas0-pthread's postinst (alternatives) would have done.
    ln -sfn usr/lib "$R/lib"
    ln -sfn openblas-pthread/libopenblas.so.0 "$R/usr/lib/aarch64-linux-gnu/libopenblas.so.0"
    touch "$R/.reflex-ready"
fi
if find "$R" -name '*swift*' | grep -q .; then echo "error: $R contains Swift files" >&2; exit 1; fi
cd "$ROOT"
REF=Tests/Fixtures/openvla-tiny-siglip/reference.json
want="$(python3 -c "import json; print(json.load(open('$REF'))['cases'][0]['tokens'])")"
for cpu in cortex-a72 max; do
    Q=(qemu-aarch64-static -L "$R" -cpu "$cpu" "$BIN")
    "${Q[@]}" --version
    "${Q[@]}" check --board boards/raspberry-pi-5.yaml --offline
    got="$("${Q[@]}" predict --model Tests/Fixtures/openvla-tiny-siglip --image Tests/Fixtures/images/scene_250x190.png \
        --instruction "push the green cone to the left" --unnorm-key bridge_orig --json 2>/dev/null |
        python3 -c "import json,sys; print(json.load(sys.stdin)['tokens'])")"
    [ "$got" = "$want" ] || { echo "error: $cpu tokens $got != reference $want" >&2; exit 1; }
    echo "$cpu: predict tokens $got = reference"
done
echo "runs on a clean $SUITE arm64 runtime root ($(du -sh "$R" | cut -f1)): $R"
