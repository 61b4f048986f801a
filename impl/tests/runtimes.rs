//! Every runtime compiled in works, in the same build: each is given to
//! the builder explicitly and runs a connection to its end (CI runs this
//! with each runtime feature alone and with all of them at once).

mod support;

use std::sync::Arc;

use support::{echo_round_trip, echo_server};
use wsapi::runtime::{block_on, Runtime};
use wsapi::WebSocket;

/// Opens, echoes one message and closes cleanly on `runtime`.
async fn echo_once(runtime: Arc<dyn Runtime>) {
    let base = echo_server().await;
    let ws = WebSocket::builder(&format!("{base}/"))
        .runtime(runtime.clone())
        .connect()
        .expect("url");
    echo_round_trip(&ws, "over the runtime").await;
}

#[cfg(feature = "async-std-runtime")]
#[test]
fn async_std_runtime_runs_a_connection() {
    async_std::task::block_on(echo_once(Arc::new(wsapi::runtime::AsyncStdRuntime)));
}

#[cfg(feature = "smol-runtime")]
#[test]
fn smol_runtime_runs_a_connection() {
    smol::block_on(echo_once(Arc::new(wsapi::runtime::SmolRuntime)));
}

#[cfg(feature = "tokio-runtime")]
#[test]
fn tokio_runtime_runs_a_connection_and_is_the_default_inside_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let default = format!("{:?}", wsapi::runtime::default_runtime());
        assert!(default.starts_with("TokioRuntime"), "{default}");
        echo_once(Arc::new(wsapi::runtime::TokioRuntime::current().expect("inside tokio"))).await;
    });
}

#[test]
fn block_on_runs_on_the_default_runtime() {
    block_on(echo_once(wsapi::runtime::default_runtime()));
}
