//! Counts the messages published on the channels it is bound to, per
//! channel, in the KV store; and reads the counts over HTTP.
//!
//! - After-publish handler (deploy with `--after-publish 'chat.*'`): each
//!   message adds 1 to the KV counter `count:{channel}` (atomically, with
//!   `incr`).
//! - Endpoint (deploy with `--endpoint`): `GET /v1/fn/counter/chat.alice`
//!   (the function sees the path `/chat.alice`) answers 200
//!   `{"channel": "chat.alice", "count": N}`, with 0 for a channel never
//!   seen; other methods get 405, a path that is not one channel name 404.

use edgefn_sdk::http::{Request, Response};
use edgefn_sdk::serde_json::json;
use edgefn_sdk::{Error, Message, after_publish, endpoint, kv, log};

#[after_publish]
fn count(msg: Message) -> Result<(), Error> {
    let count = kv::incr(&counter_key(&msg.channel), 1)?;
    log::debug("counted", &[("channel", &msg.channel), ("count", &count)]);
    Ok(())
}

#[endpoint]
fn read(req: Request) -> Response {
    if req.method != "GET" {
        return error(405, format!("{} is not allowed: use GET", req.method))
            .with_header("allow", "GET");
    }
    let Some(channel) = channel_of(&req.path) else {
        return error(404, "use GET /{channel}, e.g. GET /chat.lobby");
    };
    let count = match kv::get(&counter_key(channel)) {
        Ok(None) => 0,
        Ok(Some(text)) => match text.trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) => return error(500, format!("the count of {channel} is not a number")),
        },
        Err(e) => {
            log::error(
                "could not read a count",
                &[("channel", &channel), ("error", &e)],
            );
            return error(503, format!("could not read the count: {e}"));
        }
    };
    Response::json(200, &json!({ "channel": channel, "count": count }))
}

/// The KV key of `channel`'s counter.
fn counter_key(channel: &str) -> String {
    format!("count:{channel}")
}

/// The channel named by `path` (`/chat.alice`): one non-empty segment.
fn channel_of(path: &str) -> Option<&str> {
    let channel = path.strip_prefix('/')?;
    (!channel.is_empty() && !channel.contains('/')).then_some(channel)
}

fn error(status: u16, message: impl Into<String>) -> Response {
    Response::json(status, &json!({ "error": message.into() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_from_paths() {
        assert_eq!(channel_of("/chat.alice"), Some("chat.alice"));
        assert_eq!(channel_of("/"), None);
        assert_eq!(channel_of("/a/b"), None);
        assert_eq!(channel_of("/chat.alice/"), None);
        assert_eq!(counter_key("chat.a"), "count:chat.a");
    }
}
