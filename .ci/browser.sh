#!/usr/bin/env bash
# The wasm32 build's browser tests (impl/tests/browser.rs): headless
# Chromium through wasm-bindgen-test-runner, against the oracle's scripted
# server (../shared/oracle/server.py) on a free loopback port, whose address
# the tests get at compile time (WSAPI_BROWSER_BASE): a page cannot start
# processes. Installs what is missing: the wasm32 target, wasm-bindgen-cli
# at the lock file's wasm-bindgen version, chromium and chromium-driver
# (apt), websockets 17.4 (pip). Bounded: the test run is cut at 170 s.
set -euo pipefail
cd "$(dirname "$0")/.."
ORACLE=${ORACLE:-../shared/oracle}

. .ci/browser-setup.sh

dir=$(mktemp -d)
python3 "$ORACLE/server.py" --port 0 --port-file "$dir/port" --log "$dir/server.log" --lifetime 400 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
# The server writes the file once it listens (bounded: 10 s).
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
[ -s "$dir/port" ] || { echo "the oracle's server did not start"; exit 1; }

export WSAPI_BROWSER_BASE="ws://127.0.0.1:$(cat "$dir/port")"
export WASM_BINDGEN_TEST_TIMEOUT=120
cargo build -p wsapi --target wasm32-unknown-unknown
# impl/webdriver.json gives Chromium its flags (headless, no sandbox as root).
cd impl
timeout -k 10 170 cargo test -p wsapi --target wasm32-unknown-unknown --features test-fake-divergence --test browser
