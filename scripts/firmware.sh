#!/usr/bin/env bash
# Builds the motor-controller firmware (Embedded Swift, Cortex-M4 / STM32F405) with the Swift
# toolchain's own clang and ld.lld, and prints its flash and RAM use.
#   scripts/firmware.sh [OUT_DIR]      (default .build-firmware; the ELF is OUT_DIR/reflex-fw.elf)
# FIRMWARE_TARGET=qemu (default) builds for qemu's netduinoplus2 (its timer model's clock);
# FIRMWARE_TARGET=board for a real STM32F405 at 168 MHz.
# Limits checked: flash ≤ 64 KiB, RAM (data + bss + stack) ≤ 16 KiB.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.build-firmware}
mkdir -p "$OUT"
SWIFTC=$(command -v swiftc)
BIN=$(dirname "$(readlink -f "$SWIFTC")")
CLANG="$BIN/clang"
LLD="$BIN/ld.lld"
NM="$BIN/llvm-nm"
TC=Toolchains/armv7em-none-eabi
SWIFT_FLAGS=(-target armv7em-none-none-eabi -enable-experimental-feature Embedded
  -enable-experimental-feature Extern -wmo -parse-as-library -Osize
  -Xfrontend -disable-stack-protector -Xfrontend -function-sections -Xcc -ffunction-sections)
case "${FIRMWARE_TARGET:-qemu}" in
  qemu) SWIFT_FLAGS+=(-D QEMU) ;;
  board) ;;
  *) echo "firmware.sh: FIRMWARE_TARGET must be qemu or board" >&2; exit 2 ;;
esac

"$SWIFTC" "${SWIFT_FLAGS[@]}" -module-name BridgeProtocol -emit-module \
  -emit-module-path "$OUT/BridgeProtocol.swiftmodule" -c Sources/BridgeProtocol/*.swift -o "$OUT/BridgeProtocol.o"
"$SWIFTC" "${SWIFT_FLAGS[@]}" -I "$OUT" -module-name BridgeFirmware -emit-module \
  -emit-module-path "$OUT/BridgeFirmware.swiftmodule" -c firmware-bridge/Controller/*.swift -o "$OUT/BridgeFirmware.o"
"$SWIFTC" "${SWIFT_FLAGS[@]}" -I "$OUT" -module-name Firmware -c firmware-bridge/mcu/*.swift -o "$OUT/Firmware.o"
"$CLANG" -target armv7em-none-eabi -mthumb -mcpu=cortex-m4 -ffreestanding -fno-builtin -Os \
  -ffunction-sections -Wall -Werror -c "$TC/startup.c" -o "$OUT/startup.o"
"$LLD" -T "$TC/link.ld" --gc-sections -o "$OUT/reflex-fw.elf" \
  "$OUT/startup.o" "$OUT/Firmware.o" "$OUT/BridgeFirmware.o" "$OUT/BridgeProtocol.o"

sym() { "$NM" "$OUT/reflex-fw.elf" | awk -v s="$1" '$3 == s { print $1 }'; }
sidata=$((16#$(sym _sidata))); sdata=$((16#$(sym _sdata))); edata=$((16#$(sym _edata)))
ebss=$((16#$(sym _ebss))); estack=$((16#$(sym _estack)))
flash=$(( sidata - 0x08000000 + edata - sdata ))
ram_static=$(( ebss - 0x20000000 ))
ram=$(( estack - 0x20000000 ))
printf 'firmware: %s\n' "$OUT/reflex-fw.elf"
awk -v f="$flash" -v r="$ram" -v s="$ram_static" -v k=$(( estack - ebss )) 'BEGIN {
  printf "firmware: flash %d bytes (%.1f KiB of the 64 KiB budget)\n", f, f / 1024
  printf "firmware: RAM %d bytes (%.1f KiB of the 16 KiB budget: %d data+bss, %d stack)\n", r, r / 1024, s, k }'
status=0
[ "$flash" -le 65536 ] || { echo "firmware: FAIL flash over 64 KiB" >&2; status=1; }
[ "$ram" -le 16384 ] || { echo "firmware: FAIL RAM over 16 KiB" >&2; status=1; }
exit $status
