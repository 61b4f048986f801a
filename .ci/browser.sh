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

rustup target add wasm32-unknown-unknown >/dev/null
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen-test-runner --version 2>/dev/null | grep -qF "$version"; then
    # Not --locked: the CLI's own lock names a webpki-roots the index may lack.
    cargo install wasm-bindgen-cli --version "$version"
fi
if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi
python3 -c 'import websockets' 2>/dev/null || python3 -m pip install -q 'websockets==17.4'

dir=$(mktemp -d)
python3 "$ORACLE/server.py" --port 0 --port-file "$dir/port" --log "$dir/server.log" --lifetime 400 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
# The server writes the file once it listens (bounded: 10 s).
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
[ -s "$dir/port" ] || { echo "the oracle's server did not start"; exit 1; }

export WSAPI_BROWSER_BASE="ws://127.0.0.1:$(cat "$dir/port")"
export CHROMEDRIVER=${CHROMEDRIVER:-$(command -v chromedriver)}
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=120
cargo build -p wsapi --target wasm32-unknown-unknown
# impl/webdriver.json gives Chromium its flags (headless, no sandbox as root).
cd impl
timeout -k 10 170 cargo test -p wsapi --target wasm32-unknown-unknown --features test-fake-divergence --test browser
