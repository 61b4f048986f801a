//! The oracle's scenarios (`../shared/oracle/scenarios/`) through the wasm32
//! build in headless Chromium, with the CLI's own scenario runner
//! (`wsapi scenario`, `cli/src/scenario.rs`, compiled here as a module): the
//! same interpreter and the same skipped ops, over the browser's WebSocket.
//!
//! `.ci/browser_oracle.sh` starts one oracle server per scenario (so that
//! each has its own server log for the comparison and the judge) and names
//! them, with each scenario's JSON text, in `WSAPI_ORACLE_SCENARIOS` at
//! compile time (a page cannot read files or start processes): a JSON list
//! of `{"name", "base", "text"}`. Each trace is printed to the console as
//! one line, `WSAPI-ORACLE-TRACE <json>`, which the script collects and
//! compares with native wsapi's; the judge's live watch (`divergences()`) is
//! not involved in the trace.
#![cfg(target_arch = "wasm32")]

#[path = "../cli/src/scenario.rs"]
mod scenario;

use serde_json::Value;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// What the page's `navigator.userAgent` says (the browser and its version).
fn user_agent() -> String {
    let navigator = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("navigator"));
    navigator
        .and_then(|n| js_sys::Reflect::get(&n, &JsValue::from_str("userAgent")))
        .ok()
        .and_then(|ua| ua.as_string())
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn oracle_scenarios() {
    // Compiles without it (clippy, `.ci/browser.sh`): then there is nothing to run.
    let Some(list) = option_env!("WSAPI_ORACLE_SCENARIOS") else {
        return;
    };
    let list: Vec<Value> = serde_json::from_str(list).expect("WSAPI_ORACLE_SCENARIOS is a JSON list");
    let version = format!("wsapi {} (wasm32) in {}", env!("CARGO_PKG_VERSION"), user_agent());
    for item in &list {
        let field = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
        // A scenario the runner cannot read is reported, not fatal: the
        // script finds its trace missing.
        match scenario::trace("wsapi-wasm", &version, field("base"), field("text")).await {
            Ok(trace) => web_sys::console::log_1(&format!("WSAPI-ORACLE-TRACE {trace}").into()),
            Err(e) => web_sys::console::log_1(&format!("WSAPI-ORACLE-ERROR {}: {e}", field("name")).into()),
        }
    }
}
