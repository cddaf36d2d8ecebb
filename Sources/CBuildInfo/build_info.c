#include "rk_build_info.h"

// Written by scripts/stamp-commit.sh (untracked, rewritten only when the commit changes, so only this file
// recompiles): #define REFLEX_COMMIT "1a2b3c4".
#if __has_include("reflex_commit.h")
#include "reflex_commit.h"
#endif
#ifndef REFLEX_COMMIT
#define REFLEX_COMMIT "unknown"
#endif

const char *rk_build_commit(void) { return REFLEX_COMMIT; }
