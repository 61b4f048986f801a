# Sourced by .ci/browser.sh and .ci/browser_oracle.sh: installs what the
# browser tests need if it is missing (the wasm32 target, wasm-bindgen-cli at
# the lock file's wasm-bindgen version, chromium and chromium-driver (apt),
# websockets 17.4 (pip)) and exports what wasm-bindgen-test-runner needs.
rustup target add wasm32-unknown-unknown >/dev/null
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen-test-runner --version 2>/dev/null | grep -qF "$version"; then
    # Not --locked: the CLI's own lock names a webpki-roots the index may lack.
    cargo install wasm-bindgen-cli --version "$version"
fi
if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
python3 -c 'import websockets' 2>/dev/null || python3 -m pip install -q 'websockets==17.4'
export CHROMEDRIVER=${CHROMEDRIVER:-$(command -v chromedriver)}
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
