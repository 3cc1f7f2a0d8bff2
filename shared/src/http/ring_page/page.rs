//! The page itself and its two assets, built into the binary with `include_str!`. The HTML
//! comes with the node's tables filled in, as the console prints them, inside `<noscript>`:
//! with JavaScript off, a browser shows those (and reloads them every few seconds) instead of
//! the picture.

use crate::node::{Node, admin};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("assets/index.html");
const CSS: &str = include_str!("assets/ring.css");
const SCRIPT: &str = include_str!("assets/ring.js");

/// The admin commands whose text stands in for the picture when JavaScript is off.
const TABLES: [&str; 3] = ["member-status", "ring-status", "transfers"];

/// `GET /`: the page, with this node's name and its tables in it.
pub(super) async fn index(State(node): State<Node>) -> Response {
    let mut tables = String::new();
    for command in TABLES {
        let text = match admin::run(&node, &[command]).await {
            Ok(text) => text,
            Err(error) => format!("error: {error}"),
        };
        tables.push_str(&format!(
            "<h2>{command}</h2>\n<pre>{}</pre>\n",
            escape(&text)
        ));
    }
    let html = INDEX
        .replace("{{node}}", &escape(node.name().as_str()))
        .replace("{{tables}}", &tables);
    asset("text/html; charset=utf-8", html)
}

/// `GET /ring/ring.css`.
pub(super) async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS.to_string())
}

/// `GET /ring/ring.js`.
pub(super) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT.to_string())
}

/// An answer that a browser checks again before it uses it: after a rebuild of the node, the
/// page and its script must not come from the cache, one old and one new.
fn asset(content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `text` made safe to put between HTML tags or in an attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_tag_and_no_quote() {
        assert_eq!(
            escape("<b>'dev1@127.0.0.1'</b> & \"x\""),
            "&lt;b&gt;&#39;dev1@127.0.0.1&#39;&lt;/b&gt; &amp; &quot;x&quot;"
        );
    }

    #[test]
    fn the_page_has_its_places_to_fill_and_its_assets() {
        assert!(INDEX.contains("{{node}}") && INDEX.contains("{{tables}}"));
        assert!(INDEX.contains("/ring/ring.css") && INDEX.contains("/ring/ring.js"));
    }
}
