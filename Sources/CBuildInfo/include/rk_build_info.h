#ifndef RK_BUILD_INFO_H
#define RK_BUILD_INFO_H
/// The git commit this binary was built from ("1a2b3c4", "1a2b3c4-dirty"), or "unknown" when the build did not
/// stamp it. `make` and Toolchains/aarch64-linux/build.sh write it (scripts/stamp-commit.sh) into
/// Sources/CBuildInfo/reflex_commit.h (untracked) before they build; a plain `swift build` reuses what is there.
const char *rk_build_commit(void);
#endif
