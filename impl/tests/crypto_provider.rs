//! The rustls crypto provider `wss:` uses, chosen by feature: ring
//! (default) or aws-lc-rs; with neither, a `wss:` connection fails and says
//! what to enable, while `ws:` needs none. CI runs this file with each
//! choice (`.ci/run`).

mod support;

use support::{echo_round_trip, echo_server, failure, tls_echo_server};
use wsapi::runtime::block_on;
use wsapi::{FailReason, TransportLayer, WebSocket};

#[test]
fn wss_uses_the_chosen_provider_or_says_what_to_enable() {
    block_on(async {
        let (port, cert) = tls_echo_server().await;
        let ws = WebSocket::builder(&format!("wss://localhost:{port}/"))
            .root_certificates([cert])
            .unwrap()
            .connect()
            .unwrap();
        if cfg!(any(feature = "ring", feature = "aws-lc-rs")) {
            assert!(wsapi::crypto_provider().is_some());
            echo_round_trip(&ws, "over tls").await;
        } else {
            assert!(wsapi::crypto_provider().is_none());
            match failure(&ws).await {
                FailReason::Transport(why) => {
                    assert_eq!(why.layer(), TransportLayer::Tls, "{why}");
                    assert!(why.to_string().contains("`ring` or `aws-lc-rs`"), "{why}");
                }
                other => panic!("{other:?}"),
            }
            // ws: needs no provider.
            let base = echo_server().await;
            let ws = WebSocket::new(&format!("{base}/"), &[]).unwrap();
            echo_round_trip(&ws, "no tls").await;
        }
    });
}

/// Which provider it is, by its key provider's name ("Ring", "AwsLcRs").
fn provider_name() -> String {
    format!("{:?}", wsapi::crypto_provider().expect("a provider").key_provider)
}

#[cfg(feature = "aws-lc-rs")]
#[test]
fn aws_lc_rs_is_used_when_its_feature_is_on() {
    assert!(provider_name().contains("AwsLc"), "{}", provider_name());
}

#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
#[test]
fn ring_is_used_by_default() {
    assert!(provider_name().contains("Ring"), "{}", provider_name());
}
