#!/usr/bin/env bash
# Autobahn|Testsuite (the fuzzing server) against the wsapi client.
#
#   bash .ci/autobahn.sh           # CI set: categories 1-10 and a sample of 12/13 (about 2 min)
#   bash .ci/autobahn.sh full      # every case, deflate included (about 12 min)
#   bash .ci/autobahn.sh full --update   # rewrite .ci/autobahn-expected.json from this run
#
# Installs autobahntestsuite 25.10.1 into a Python 2.7 virtualenv cached in
# .ci/cache/ (gitignored), starts `wstest -m fuzzingserver` on 127.0.0.1 on a
# free port (through .ci/autobahn_server.py, which binds it to loopback),
# runs `props/src/bin/autobahn_client.rs`, and compares each case's
# verdict with .ci/autobahn-expected.json: any FAILED case, or any verdict
# that differs from the committed one, fails the script. Reports (HTML and
# JSON) stay in target/autobahn/. Why each non-OK verdict is what it is:
# spec-notes/autobahn.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-ci}
update=${2:-}
case "$mode" in ci|full) ;; *) echo "usage: $0 [ci|full] [--update]" >&2; exit 2;; esac

py27=${PYTHON27:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/2.7.18/bin/python2.7}
if ! [ -x "$py27" ]; then
  cat >&2 <<MSG
autobahn: Python 2.7 not found at $py27.
The Autobahn fuzzing server (autobahntestsuite) runs only on Python 2.7.
Install it with 'pyenv install 2.7.18', or point PYTHON27 at a python2.7.
MSG
  exit 1
fi

cache=.ci/cache
venv=$cache/autobahn-venv
if ! [ -x "$venv/bin/wstest" ]; then
  echo "autobahn: installing autobahntestsuite==25.10.1 into $venv"
  [ -d "$cache/virtualenv-pkg/virtualenv" ] ||
    python3 -m pip install -q --disable-pip-version-check --target "$cache/virtualenv-pkg" 'virtualenv<20.22'
  rm -rf "$venv"
  PYTHONPATH="$cache/virtualenv-pkg" python3 -m virtualenv -q -p "$py27" "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-python-version-warning autobahntestsuite==25.10.1
fi

# CI: the debug build `cargo test --workspace` already made (a cold release
# build costs about 4 minutes); the full run: release, where 16 MiB echoes
# and inflating are many times faster.
if [ "$mode" = full ]; then profile=release; else profile=${AUTOBAHN_PROFILE:-debug}; fi
if [ "$profile" = release ]; then
  cargo build -q --release -p wsapi-props --bin autobahn_client
else
  cargo build -q -p wsapi-props --bin autobahn_client
fi

out=target/autobahn/$mode
rm -rf "$out"
mkdir -p "$out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ -n "${AUTOBAHN_CASES:-}" ]; then
  cases=$AUTOBAHN_CASES  # a JSON list, for reruns of a few cases (verdicts of others are not compared)
elif [ "$mode" = full ]; then
  cases='["*"]'
else
  # 12 and 13 (permessage-deflate) take about 10 minutes in full: the first
  # and last case of each group, with small and large messages, and 12.2.9
  # and 12.2.14, whose image data once caught our compressor ending a
  # message before its sync flush was complete.
  cases='["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*",
          "12.1.1", "12.2.9", "12.2.10", "12.2.14", "12.3.18", "12.4.5", "12.5.17",
          "13.1.1", "13.3.10", "13.5.18", "13.6.5", "13.7.17"]'
fi
cat > "$out/fuzzingserver.json" <<JSON
{
  "url": "ws://127.0.0.1:$port",
  "outdir": "$out/reports",
  "cases": $cases,
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
JSON

# wstest -m fuzzingserver, bound to 127.0.0.1 (see .ci/autobahn_server.py).
"$venv/bin/python" .ci/autobahn_server.py "$out/fuzzingserver.json" > "$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then echo "autobahn: the server did not start:" >&2; cat "$out/server.log" >&2; exit 1; fi
  sleep 0.2
done

start=$SECONDS
"target/$profile/autobahn_client" "ws://127.0.0.1:$port" wsapi
echo "autobahn: client done in $((SECONDS - start)) s"
kill "$server" 2>/dev/null || true
trap - EXIT

python3 .ci/autobahn_verdicts.py "$out/reports/index.json" .ci/autobahn-expected.json "$mode" $update
