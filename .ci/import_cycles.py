#!/usr/bin/env python3
"""Fails if the modules of impl/src/ import each other in a circle.

A module's imports are the `crate::NAME` paths in its code (comments and
doc links are not imports). Each top-level module counts once, its
submodules with it (`frame/decode.rs` is `frame`). Prints the circles found.
"""
import glob
import os
import re
import sys

root = os.path.join(os.path.dirname(__file__), "..", "impl", "src")
deps = {}
for path in glob.glob(os.path.join(root, "**", "*.rs"), recursive=True):
    rel = os.path.relpath(path, root)
    module = rel.split(os.sep)[0].removesuffix(".rs")
    code = "\n".join(l for l in open(path, encoding="utf-8") if not l.strip().startswith("//"))
    deps.setdefault(module, set()).update(m for m in re.findall(r"crate::([a-z_][a-z0-9_]*)", code) if m != module)


def reachable(start):
    seen, todo = set(), [start]
    while todo:
        for nxt in deps.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


circles = sorted({tuple(sorted((a, b))) for a in deps for b in deps[a] if a in reachable(b)})
if circles:
    for a, b in circles:
        print(f"import circle in impl/src/: {a} and {b} reach each other", file=sys.stderr)
    sys.exit(1)
print(f"no import circle among the {len(deps)} modules of impl/src/")
