#!/usr/bin/env bash
# Rewrites call sites from the one `log::Event` enum to the enums by job
# (issue 26 point 7): `Event::Accepted {` -> `ConnEvent::Accepted {`,
# `Event::UdpTooBig` -> `UdpEvent::TooBig`, ... and fixes each file's
# `use crate::log::{...}` to import the groups it now uses.
#
# Usage: scripts/dev/rename-log-events.sh [--check] [--no-fmt] [PATH...]
#   PATH     files or directories of .rs files (default: src)
#   --check  change nothing; exit 1 if some file still needs rewriting
#   --no-fmt do not run `cargo fmt` after rewriting
#
# Idempotent: a second run finds nothing to do. On anything it cannot
# rewrite mechanically (an unknown variant, or a bare `Event` type in a file
# using several groups) it names file:line, rewrites nothing and exits 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 - "$@" <<'PY'
import pathlib
import re
import subprocess
import sys

# Old variant -> (group enum, new variant).
GROUPS = {
    "ConnEvent": "Queued Accepted TlsAccepted Message Closed Rejected Panicked PushFailed",
    "RelayEvent": "Upstream UpstreamFailed Fault RelayClosed=Closed",
    "UdpEvent": "UdpListening=Listening Datagram UdpRateLimited=RateLimited "
    "UdpTableFull=TableFull UdpTooBig=TooBig UdpError=Failed UdpDraining=Draining",
    "ServerEvent": "Listening StatusPort WebConsole TlsReady ListenerClosed AcceptError "
    "ShutdownStarted DrainTimeout ForcedStop Summary",
    "OpsEvent": "Warning Console RulesReloaded RulesNotReloaded StateSaved StateNotSaved",
}
RENAME = {}
for group, variants in GROUPS.items():
    for v in variants.split():
        old, _, new = v.partition("=")
        RENAME[old] = (group, new or old)

args = sys.argv[1:]
check = "--check" in args
fmt = "--no-fmt" not in args
paths = [a for a in args if not a.startswith("--")] or ["src"]
files = []
for p in map(pathlib.Path, paths):
    files += sorted(p.rglob("*.rs")) if p.is_dir() else [p]

# `use crate::log::{...};` or `use crate::log::Name;`, maybe over several lines.
USE = re.compile(r"use crate::log::(\{[^}]*\}|\w+);")
QUALIFIED = re.compile(r"(?<![\w:])crate::log::Event::(\w+)")
BARE = re.compile(r"(?<![\w:])Event::(\w+)")
TYPE = re.compile(r"(?<![\w:])Event\b(?!::)")
errors = []


def imports_event(text):
    return any(re.search(r"\bEvent\b", m.group(1)) for m in USE.finditer(text))


def rewrite(path, text):
    in_log = path.parts[-2:-1] == ("log",) or path.name == "log.rs"
    bare = in_log or imports_event(text)
    used = set()

    def sub(m):
        variant = m.group(1)
        if variant not in RENAME:
            line = text.count("\n", 0, m.start()) + 1
            errors.append(f"{path}:{line}: Event::{variant}: no such variant in the map")
            return m.group(0)
        group, new = RENAME[variant]
        used.add(group)
        prefix = "crate::log::" if m.group(0).startswith("crate::") else ""
        return f"{prefix}{group}::{new}"

    text = QUALIFIED.sub(sub, text)
    if bare:
        text = BARE.sub(sub, text)
    if not imports_event(text):
        return text
    # Groups already named in the file count too (a second run, a merge).
    used |= {g for g in GROUPS if re.search(rf"(?<![\w:]){g}\b", text)}
    # A remaining bare `Event` type (`-> Event<'static>`) outside the imports.
    lines = text.split("\n")
    in_use = set()
    for m in USE.finditer(text):
        first = text.count("\n", 0, m.start())
        in_use |= set(range(first, first + m.group(0).count("\n") + 1))
    for i, line in enumerate(lines):
        code = line.split("//")[0]
        if i in in_use or not TYPE.search(code):
            continue
        if len(used) != 1:
            errors.append(f"{path}:{i + 1}: bare `Event` type, groups used: {sorted(used)}")
            continue
        lines[i] = TYPE.sub(next(iter(used)), code) + line[len(code):]
    text = "\n".join(lines)

    def fix_use(m):
        items = m.group(1).strip("{}")
        names = [n.strip() for n in items.split(",") if n.strip()]
        if "Event" not in names:
            return m.group(0)
        names = [n for n in names if n != "Event"]
        names += [g for g in sorted(used) if g not in names]
        if not names:
            return ""
        if len(names) == 1:
            return f"use crate::log::{names[0]};"
        return "use crate::log::{" + ", ".join(names) + "};"

    return USE.sub(fix_use, text)


changed = []
for path in files:
    old = path.read_text()
    new = rewrite(path, old)
    if new != old:
        changed.append((path, new))
for e in errors:
    print("error: " + e, file=sys.stderr)
if errors:
    print("nothing rewritten: fix these by hand first, then run again", file=sys.stderr)
    sys.exit(2)
for path, new in changed:
    if not check:
        path.write_text(new)
changed = [path for path, _ in changed]
for path in changed:
    print(("needs rewriting: " if check else "rewrote ") + str(path))
if check:
    sys.exit(1 if changed else 0)
if not changed:
    print("nothing to rewrite")
elif fmt:
    subprocess.run(["cargo", "fmt"], check=True)
PY
