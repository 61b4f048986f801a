//! Every way of driving the connection: the generated sessions of
//! `against_model`, each run with the connection driven by another party
//! (`wsapi_props::session::Driving`: a task waiting in `next_event()`, raw
//! polls in bursts, nobody until the end, a task waiting on a Sink's
//! flush, a second task taking every event with `next_events()`), and
//! every one checked against the model, the observations and the server's
//! log, and judged. Who drives must change who does the work, never what
//! is done: the same witnesses as `against_model` hold for each.
//!
//! `PROPTEST_CASES` raises the number of cases (default 128).

use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use wsapi_props::session::{case, driving, proptest_config, run_driven};

/// Cases run one at a time: the leak check counts every connection task.
static SERIAL: Mutex<()> = Mutex::new(());

fn config() -> ProptestConfig {
    proptest_config("driving", 128)
}

proptest! {
    #![proptest_config(config())]

    /// Whoever drives, every session is one the model allows.
    #[test]
    fn sessions_are_what_the_model_allows_whoever_drives(case in case(), driving in driving()) {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(why) = run_driven(&case, driving) {
            return Err(TestCaseError::fail(why));
        }
        prop_assert_eq!(wsapi::live_connections(), 0, "a connection task outlived its socket");
    }
}
