"""Compares an Autobahn client report with the committed verdicts.

usage: autobahn_verdicts.py REPORT_INDEX EXPECTED MODE [--update]

Prints the verdict counts; fails (exit 1) if any case is FAILED (behavior or
behaviorClose), if a case run has a verdict other than the committed one, or,
in `full` mode, if a committed case was not run. A committed verdict may name
alternatives, "NON-STRICT|OK", for the cases whose outcome depends on a race
the standard allows (spec-notes/autobahn.md says which and why).
`--update` (full mode only) rewrites EXPECTED from the report instead,
keeping a committed set of alternatives when the new verdict is one of them.
"""
import json
import sys
from collections import Counter


def case_key(case):
    return tuple(int(p) for p in case.split("."))


def main():
    report_path, expected_path, mode = sys.argv[1:4]
    update = "--update" in sys.argv[4:]
    with open(report_path) as f:
        report = json.load(f)["wsapi"]
    got = {case: r["behavior"] for case, r in report.items()}
    counts = Counter(got.values())
    print("autobahn: %d cases: %s" % (len(got), ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    if update:
        if mode != "full":
            sys.exit("autobahn: --update needs a full run")
        try:
            with open(expected_path) as f:
                old = json.load(f)
        except (IOError, ValueError):
            old = {}
        for case, verdict in got.items():
            if verdict in old.get(case, "").split("|"):
                got[case] = old[case]
        with open(expected_path, "w") as f:
            json.dump(dict(sorted(got.items(), key=lambda kv: case_key(kv[0]))), f, indent=0)
            f.write("\n")
        print("autobahn: wrote %s" % expected_path)
        return
    with open(expected_path) as f:
        expected = json.load(f)
    problems = []
    for case in sorted(report, key=case_key):
        r = report[case]
        if r["behavior"] == "FAILED" or r["behaviorClose"] == "FAILED":
            problems.append("%s FAILED (behavior %s, close %s)" % (case, r["behavior"], r["behaviorClose"]))
        elif case not in expected:
            problems.append("%s is not in %s" % (case, expected_path))
        elif r["behavior"] not in expected[case].split("|"):
            problems.append("%s: %s, expected %s" % (case, r["behavior"], expected[case]))
    if mode == "full":
        problems += ["%s was not run" % c for c in sorted(set(expected) - set(got), key=case_key)]
    for p in problems:
        print("autobahn: " + p)
    if problems:
        sys.exit("autobahn: %d problem(s); reports in %s" % (len(problems), report_path.rsplit("/", 1)[0]))
    print("autobahn: every verdict is the committed one")


if __name__ == "__main__":
    main()
