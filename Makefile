# Reflex front door. `make run` runs the main job, `make test` every test (installing what it needs).
SWIFT     ?= swift
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BUILD_DIR := .build
RELEASE   := $(BUILD_DIR)/release/reflex
# Debian packages: what building and running needs (`make run` installs only these), and what the tests add
# (qemu for the ARM kernels, the firmware and the V4L2 VM, a cross compiler, the VM's initramfs tools).
RUN_PACKAGES  := libopenblas-dev libv4l-dev libpng-dev libjpeg-dev libgif-dev libavformat-dev libavcodec-dev libswscale-dev pkg-config
TEST_PACKAGES := qemu-user-static gcc-aarch64-linux-gnu qemu-system-arm python3 qemu-system-x86 busybox-static kmod cpio xz-utils debootstrap proot

.PHONY: stamp cross test-cross deb deb-deps deb-arm64 deb-amd64 test-deb test-loop test-v4l2 test-cli test-deps all deps build release run test test-swift test-c test-arm bench clean help firmware hil install uninstall eval-sim

all: release

help:
	@echo "make run        the main job: the trained policy plays 3 episodes on the simulated board (boards/sim.yaml)"
	@echo "make test       install missing packages, build, run every test (Swift, C kernels, ARM under qemu, packages)"
	@echo "make bench      kernel benchmarks (JSON in out/), plus the PyTorch comparison when torch is installed"
	@echo "make test-arm   aarch64 kernel paths under qemu-aarch64-static"
	@echo "make cross      the whole reflex for aarch64 (Debian sid's Swift in a sid root, trixie's libraries; root or sudo)"
	@echo "make test-cross that binary under qemu on three ARM CPUs: tokens vs reference and x86, check, eval"
	@echo "make deb        Debian packages reflex_<version>_{arm64,amd64}.deb in .build-deb (ARCH=arm64 or amd64: one)"
	@echo "make test-deb   both packages installed with apt into clean Debian roots (arm64 under qemu), checked, purged"
	@echo "make firmware   the motor-controller firmware ELF (Embedded Swift, STM32F405); prints flash/RAM use"
	@echo "make hil        the firmware under qemu-system-arm driven by \`reflex bridge\` (hardware in the loop)"

# Installs the Debian packages that are missing (with sudo when not root): `deps` what running needs,
# `test-deps` that and what the tests need.
define install_missing
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing missing packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install_missing,$(RUN_PACKAGES))

test-deps:
	$(call install_missing,$(RUN_PACKAGES) $(TEST_PACKAGES))

# The commit `reflex --version` prints (Sources/CBuildInfo/reflex_commit.h, untracked; rewritten only when it changes).
stamp:
	@bash scripts/stamp-commit.sh

build: deps stamp
	$(SWIFT) build

release: deps stamp
	$(SWIFT) build -c release --product reflex

# The main job on the default simulated board: the committed trained policy performs tasks in the
# simulator with a live status line; the recording goes to out/run/episodes.gif.
run: release
	$(RELEASE) run --board boards/sim.yaml

# Closed-loop eval in CI: 20 held-out episodes per task family through the release binary (the whole
# stack: checkpoint loading, tokenizer, model, action decoding, safety stage, simulator). EVAL_MIN is the
# success rate below which any family fails it. The committed policy scores 85% / 85% / 100% (pick_place /
# push / reach) on these 20 seeds (80 / 87 / 100% over 100, BENCHMARKS.md); 0.4 sits about three Wilson
# half-widths (±0.15 at n = 20) below the weakest family: a CPU whose kernels round differently may change a
# few closed-loop episodes, but a broken stage (preprocessing, tokenizer, decoding, safety) drops it to ~0.
EVAL_EPISODES ?= 20
EVAL_MIN      ?= 0.4
eval-sim: release
	$(RELEASE) eval --task all --episodes $(EVAL_EPISODES) --min-success $(EVAL_MIN)

# Installs the binary, the systemd unit, the board profiles and a profile location (run as root).
PREFIX  ?= /usr/local
BINDIR  := $(PREFIX)/bin
SHARE   := $(PREFIX)/share/reflex
install: release
	install -D -m 0755 $(RELEASE) $(DESTDIR)$(BINDIR)/reflex
	install -d $(DESTDIR)$(SHARE)/boards $(DESTDIR)$(SHARE)/models $(DESTDIR)/etc/reflex $(DESTDIR)/var/lib/reflex/models
	install -m 0644 boards/*.yaml boards/README.md $(DESTDIR)$(SHARE)/boards/
	cp -r models/reflex-sim-tiny $(DESTDIR)$(SHARE)/models/
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/reflex/README.md
	install -d $(DESTDIR)/etc/systemd/system
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SHAREDIR@|$(SHARE)|g' -e 's|@DOCDIR@|$(PREFIX)/share/doc/reflex|g' \
	  packaging/reflex.service > $(DESTDIR)/etc/systemd/system/reflex.service
	@[ -e $(DESTDIR)/etc/reflex/board.yaml ] || echo "make install: copy a profile: cp $(SHARE)/boards/<board>.yaml /etc/reflex/board.yaml"
	@if [ -z "$(DESTDIR)" ] && command -v useradd >/dev/null; then \
	  id reflex >/dev/null 2>&1 || useradd --system --home /var/lib/reflex --shell /usr/sbin/nologin --groups video,dialout reflex; \
	  chown -R reflex:reflex /var/lib/reflex; \
	  command -v systemctl >/dev/null && systemctl daemon-reload || true; \
	fi
	@echo "installed: $(BINDIR)/reflex, /etc/systemd/system/reflex.service (systemctl enable --now reflex)"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/reflex $(DESTDIR)/etc/systemd/system/reflex.service
	rm -rf $(DESTDIR)$(SHARE) $(DESTDIR)$(PREFIX)/share/doc/reflex

test: test-deps test-swift test-c test-arm hil test-loop test-cli test-v4l2 eval-sim test-cross test-deb

# The V4L2 capture code against the kernel's vivid driver in a qemu VM (stock Debian kernel, downloaded
# once into .build-v4l2): negotiation, mmap streaming, RGB24 from YUYV/UYVY/RGB565, newest-frame thread,
# reconnect after the device vanishes. About 2 minutes under TCG.
test-v4l2: test-deps stamp
	$(SWIFT) build --product reflex
	python3 scripts/test-v4l2.py --reflex $(BUILD_DIR)/debug/reflex --work .build-v4l2

# The robot loop end to end: replay camera → trained policy → safety → Feetech bus on a pty where emulated
# servos answer (scripts/feetech_servo_emulator.py), every byte decoded independently (scripts/loop_e2e.py).
test-loop: test-deps stamp
	$(SWIFT) build --product reflex
	python3 scripts/loop_e2e.py --reflex $(BUILD_DIR)/debug/reflex

# The command line's bad-input contract (scripts/cli_contract.py): corrupt and oversized images, a NaN model,
# hostile config values, FIFOs, out-of-range flags and environment values — named errors and the README's
# exit codes, never a crash or a hang.
test-cli: test-deps stamp
	$(SWIFT) build --product reflex
	python3 scripts/cli_contract.py --reflex $(BUILD_DIR)/debug/reflex

test-swift: test-deps stamp
	$(SWIFT) test

# Every x86 int8 path this CPU can run, in C, against the reference (built with gcc).
test-c: test-deps
	bash scripts/test-c-kernels.sh

# The ARM paths, cross-compiled and run under qemu with three CPU models.
test-arm: test-deps
	bash scripts/test-arm.sh

# The whole `reflex` for aarch64-unknown-linux-gnu, Swift runtime linked statically
# (Toolchains/aarch64-linux/README.md): Debian sid's swiftlang in a sid amd64 root made by mmdebstrap,
# cross-compiling against an arm64 sysroot of CROSS_SUITE's packages. Needs root or sudo (chroot, bind mounts).
# Cold: about 1.5 GB of downloads; roots and downloads are cached in CROSS_CACHE.
# CROSS_SUITE=trixie (default) links trixie's arm64 libraries (the binary needs glibc 2.38, FFmpeg 7: runs on
# Debian 13 and Raspberry Pi OS); CROSS_SUITE=sid links sid's. The Swift runtime linked in is sid's either way.
CROSS_SUITE   ?= trixie
CROSS_SFX     := $(if $(filter-out sid,$(CROSS_SUITE)),-$(CROSS_SUITE))
CROSS_CACHE   ?= .build-cross
CROSS_SCRATCH ?= .build-arm64$(CROSS_SFX)
CROSS_SYSROOT := $(abspath $(CROSS_CACHE))/sysroot-arm64$(CROSS_SFX)
CROSS_BIN     := $(CROSS_SCRATCH)/aarch64-unknown-linux-gnu/release/reflex
cross:
	REFLEX_CROSS_CACHE=$(abspath $(CROSS_CACHE)) REFLEX_CROSS_SCRATCH=$(abspath $(CROSS_SCRATCH)) \
	  REFLEX_CROSS_TARGET_SUITE=$(CROSS_SUITE) bash Toolchains/aarch64-linux/build.sh

# That binary under qemu-aarch64-static with -cpu cortex-a72 / cortex-a76 / max: predict on every fixture case
# (fp32 tokens = reference, fp32 and int8 tokens = the x86 build's), bench kernels with each best path forced,
# check --offline on every profile, eval reach x2 (same outcomes as x86); then the binary in a clean arm64 root of
# CROSS_SUITE's runtime libraries only (runtime-root.sh). Part of `make test` (about 11 minutes from a cold cache).
test-cross: test-deps cross
	$(SWIFT) build --product reflex
	python3 Toolchains/aarch64-linux/test.py --reflex $(CROSS_BIN) --sysroot $(CROSS_SYSROOT) \
	  --x86 $(BUILD_DIR)/debug/reflex --out $(CROSS_SCRATCH)/test-cross.json
	bash Toolchains/aarch64-linux/runtime-root.sh $(CROSS_SUITE) $(CROSS_BIN) $(abspath $(CROSS_CACHE))/runtime-arm64-$(CROSS_SUITE)

# Debian packages (packaging/deb/build-deb.sh, dpkg-deb): /usr/bin/reflex, the unit in /usr/lib/systemd/system,
# profiles and the simulator policy in /usr/share/reflex, conffiles /etc/reflex/{board.yaml,reflex.env}, a
# postinst that creates the user 'reflex', Depends computed from the binary's NEEDED libraries.
# ARCH=arm64: the `make cross` binary (CROSS_SUITE's libraries: trixie by default, for Debian 13 / Raspberry Pi OS).
# ARCH=amd64: a release build here with --static-swift-stdlib (needs no Swift on the target), linking this
# host's libraries (Debian $(HOST_SUITE)). No ARCH: both. Output: $(DEB_DIR)/reflex_<version>_<arch>.deb.
DEB_DIR     ?= .build-deb
# The default (trixie) arm64 package goes to DEB_DIR, another CROSS_SUITE's to DEB_DIR/<suite> (same file name).
DEB_ARM64_DIR := $(DEB_DIR)$(if $(filter-out trixie,$(CROSS_SUITE)),/$(CROSS_SUITE))
DEB_VERSION := $(shell sed -n 's/^ *static let number = "\(.*\)"$$/\1/p' Sources/reflex/Reflex.swift)
HOST_SUITE  := $(shell . /etc/os-release 2>/dev/null; echo $${VERSION_CODENAME:-unknown})
deb: $(if $(ARCH),deb-$(ARCH),deb-arm64 deb-amd64)

# What building a package needs besides the Swift build: dpkg-shlibdeps (amd64) and the aarch64 strip.
DEB_PACKAGES := dpkg-dev binutils-aarch64-linux-gnu
deb-deps:
	$(call install_missing,$(DEB_PACKAGES))

deb-arm64: deb-deps cross
	bash packaging/deb/build-deb.sh arm64 $(CROSS_BIN) $(DEB_ARM64_DIR) $(CROSS_SYSROOT)

deb-amd64: deps deb-deps stamp
	$(SWIFT) build -c release --product reflex --static-swift-stdlib
	bash packaging/deb/build-deb.sh amd64 $(RELEASE) $(DEB_DIR)

# Each package into a clean Debian root of its architecture with apt (packaging/deb/test-install.sh): arm64 into
# CROSS_SUITE under qemu (proot), amd64 into HOST_SUITE (chroot); --version, the user, conffiles, check --offline
# on raspberry-pi-5.yaml, sim.yaml and /etc/reflex/board.yaml, remove and purge. Base roots cached in CROSS_CACHE.
test-deb: test-deps deb-arm64 deb-amd64
	$(SUDO) bash packaging/deb/test-install.sh arm64 $(CROSS_SUITE) $(DEB_ARM64_DIR)/reflex_$(DEB_VERSION)_arm64.deb $(CROSS_CACHE)
	$(SUDO) bash packaging/deb/test-install.sh amd64 $(HOST_SUITE) $(DEB_DIR)/reflex_$(DEB_VERSION)_amd64.deb $(CROSS_CACHE)

# Kernel benchmarks. With PyTorch installed (a developer tool, never a dependency), the same run
# also measures PyTorch's fp32 and dynamic int8 Linear on the same shapes and prints the ratios.
bench: release
	@mkdir -p out
	@if python3 -c "import torch" 2>/dev/null; then \
	  python3 tools/bench_vs_pytorch.py --reflex $(RELEASE) --out out/bench-vs-pytorch.json; \
	else \
	  echo "make bench: PyTorch not installed, measuring Reflex only (pip install torch for the comparison)"; \
	  $(RELEASE) bench kernels | tee out/bench-kernels.txt; \
	fi

# Motor-controller firmware: Embedded Swift for armv7em-none-none-eabi with the toolchain's clang and
# ld.lld (startup code and linker script in Toolchains/armv7em-none-eabi). FIRMWARE_TARGET=board
# builds for a real STM32F405 instead of qemu's netduinoplus2.
FW_DIR     := .build-firmware
# The bridge CLI for the HIL run is built in its own scratch folder.
FW_SCRATCH ?= .build-fw

firmware:
	bash scripts/firmware.sh $(FW_DIR)

# Hardware in the loop: the firmware under qemu-system-arm, USART1 on a pty driven by `reflex bridge`,
# USART2 (servo bus) on a pty where emulated servos answer its position reads; every servo-bus byte
# decoded independently. About 6 s after the builds.
hil: test-deps firmware stamp
	$(SWIFT) build --scratch-path $(FW_SCRATCH) --product reflex
	python3 scripts/hil.py --reflex $(FW_SCRATCH)/debug/reflex --elf $(FW_DIR)/reflex-fw.elf --out $(FW_DIR)/hil --json-out $(FW_DIR)/hil.json

clean:
	rm -rf $(BUILD_DIR) .build-c out $(FW_DIR)
