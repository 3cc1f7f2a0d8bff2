//! What an application hears of the posts the API stores: a hook per bucket, run after a post
//! to that bucket is stored and before the client is answered. So when a client has its
//! `201 Created`, the application has done its part: the chat (ex6) has told the members of
//! a room about a line POSTed to the room's stream, as if it had been said in the chat.
//!
//! A hook runs on the node that took the post, once per post. It cannot refuse or undo the
//! post: the entry is stored either way, and a hook that fails says so in the log, not to the
//! client.

use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// A post the API has stored.
#[derive(Debug, Clone)]
pub struct Posted {
    pub bucket: String,
    pub stream: String,
    /// The entry's sequence number.
    pub seq: u64,
    /// What was said: the `msg` of a flaviodb post, or of an Iorio post whose body has one;
    /// else the Iorio post's JSON body as sent.
    pub text: String,
    /// Who posted: the user's name, `anonymous` without a session.
    pub by: String,
}

type Hook = Arc<dyn Fn(Posted) -> BoxFuture<'static, ()> + Send + Sync>;

/// The hooks of an API, by bucket. Given to [`super::router_with`].
#[derive(Clone, Default)]
pub struct PostHooks {
    by_bucket: HashMap<String, Hook>,
}

impl PostHooks {
    pub fn new() -> Self {
        PostHooks::default()
    }

    /// Runs `hook` for every post to `bucket` (one hook per bucket: a second replaces the
    /// first).
    pub fn on<F, Fut>(mut self, bucket: &str, hook: F) -> Self
    where
        F: Fn(Posted) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hook: Hook = Arc::new(move |posted| Box::pin(hook(posted)));
        self.by_bucket.insert(bucket.to_string(), hook);
        self
    }

    /// Runs the hook of `posted`'s bucket, if it has one, to its end.
    pub(super) async fn posted(&self, posted: Posted) {
        if let Some(hook) = self.by_bucket.get(&posted.bucket) {
            hook(posted).await;
        }
    }
}

/// What an Iorio post (a JSON body) says: its `msg` when it is an object with a string `msg`,
/// else the body as sent.
pub(super) fn text_of_body(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    match parsed
        .as_ref()
        .and_then(|v| v.get("msg"))
        .and_then(|m| m.as_str())
    {
        Some(msg) => msg.to_string(),
        None => String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_says_its_msg_or_itself() {
        assert_eq!(text_of_body(br#"{"msg": "hi", "lat": 1}"#), "hi");
        assert_eq!(text_of_body(br#"{"msg": 3}"#), r#"{"msg": 3}"#);
        assert_eq!(text_of_body(br#"[1, 2]"#), "[1, 2]");
    }
}
