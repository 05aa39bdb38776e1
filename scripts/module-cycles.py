#!/usr/bin/env python3
"""Fails if two modules of src/ import each other, directly or round a circle.

Usage: scripts/module-cycles.py [SRC_DIR]   (part of `make lint`)

Reads every `crate::…`, `super::…` and `child::…` path in each file (its
tests module excluded) and prints the module graph's cycles, if any.
"""
import pathlib
import re
import sys

args = [a for a in sys.argv[1:] if a != "--graph"]
src = pathlib.Path(args[0] if args else "src")


def module_of(path):
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return tuple(parts)


# main.rs is the binary: it uses the library from outside.
modules = {module_of(p): p for p in src.rglob("*.rs") if p != src / "main.rs"}


def resolve(base, path):
    """The longest known module that `path` (a list of segments) names, from `base`."""
    segments = list(path)
    if segments[0] == "crate":
        here, segments = (), segments[1:]
    elif segments[0] in ("super", "self"):
        here = base
        while segments and segments[0] in ("super", "self"):
            here = here[:-1] if segments[0] == "super" else here
            segments = segments[1:]
    else:
        return None
    best = None
    for n in range(len(segments) + 1):
        candidate = here + tuple(segments[:n])
        if candidate in modules:
            best = candidate
    return best


edges = {}
for module, path in modules.items():
    text = path.read_text()
    # The inline tests module (last in a file) is left out; a `#[cfg(test)]`
    # on a single item elsewhere is not the end of the file's code.
    text = re.split(r"#\[cfg\(test\)\]\s*mod \w+\s*\{", text)[0]
    # `pub(in crate::server)` limits who sees an item: it imports nothing.
    text = re.sub(r"pub\(in [^)]*\)", "pub", text)
    base = module
    targets = set()
    for match in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", text):
        segs = match.group(1).split("::")
        target = resolve(base if segs[0] != "crate" else (), segs)
        if target is not None and target != module and target != ():
            targets.add(target)
    # A `use super::{a, b}` group.
    for match in re.finditer(r"use (crate|super)::\{([^}]*)\}", text):
        for name in re.findall(r"\b(\w+)\b", match.group(2)):
            target = resolve(base if match.group(1) == "super" else (), [match.group(1), name])
            if target is not None and target != module and target != ():
                targets.add(target)
    # Paths that start at a child module this file declares (`mod input;` … `input::x`).
    for child in re.findall(r"^\s*(?:pub(?:\([^)]*\))? )?mod (\w+);", text, re.M):
        if re.search(rf"(?<![\w:]){child}::", text) and module + (child,) in modules:
            targets.add(module + (child,))
    edges[module] = targets


def name(m):
    return "::".join(m) or "crate"


cycles = []
for a, outs in edges.items():
    for b in outs:
        if a in edges.get(b, ()):
            if (b, a) not in cycles:
                cycles.append((a, b))

# Longer circles: depth-first search for a back edge.
state = {}
longer = []


def visit(m, stack):
    state[m] = "open"
    stack.append(m)
    for n in sorted(edges.get(m, ())):
        if state.get(n) == "open":
            longer.append(stack[stack.index(n):] + [n])
        elif n not in state:
            visit(n, stack)
    stack.pop()
    state[m] = "done"


for m in sorted(edges):
    if m not in state:
        visit(m, [])

if "--graph" in sys.argv:
    for m in sorted(edges):
        print(name(m), "->", ", ".join(sorted(name(t) for t in edges[m])))

if cycles or longer:
    for a, b in cycles:
        print(f"error: {name(a)} and {name(b)} import each other", file=sys.stderr)
    for circle in longer:
        print("error: import circle: " + " -> ".join(name(m) for m in circle), file=sys.stderr)
    sys.exit(1)
print(f"no import cycles among {len(modules)} modules")
