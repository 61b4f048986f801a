#!/usr/bin/env bash
# The oracle's scenarios (../shared/oracle/scenarios/) through the wasm32
# build in headless Chromium (impl/tests/browser_oracle.rs, the CLI's own
# scenario runner), each trace compared with native wsapi's of the same
# scenario (the oracle's compare.js) and judged (`wsapi judge`, with the
# server's log of that scenario).
#
#   bash .ci/browser_oracle.sh [-o OUTDIR]
#
# Exit status 0 when every scenario's API trace equals native wsapi's and
# the judge allows it, or differs where spec-notes/wasm.md lists it
# ("| `name` | differs: `rule`") and the judge refuses the wasm trace with
# that rule; 1 otherwise; 2 when a runner or a server failed. Ops a Rust
# API cannot express are skipped by both runners alike (the runner is the
# same code) and counted.
set -euo pipefail
cd "$(dirname "$0")/.."
HERE=$(pwd)
ORACLE=${ORACLE:-$HERE/../shared/oracle}
OUT=""
while getopts "o:" opt; do
    case $opt in
        o) OUT=$OPTARG ;;
        *) sed -n '2,15p' "$0"; exit 2 ;;
    esac
done
[ -d "$ORACLE" ] || { echo "browser oracle: $ORACLE not found" >&2; exit 2; }
command -v node >/dev/null || { echo "browser oracle: node is required" >&2; exit 2; }
. .ci/browser-setup.sh
[ -n "$OUT" ] || OUT=$(mktemp -d -t wsapi-browser-oracle.XXXXXX)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
started=$SECONDS

# Native wsapi's traces (NAME.wsapi.json and its server log), by the oracle
# step's own script; its verdicts against Chromium are that step's business
# (status 1), a runner or server failure is not (status 2).
cargo build -q -p wsapi-cli --bin wsapi
RUNNER=$HERE/target/debug/wsapi
rc=0; WSAPI_RUNNER=$RUNNER bash .ci/oracle.sh -o "$OUT" > "$OUT/native.txt" 2>&1 || rc=$?
[ $rc -le 1 ] || { cat "$OUT/native.txt" >&2; echo "browser oracle: the native runs failed" >&2; exit 2; }

# One server per scenario, all listening before the test is built: the
# page gets their addresses at compile time, and each scenario's server log
# holds only that scenario's connections (the comparison's server's view
# and the judge read it).
dir=$(mktemp -d)
servers=()
stop_servers() { for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done; servers=(); }
trap 'stop_servers; rm -rf "$dir"' EXIT
names=()
for scenario in "$ORACLE"/scenarios/*.json; do
    name=$(basename "$scenario" .json)
    names+=("$name")
    : > "$OUT/$name.wsapi-wasm.server.log"
    python3 "$ORACLE/server.py" --port 0 --port-file "$dir/$name.port" \
        --log "$OUT/$name.wsapi-wasm.server.log" --lifetime 900 >/dev/null 2>&1 &
    servers+=($!)
done
for name in "${names[@]}"; do
    # Each server writes its file once it listens (bounded: 20 s).
    for _ in $(seq 200); do [ -s "$dir/$name.port" ] && break; sleep 0.1; done
    [ -s "$dir/$name.port" ] || { echo "browser oracle: the server for $name did not start" >&2; exit 2; }
done
WSAPI_ORACLE_SCENARIOS=$(python3 - "$ORACLE/scenarios" "$dir" "${names[@]}" <<'PY'
import json, sys
scenarios, ports, names = sys.argv[1], sys.argv[2], sys.argv[3:]
out = []
for n in names:
    port = open(f"{ports}/{n}.port").read().strip()
    # The file's text as it is (lone-surrogate escapes included): the
    # runner reads it as `wsapi scenario` reads the file.
    text = open(f"{scenarios}/{n}.json", encoding="utf-8").read()
    out.append({"name": n, "base": f"ws://127.0.0.1:{port}", "text": text})
print(json.dumps(out))
PY
)
export WSAPI_ORACLE_SCENARIOS
# Every scenario is bounded (its waits, 60 s at most each); all of them take
# well under a minute in Chromium.
export WASM_BINDGEN_TEST_TIMEOUT=400
# The same features as .ci/browser.sh, so that both share one build of wsapi.
(cd impl && timeout -k 10 500 cargo test -p wsapi --target wasm32-unknown-unknown \
    --features test-fake-divergence --test browser_oracle -- --nocapture) > "$dir/test.out" 2>&1 || {
    tail -30 "$dir/test.out" >&2; echo "browser oracle: the browser run failed" >&2; exit 2; }
stop_servers
python3 - "$dir/test.out" "$OUT" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    if "WSAPI-ORACLE-ERROR" in line:
        print(line.strip(), file=sys.stderr)
    at = line.find("WSAPI-ORACLE-TRACE ")
    if at >= 0:
        trace = json.loads(line[at + len("WSAPI-ORACLE-TRACE "):])
        with open(f"{sys.argv[2]}/{trace['scenario']}.wsapi-wasm.json", "w", encoding="utf-8") as f:
            json.dump(trace, f, ensure_ascii=False)
            f.write("\n")
PY

# The judge on every wasm trace, with its server log beside it.
"$RUNNER" judge "$OUT"/*.wsapi-wasm.json > "$OUT/judge-wasm.md" || true

# The documented differences: rows "| `name` | differs: `rule` | ..." of spec-notes/wasm.md.
expected_rule() { sed -n "s/^| \`$1\` | differs: \`\\([a-z0-9-]*\\)\`.*/\\1/p" spec-notes/wasm.md; }
status=0; equal=0; documented=0; unexpected=0; skipped_scenarios=0
printf '| scenario | API trace vs native | server'"'"'s view | ops skipped | judge (wasm trace) |\n|---|---|---|---|---|\n' > "$OUT/table.md"
for name in "${names[@]}"; do
    wasm=$OUT/$name.wsapi-wasm.json
    if [ ! -s "$wasm" ]; then
        echo "browser oracle: no wasm trace for $name" >&2; status=2; continue
    fi
    verdict=$(node "$ORACLE/compare.js" --quiet "$OUT/$name.wsapi.json" "$wasm" || true)
    api=$(echo "$verdict" | head -1 | sed -n 's/.*API trace \(agree\|DIFFER[^,]*\).*/\1/p')
    wire=$(echo "$verdict" | head -1 | sed -n "s/.*server's view \(.*\)$/\1/p")
    skipped=$( (grep -o '"skipped"' "$wasm" || true) | wc -l)
    [ "$skipped" -eq 0 ] || skipped_scenarios=$((skipped_scenarios + 1))
    row=$(grep "^| $name | " "$OUT/judge-wasm.md" || true)
    judged=$(echo "$row" | awk -F' [|] ' '{ print $3 }')
    rule=$(echo "$row" | awk -F' [|] ' '{ print $4 }' | sed -n 's/^`\([a-z0-9-]*\)`.*/\1/p')
    want=$(expected_rule "$name")
    if [ "$api" = agree ]; then
        equal=$((equal + 1)); mark="equal"
        [ -z "$want" ] || { mark="EQUAL, but listed as a difference"; status=1; }
        # Native wsapi's trace is allowed (.ci/oracle.sh); the same API trace
        # refused would be the judge's inconsistency or the server's view.
        [ "$judged" = allowed ] || { mark="equal, but the judge refuses it"; status=1; }
    elif [ -n "$want" ] && [ "$judged" = "**not allowed**" ] && [ "$rule" = "$want" ]; then
        documented=$((documented + 1)); mark="differs (documented)"
    else
        unexpected=$((unexpected + 1)); mark="DIFFERS (unexpected)"; status=1
    fi
    j=allowed; [ "$judged" = "**not allowed**" ] && j="not allowed: \`$rule\`"
    [ -n "$judged" ] || j="(no verdict)"
    printf '| `%s` | %s | %s | %s | %s |\n' "$name" "$mark" "$wire" "$skipped" "$j" >> "$OUT/table.md"
    if [ "$mark" != equal ] && [ "$mark" != "differs (documented)" ] || [ -n "${VERBOSE:-}" ]; then
        echo "$verdict" | tail -n +2 | sed "s/^/    $name: /" >&2
    fi
done
cat "$OUT/table.md"
echo "browser oracle: $equal equal to native ($skipped_scenarios of all with skipped ops), $documented differ as documented (judge refuses with the listed rule), $unexpected differ unexpectedly; $((SECONDS - started)) s; traces in $OUT"
exit $status
