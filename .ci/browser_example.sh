#!/usr/bin/env bash
# The browser example (impl/examples/browser/): builds it for wasm32, runs
# wasm-bindgen --target web on it, serves the page on loopback and opens it
# in headless Chromium through chromedriver's WebDriver API, pointed at the
# oracle's echo server (?url=ws://127.0.0.1:PORT/echo). Passes when the page
# shows open, the echo of its message, close 1000 and no divergence. Every
# wait is for that outcome, bounded (30 s), never a fixed sleep.
set -euo pipefail
cd "$(dirname "$0")/.."
ORACLE=${ORACLE:-../shared/oracle}
. .ci/browser-setup.sh

cargo build -q -p wsapi --example browser --target wasm32-unknown-unknown
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
mkdir -p "$dir/site"
cp impl/examples/browser/index.html "$dir/site/"
wasm-bindgen --target web --out-dir "$dir/site/pkg" target/wasm32-unknown-unknown/debug/examples/browser.wasm

python3 "$ORACLE/server.py" --port 0 --port-file "$dir/ws.port" --log "$dir/ws.log" --lifetime 120 >/dev/null 2>&1 &
pids+=($!)
# The page's own HTTP server, on a free port it writes once it listens.
python3 - "$dir/site" "$dir/http.port" <<'PY' >/dev/null 2>&1 &
import functools, http.server, os, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
tmp = sys.argv[2] + ".tmp"
open(tmp, "w").write(str(server.server_address[1]))
os.rename(tmp, sys.argv[2])
server.timeout = 120
server.serve_forever()
PY
pids+=($!)
# chromedriver picks a free port (--port=0) and says which on stdout.
chromedriver --port=0 > "$dir/driver.out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
    [ -s "$dir/ws.port" ] && [ -s "$dir/http.port" ] && grep -q 'started successfully on port' "$dir/driver.out" && break
    sleep 0.1
done
driver=$(sed -n 's/.*started successfully on port \([0-9]*\).*/\1/p' "$dir/driver.out")
[ -n "$driver" ] && [ -s "$dir/ws.port" ] && [ -s "$dir/http.port" ] || { echo "browser example: a server did not start" >&2; exit 1; }

python3 - "$driver" "http://127.0.0.1:$(cat "$dir/http.port")/?url=ws://127.0.0.1:$(cat "$dir/ws.port")/echo" <<'PY'
import json, sys, time, urllib.request

driver, page = sys.argv[1], sys.argv[2]

def call(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{driver}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)["value"]

# The flags of impl/webdriver.json (headless, no sandbox as CI runs as root).
args = json.load(open("impl/webdriver.json"))["goog:chromeOptions"]["args"]
session = call("POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": args}}}})["sessionId"]
try:
    call("POST", f"/session/{session}/url", {"url": page})
    read = {"script": "return [document.getElementById('status').textContent,"
                      " Array.from(document.querySelectorAll('#events li'), li => li.textContent)]", "args": []}
    deadline = time.monotonic() + 30
    while True:
        status, events = call("POST", f"/session/{session}/execute/sync", read)
        if status.startswith("closed") or status == "failed" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    print("browser example:", status, events)
    ok = (status == "closed 1000; divergences: 0" and "open" in events
          and 'message: text "hello from wsapi"' in events)
    sys.exit(0 if ok else 1)
finally:
    call("DELETE", f"/session/{session}")
PY
