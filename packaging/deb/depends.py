#!/usr/bin/env python3
"""The Debian `Depends:` of the cross-built (arm64) reflex, from the packages its sysroot was made of.

Toolchains/aarch64-linux/build.sh unpacks the sysroot from the target suite's .debs and keeps, in
<sysroot>/.reflex-dpkg/, what `dpkg -S` and the packages' control files would give: `files` (one "<package>
<path>" line per shipped file), `<package>.shlibs` and `<package>.symbols`. The rules are dpkg-shlibdeps's:
  - each shared library the binary needs (ELF NEEDED) maps to the package that ships that file (under
    /usr/lib/<triplet>/ and its subfolders, e.g. OpenBLAS's openblas-pthread/);
  - when that package has a symbols file, the minimum version is the highest one among the symbols the binary
    actually imports from it (`readelf --dyn-syms`: name@VERSION_TAG; `(symver)TAG` and `*@TAG` entries match a
    whole tag), written into the file's dependency template (`libc6 #MINVER#` -> `libc6 (>= 2.38)`);
  - otherwise the package's shlibs entry for that soname, e.g. `libopenblas0`.
dpkg-shlibdeps itself cannot be used: it finds a library's package through the host's dpkg database.

Usage: depends.py --binary reflex --index SYSROOT/.reflex-dpkg [--extra passwd]
Prints the Depends value on stdout and the mapping on stderr; exits 1 naming every soname it cannot map.
"""
import argparse, functools, os, re, subprocess, sys


def sh(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"depends: error: {' '.join(cmd)} failed (exit {p.returncode}): {p.stderr.strip()[-500:]}")
    return p.stdout


def dpkg_cmp(a, b):
    if a == b:
        return 0
    return -1 if subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0 else 1


def vmax(versions):
    return max(versions, key=functools.cmp_to_key(dpkg_cmp)) if versions else None


def imports(binary):
    """{tag: library file} from .gnu.version_r, and the imported symbols as (name, tag or None)."""
    tag_lib, lib = {}, None
    for line in sh(["readelf", "-V", "-W", binary]).splitlines():
        m = re.search(r"File: (\S+)", line)
        if m:
            lib = m.group(1)
        m = re.search(r"Name: (\S+)", line)
        if m and lib:
            tag_lib[m.group(1)] = lib
    syms = set()
    for line in sh(["readelf", "--dyn-syms", "-W", binary]).splitlines():
        f = line.split()
        if len(f) >= 8 and f[6] == "UND" and f[7]:
            name, _, tag = f[7].partition("@")
            syms.add((name, tag.lstrip("@").split(" ")[0] or None))
    return tag_lib, syms


def parse_symbols(path):
    """{soname: (templates, {name@tag: minver}, {tag: minver})} from a deb-symbols(5) file."""
    out, cur = {}, None
    for line in open(path):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        if line.startswith((" ", "\t")) and cur:
            f = line.split()
            if len(f) < 2:
                continue
            # "symbol minver [id]": id picks the dependency template (0: the main one, n: the n-th "|" line).
            sym, ver = f[0], (f[1], int(f[2]) if len(f) > 2 and f[2].isdigit() else 0)
            m = re.match(r"^\(([^)]*)\)(.*)$", sym)
            opts, sym = (m.group(1), m.group(2)) if m else ("", sym)
            if "symver" in opts.split("|"):
                cur[2][sym] = ver
            elif sym.startswith("*@"):
                cur[2][sym[2:]] = ver
            else:
                cur[1][sym] = ver
        elif line.startswith("|") and cur:
            cur[0].append(line[1:].strip())
        elif line.startswith("*"):
            continue
        else:
            soname, _, template = line.partition(" ")
            cur = out.setdefault(soname, ([template.strip()], {}, {}))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--index", required=True, help="the sysroot's .reflex-dpkg folder")
    ap.add_argument("--extra", action="append", default=[], help="another dependency to add (e.g. passwd)")
    a = ap.parse_args()

    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", sh(["readelf", "-d", "-W", a.binary]))
    tag_lib, syms = imports(a.binary)
    print(f"depends: NEEDED {' '.join(needed)}; {len(syms)} imported symbols", file=sys.stderr)

    files = os.path.join(a.index, "files")
    if not os.path.exists(files):
        sys.exit(f"depends: error: {files} is missing (the sysroot predates it: make cross rebuilds it)")
    owners = {s: set() for s in needed}
    with open(files) as f:
        for line in f:
            pkg, _, path = line.rstrip("\n").partition(" ")
            base = path.rsplit("/", 1)[-1]
            if base in owners and re.match(r"^/(usr/)?lib/", path):
                owners[base].add(pkg)

    deps, failures = [], []
    for soname in needed:
        pkgs = sorted(owners[soname])
        if not pkgs:
            failures.append(f"{soname}: no package in the sysroot ships it")
            continue
        dep, how = None, None
        for pkg in pkgs:   # symbols first (dpkg-shlibdeps's order)
            path = os.path.join(a.index, pkg + ".symbols")
            entry = parse_symbols(path).get(soname) if os.path.exists(path) else None
            if not entry:
                continue
            templates, exact, by_tag = entry
            vers = {}   # template id -> minimum versions of the imported symbols that use it
            for name, tag in syms:
                if tag and tag_lib.get(tag) == soname:
                    v = exact.get(f"{name}@{tag}") or by_tag.get(tag)
                elif not tag:
                    v = exact.get(f"{name}@Base")
                else:
                    continue
                if v:
                    vers.setdefault(v[1], set()).add(v[0])
            parts = []
            for i in sorted(vers or {0: set()}):
                if i >= len(templates):
                    sys.exit(f"depends: error: {path}: a symbol refers to dependency template {i}, which is missing")
                minver = vmax({v for v in vers.get(i, set()) if v != "0"})
                t = templates[i].replace("#MINVER#", f"(>= {minver})" if minver else "")
                parts.append(re.sub(r"\s+", " ", t.replace("#PRIVATE#", "")).strip().rstrip(","))
            dep = ", ".join(parts)
            how = f"symbols of {pkg}: {sum(map(len, vers.values()))} minimum versions among the imported symbols"
            break
        if dep is None:
            m = re.match(r"^(.*)\.so\.(.+)$", soname)
            entries = set()
            for pkg in pkgs:
                path = os.path.join(a.index, pkg + ".shlibs")
                for line in open(path) if (m and os.path.exists(path)) else []:
                    f = line.split(None, 2)
                    if len(f) == 3 and f[0] == m.group(1) and f[1] == m.group(2):
                        entries.add(f[2].strip())
            if entries:
                dep, how = " | ".join(sorted(entries)), f"shlibs of {', '.join(pkgs)}"
        if dep is None:
            failures.append(f"{soname}: shipped by {', '.join(pkgs)}, which have no symbols or shlibs entry for it")
            continue
        print(f"depends: {soname:24} -> {dep:44} ({how})", file=sys.stderr)
        deps.append(dep)
    if failures:
        sys.exit("depends: error: cannot map:\n  " + "\n  ".join(failures))
    # One entry per package: of several constraints on the same package keep the highest.
    best = {}
    for d in deps + a.extra:
        m = re.match(r"^(\S+) \(>= ([^)]+)\)$", d)
        key = m.group(1) if m else d.split(" ")[0]
        if "|" in d:
            key = d
        if key not in best or (m and (not re.search(r">=", best[key]) or
                                      dpkg_cmp(m.group(2), re.search(r">= ([^)]+)", best[key]).group(1)) > 0)):
            best[key] = d
    print(", ".join(sorted(best.values())))


if __name__ == "__main__":
    main()
