#!/usr/bin/env bash
# Writes the git commit of this checkout into Sources/CBuildInfo/reflex_commit.h, which `reflex --version`
# prints ("reflex 0.1.0 (x86_64, commit 1a2b3c4)"; "-dirty" when tracked files differ from the commit).
# Rewrites the file only when its content changes, so an unchanged commit rebuilds nothing.
# Outside a git checkout (a source tarball) the commit is "unknown" unless a stamp is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/Sources/CBuildInfo/reflex_commit.h"
commit=unknown
if c="$(git -C "$ROOT" rev-parse --short=7 HEAD 2>/dev/null)"; then
    commit="$c"
    git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || commit="$c-dirty"
elif [ -e "$OUT" ]; then
    exit 0   # git unusable here (e.g. root in a user's checkout after sudo): keep what was stamped
fi
new="#define REFLEX_COMMIT \"$commit\""
if [ ! -e "$OUT" ] || [ "$(cat "$OUT")" != "$new" ]; then
    echo "$new" > "$OUT"
    echo "stamp-commit: $commit"
fi
