#!/usr/bin/env bash
# Builds the CKernels C harness natively (gcc -O2, every Sources/CKernels/*.c) into .build-c/ and
# runs it: every int8 path this CPU supports is checked against the scalar reference.
# Usage: scripts/test-c-kernels.sh [--require a,b,c] [extra harness args]
# Default requirement: scalar and avx2, plus avx512vnni when the kernel reports the CPU has it
# (/proc/cpuinfo flags avx512_vnni and avx512bw: read independently of our own CPU detection, so a
# detection bug still fails). Override with REFLEX_C_REQUIRE="scalar,avx2" or pass --require explicitly.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CC="${CC:-gcc}"
OUT="$ROOT/.build-c"
BIN="$OUT/q8_harness"

command -v "$CC" >/dev/null 2>&1 || { echo "error: C compiler '$CC' not found (apt-get install gcc)" >&2; exit 1; }

mkdir -p "$OUT"
SRCS=("$ROOT"/Sources/CKernels/*.c)
CMD=("$CC" -O2 -std=gnu11 -Wall -Wextra -I "$ROOT/Sources/CKernels/include"
     "${SRCS[@]}" "$ROOT/Tests/CKernelsHarness/q8_harness.c" -o "$BIN" -lpthread -lm)
echo "+ ${CMD[*]}"
"${CMD[@]}"

DEFAULT_REQUIRE=scalar,avx2
if grep -qw avx512_vnni /proc/cpuinfo 2>/dev/null && grep -qw avx512bw /proc/cpuinfo; then
    DEFAULT_REQUIRE=scalar,avx2,avx512vnni
else
    echo "note: this CPU reports no AVX-512 VNNI (/proc/cpuinfo); that path is not required here"
fi
ARGS=("$@")
if [[ " ${ARGS[*]-} " != *" --require "* ]]; then
    ARGS+=(--require "${REFLEX_C_REQUIRE:-$DEFAULT_REQUIRE}")
fi
echo "+ $BIN ${ARGS[*]}"
"$BIN" "${ARGS[@]}"
