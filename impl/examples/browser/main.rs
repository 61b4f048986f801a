//! wsapi in a web page: opens a WebSocket, sends a message, and shows each
//! event and the number of divergences the model reported (what the browser
//! did that the standard does not allow).
//!
//! The URL is the page's `?url=` parameter, by default
//! `wss://echo.websocket.org`. Build and open (see `index.html` beside this
//! file, and the README's "wasm32" section):
//!
//! ```sh
//! cargo build -p wsapi --example browser --target wasm32-unknown-unknown
//! wasm-bindgen --target web --out-dir impl/examples/browser/pkg \
//!     target/wasm32-unknown-unknown/debug/examples/browser.wasm
//! python3 -m http.server -d impl/examples/browser 8000   # then open http://127.0.0.1:8000/
//! ```

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("this example runs in a browser: build it for wasm32-unknown-unknown (see its doc comment)");
}

/// `wasm-bindgen` calls a binary's `main` when the page loads the module.
#[cfg(target_arch = "wasm32")]
fn main() {
    wasm_bindgen_futures::spawn_local(page::run());
}

#[cfg(target_arch = "wasm32")]
mod page {
    use wsapi::{Event, Message, WebSocket};

    const DEFAULT_URL: &str = "wss://echo.websocket.org";

    fn document() -> web_sys::Document {
        web_sys::window()
            .and_then(|w| w.document())
            .expect("a page, not a worker")
    }

    /// Appends one line to the page's event list.
    fn show(line: &str) {
        let doc = document();
        if let (Some(list), Ok(item)) = (doc.get_element_by_id("events"), doc.create_element("li")) {
            item.set_text_content(Some(line));
            let _ = list.append_child(&item);
        }
    }

    /// Sets the page's status line: the last state reached and the
    /// divergence count (the page's own check reads it).
    fn status(state: &str) {
        if let Some(el) = document().get_element_by_id("status") {
            el.set_text_content(Some(&format!("{state}; divergences: {}", wsapi::divergences())));
        }
    }

    /// The page's `?url=` parameter, or the default.
    fn target_url() -> String {
        web_sys::window()
            .and_then(|w| w.location().search().ok())
            .and_then(|q| web_sys::UrlSearchParams::new_with_str(&q).ok())
            .and_then(|p| p.get("url"))
            .unwrap_or_else(|| DEFAULT_URL.to_string())
    }

    pub async fn run() {
        let url = target_url();
        show(&format!("connecting to {url}"));
        status("connecting");
        let ws = match WebSocket::builder(&url)
            .on_divergence(|d| show(&format!("divergence: {d}")))
            .connect()
        {
            Ok(ws) => ws,
            Err(e) => {
                show(&format!("the constructor threw: {e}"));
                status("failed");
                return;
            }
        };
        let mut sent = false;
        while let Some(event) = ws.next_event().await {
            match event {
                Event::Open => {
                    show("open");
                    status("open");
                    let _ = ws.send("hello from wsapi");
                    sent = true;
                }
                Event::Message(m) => {
                    let text = match &m.data {
                        Message::Text(t) => format!("text {:?}", t.as_str()),
                        Message::Binary(b) => format!("{} bytes", b.len()),
                    };
                    show(&format!("message: {text}"));
                    // An echo server's answer to ours (some send a greeting first).
                    if sent && m.data.as_text() == Some("hello from wsapi") {
                        status("echoed");
                        let _ = ws.close(Some(1000), Some("done"));
                    }
                }
                Event::Error(_) => show("error (the browser's console says why)"),
                Event::Close(c) => {
                    show(&format!("close {} {:?} clean={}", c.code, c.reason, c.was_clean));
                    status(&format!("closed {}", c.code));
                }
            }
        }
    }
}
