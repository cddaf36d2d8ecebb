#!/usr/bin/env bash
# Cross-builds the CKernels C harness for aarch64 (aarch64-linux-gnu-gcc -O2 -static) into
# .build-c/arm64/ and runs it under qemu-user with three CPU models, each required to expose (and
# pass) its own path:
#   cortex-a72 → neon      cortex-a76 → dotprod      max → i8mm
# Usage: scripts/test-arm.sh [extra harness args, e.g. --quick]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../Toolchains/aarch64-linux-gnu.env
source "$ROOT/Toolchains/aarch64-linux-gnu.env"
CC="$AARCH64_CC"
QEMU="$QEMU_AARCH64"
OUT="$ROOT/.build-c/arm64"
BIN="$OUT/q8_harness"

command -v "$CC" >/dev/null 2>&1 || {
    echo "error: cross compiler '$CC' not found (apt-get install gcc-aarch64-linux-gnu)" >&2; exit 1; }
command -v "$QEMU" >/dev/null 2>&1 || {
    echo "error: '$QEMU' not found (apt-get install qemu-user-static)" >&2; exit 1; }

mkdir -p "$OUT"
SRCS=("$ROOT"/Sources/CKernels/*.c)
# shellcheck disable=SC2206
CMD=("$CC" $AARCH64_CFLAGS -I "$ROOT/Sources/CKernels/include"
     "${SRCS[@]}" "$ROOT/Tests/CKernelsHarness/q8_harness.c" -o "$BIN" -lpthread -lm)
echo "+ ${CMD[*]}"
"${CMD[@]}"

run() {
    local cpu="$1" expect="$2" require="$3"
    shift 3
    echo "+ $QEMU -cpu $cpu $BIN --expect $expect --require $require $*"
    "$QEMU" -cpu "$cpu" "$BIN" --expect "$expect" --require "$require" "$@"
}
for entry in "${ARM_CPU_MATRIX[@]}"; do
    # shellcheck disable=SC2086
    run $entry "$@"
done
echo "arm64: all qemu runs passed"
