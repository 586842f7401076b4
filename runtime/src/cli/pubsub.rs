//! `edgefn publish`, `edgefn subscribe` and `edgefn history`.

use anyhow::{Context, bail};
use clap::Args;
use reqwest::Method;

use super::ClientArgs;
use super::client::Client;

/// Arguments of `edgefn publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The channel.
    pub channel: String,
    /// The message, as JSON (e.g. '{"text":"hi"}').
    pub message: String,
    /// Metadata, as a JSON object.
    #[arg(long)]
    pub meta: Option<String>,
    /// Fire instead: functions only, not stored, not delivered.
    #[arg(long, conflicts_with = "signal")]
    pub fire: bool,
    /// Signal instead: at most 64 bytes, delivered, not stored.
    #[arg(long)]
    pub signal: bool,
    /// Where the node is, and a token if it needs one.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `edgefn subscribe`.
#[derive(Debug, Args)]
pub struct SubscribeArgs {
    /// Channels or wildcards (`chat.*`).
    #[arg(required = true)]
    pub channels: Vec<String>,
    /// Replay stored messages after this timetoken first.
    #[arg(long)]
    pub since: Option<String>,
    /// Where the node is, and a token if it needs one.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Arguments of `edgefn history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The channel.
    pub channel: String,
    /// How many messages (the newest).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Where the node is, and a token if it needs one.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Runs `edgefn publish`.
///
/// # Errors
/// When the message is not JSON or the node refuses it.
pub async fn publish(args: PublishArgs) -> anyhow::Result<()> {
    serde_json::from_str::<serde_json::Value>(&args.message)
        .context("the message must be JSON (quote strings: '\"hello\"')")?;
    let client = Client::new(&args.client);
    let op = if args.fire {
        "fire"
    } else if args.signal {
        "signal"
    } else {
        "publish"
    };
    let mut request = client
        .request(Method::POST, &format!("/v1/{op}/{}", encode(&args.channel)))
        .header("content-type", "application/json")
        .body(args.message);
    if let Some(meta) = args.meta {
        request = request.query(&[("meta", meta)]);
    }
    let answer = client.json(request).await?;
    println!("{}", answer["timetoken"].as_str().unwrap_or_default());
    Ok(())
}

/// Runs `edgefn subscribe`: prints each message's JSON on its own line
/// until interrupted or the node ends the stream.
///
/// # Errors
/// When the node cannot be reached or ends the stream with an error.
pub async fn subscribe(args: SubscribeArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client);
    let channels: Vec<String> = args.channels.iter().map(|c| encode(c)).collect();
    let mut request = client.request(
        Method::GET,
        &format!("/v1/subscribe/{}", channels.join(",")),
    );
    if let Some(since) = args.since {
        request = request.query(&[("since", since)]);
    }
    client
        .events(request, |event, data| {
            match event {
                "ready" => eprintln!("subscribed: {data}"),
                "error" => bail!("the node ended the stream: {data}"),
                _ => println!("{data}"),
            }
            Ok(())
        })
        .await
}

/// Runs `edgefn history`.
///
/// # Errors
/// When the node cannot be reached or refuses.
pub async fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client);
    let path = format!("/v1/history/{}?limit={}", encode(&args.channel), args.limit);
    let answer = client.json(client.request(Method::GET, &path)).await?;
    for message in answer["messages"].as_array().into_iter().flatten() {
        println!("{message}");
    }
    Ok(())
}

/// Percent-encodes a channel name for a URL path segment.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'*' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
