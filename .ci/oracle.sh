#!/usr/bin/env bash
# Runs every scenario of ../shared/oracle with the wsapi runner and compares
# our trace with Chromium's recorded one (../shared/oracle/results/).
#
#   bash .ci/oracle.sh [-o OUTDIR] [SCENARIO.json ...]
#
# Needs python3 (with websockets 17.4: installed here if missing) and node.
# Exit status 0 when every scenario's API trace agrees with Chromium's, or
# differs only where spec-notes/oracle.md lists the scenario as an exception
# (Chromium contradicts the standard, or the op has no Rust counterpart),
# and `wsapi judge` allows every one of our traces.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
ORACLE=${ORACLE:-$HERE/../shared/oracle}
OUT=""
while getopts "o:" opt; do
  case $opt in
    o) OUT=$OPTARG ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ -d "$ORACLE" ] || { echo "oracle: $ORACLE not found" >&2; exit 2; }
command -v node > /dev/null || { echo "oracle: node is required" >&2; exit 2; }
if ! python3 -c 'import websockets, sys; sys.exit(websockets.__version__ != "17.4")' 2> /dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check 'websockets==17.4' || exit 2
fi
[ -n "$OUT" ] || OUT=$(mktemp -d -t wsapi-oracle.XXXXXX)
mkdir -p "$OUT"
RUNNER=${WSAPI_RUNNER:-$HERE/target/debug/wsapi}
[ -x "$RUNNER" ] || (cd "$HERE" && cargo build -q -p wsapi-cli --bin wsapi) || exit 2

# The exceptions: scenario names whose API trace is expected to differ from Chromium's.
EXPECTED=$(sed -n 's/^| `\([a-z0-9-]*\)` | differs.*/\1/p' "$HERE/spec-notes/oracle.md")

if [ $# -eq 0 ]; then set -- "$ORACLE"/scenarios/*.json; fi
status=0
agree=0; differ_expected=0; differ_unexpected=0; agree_but_listed=0
for scenario in "$@"; do
  name=$(basename "$scenario" .json)
  portfile=$(mktemp -t wsapi-oracle-port.XXXXXX); rm -f "$portfile"
  : > "$OUT/$name.wsapi.server.log"
  python3 "$ORACLE/server.py" --port-file "$portfile" --log "$OUT/$name.wsapi.server.log" --lifetime 120 > /dev/null 2>&1 &
  spid=$!
  for _ in $(seq 1 100); do [ -s "$portfile" ] && break; kill -0 $spid 2> /dev/null || break; sleep 0.1; done
  if [ ! -s "$portfile" ]; then echo "ERROR $name: server did not start" >&2; status=2; kill $spid 2> /dev/null; continue; fi
  port=$(cat "$portfile"); rm -f "$portfile"
  timeout -k 5 120 "$RUNNER" scenario --base "ws://127.0.0.1:$port" "$scenario" > "$OUT/$name.wsapi.json" 2> "$OUT/$name.wsapi.stderr"
  rc=$?
  kill $spid 2> /dev/null; wait $spid 2> /dev/null
  if [ $rc -ne 0 ]; then echo "ERROR $name: runner exited $rc" >&2; tail -5 "$OUT/$name.wsapi.stderr" >&2; status=2; continue; fi
  verdict=$(node "$ORACLE/compare.js" --quiet "$ORACLE/results/$name.chromium.json" "$OUT/$name.wsapi.json")
  api=$(echo "$verdict" | head -1 | sed -n 's/.*API trace \(agree\|DIFFER[^,]*\).*/\1/p')
  wire=$(echo "$verdict" | head -1 | sed -n "s/.*server's view \(.*\)$/\1/p")
  listed=no; for e in $EXPECTED; do [ "$e" = "$name" ] && listed=yes; done
  if [ "$api" = agree ]; then
    agree=$((agree + 1)); mark="agree"
    [ $listed = yes ] && { agree_but_listed=$((agree_but_listed + 1)); mark="agree (listed as exception: update spec-notes/oracle.md)"; }
  elif [ $listed = yes ]; then
    differ_expected=$((differ_expected + 1)); mark="differs (expected, spec-notes/oracle.md)"
  else
    differ_unexpected=$((differ_unexpected + 1)); mark="DIFFERS (unexpected)"; status=1
  fi
  printf '%-34s API %-28s server %-20s %s\n' "$name" "$api" "$wire" "$mark"
  if [ "$mark" = "DIFFERS (unexpected)" ] || [ -n "${VERBOSE:-}" ]; then echo "$verdict" | tail -n +2 | sed 's/^/    /'; fi
done
echo "oracle: $agree agree, $differ_expected differ as documented, $differ_unexpected differ unexpectedly ($agree_but_listed agree though listed); traces in $OUT"
# The judge (spec-notes/judge.md): every trace of ours must be one the
# standard can produce, with what the server saw.
if "$RUNNER" judge "$OUT"/*.wsapi.json > "$OUT/judge.md"; then
  echo "oracle: the judge allows all our traces ($OUT/judge.md)"
else
  echo "oracle: the judge refuses some of our traces:" >&2
  grep -v '| allowed' "$OUT/judge.md" >&2
  status=1
fi
exit $status
