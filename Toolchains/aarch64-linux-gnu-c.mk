# C cross toolchain for the aarch64 kernel harness (make test-arm): Debian's gcc-aarch64-linux-gnu
# builds a static binary that qemu-aarch64-static runs with a chosen CPU model, so each ARM kernel
# path (NEON, dotprod, i8mm) executes for real. qemu gives correctness, never timings.
AARCH64_CC      ?= aarch64-linux-gnu-gcc
AARCH64_CFLAGS  ?= -O2 -std=gnu11 -Wall -static
QEMU_AARCH64    ?= qemu-aarch64-static
# CPU models and the best int8 path each must select:
#   cortex-a72: Armv8.0 NEON only       → neon
#   cortex-a76: Armv8.2 + dotprod       → dotprod
#   max:        everything qemu models  → i8mm
ARM_CPUS        ?= cortex-a72:neon cortex-a76:dotprod max:i8mm
