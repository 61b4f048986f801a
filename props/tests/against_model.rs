//! Generated sessions: a scripted (often hostile) server and a sequence of
//! client operations, run against the real client over loopback, then
//! checked against the model (`wsapi_props::check`), and judged
//! (`wsapi_model::judge`): the trace the client showed must be allowed.
//!
//! `PROPTEST_CASES` raises the number of cases (default 256). The strategy, the recorder and the run are in `wsapi_props::session`
//! (shared with the fault-injection suite, `tests/faults.rs`).

use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use wsapi_props::session::{case, proptest_config, run};

/// Cases run one at a time: the leak check counts every connection task.
static SERIAL: Mutex<()> = Mutex::new(());

fn config() -> ProptestConfig {
    proptest_config("against_model", 256)
}

proptest! {
    #![proptest_config(config())]

    /// Every session is one the model allows, seen by all three witnesses.
    #[test]
    fn client_sessions_are_what_the_model_allows(case in case()) {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(why) = run(&case) {
            return Err(TestCaseError::fail(why));
        }
        prop_assert_eq!(wsapi::live_connections(), 0, "a connection task outlived its socket");
    }
}
