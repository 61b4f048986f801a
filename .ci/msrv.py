#!/usr/bin/env python3
"""Checks the declared minimum Rust version (workspace `rust-version`)
against the committed lock file, without that toolchain (only stable and
nightly exist on the CI machine, and no other can be fetched).

    python3 .ci/msrv.py

Reads `cargo metadata --locked --all-features` (every optional dependency,
every platform) and fails if a package our published crates depend on,
normally or at build time, declares a `rust-version` above ours, or if one of
our own packages declares another version than the workspace. Dev-only
dependencies (test tools) are reported, and fail too: `cargo test` on the
declared version must work for contributors.

What this proves: with the committed Cargo.lock, no dependency *says* it
needs a newer compiler. What it cannot prove: that every dependency's claim
is true, that crates which declare no `rust-version` (listed) build on it,
or that our own code only uses language features of that version (clippy's
`incompatible_msrv` lint, on by default and run by CI with -D warnings,
checks our use of std APIs against `rust-version`; syntax is not checked).
"""
import json
import subprocess
import sys


def version(text):
    parts = [int(p) for p in (text or "0").split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def show(v):
    return ".".join(str(p) for p in v[:2]) + ("" if v[2] == 0 else f".{v[2]}")


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    members = [packages[i] for i in meta["workspace_members"]]
    declared = {p["name"]: version(p.get("rust_version")) for p in members}
    msrv = max(declared.values())
    problems = [
        f"{name} declares rust-version {show(v)}, the workspace {show(msrv)}"
        for name, v in declared.items()
        if v != msrv
    ]
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    published = [p["id"] for p in members if p.get("publish") is None or p.get("publish")]

    def closure(starts, kinds):
        seen, stack = set(), list(starts)
        while stack:
            node = nodes[stack.pop()]
            for dep in node["deps"]:
                if any(k["kind"] in kinds for k in dep["dep_kinds"]) and dep["pkg"] not in seen:
                    seen.add(dep["pkg"])
                    stack.append(dep["pkg"])
        return seen

    normal = closure(published, {None, "build"})
    everything = closure([p["id"] for p in members], {None, "build", "dev"})
    undeclared = sorted(packages[i]["name"] for i in normal if not packages[i].get("rust_version"))
    for what, ids in (("dependency of a published crate", normal), ("test-only dependency", everything - normal)):
        for i in sorted(ids, key=lambda i: packages[i]["name"]):
            p = packages[i]
            need = version(p.get("rust_version"))
            if need > msrv and p["source"] is not None:
                problems.append(f"{p['name']} {p['version']} ({what}) needs Rust {show(need)}")
    top = max((version(packages[i].get("rust_version")), packages[i]["name"]) for i in everything if packages[i]["source"])
    print(f"declared MSRV {show(msrv)}; {len(normal)} packages under the published crates, "
          f"{len(everything)} with test tools; the most demanding is {top[1]} ({show(top[0])})")
    print(f"{len(undeclared)} dependencies of published crates declare no rust-version: {', '.join(undeclared)}")
    if problems:
        print("MSRV check failed:", *problems, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    print("MSRV check passed")


if __name__ == "__main__":
    main()
