//! `edgefn token grant|revoke|parse`.

use std::collections::BTreeMap;

use anyhow::Context;
use clap::Subcommand;
use reqwest::Method;
use serde_json::json;

use super::AdminArgs;
use super::client::Client;
use crate::access::{Permissions, Token};
use crate::http::admin::tokens::describe;

/// `edgefn token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token (needs a node started with --secret-key).
    Grant {
        /// Lifetime in minutes (1 to 43200).
        #[arg(long, default_value_t = 60)]
        ttl: u32,
        /// The only client id (uuid) allowed to use it.
        #[arg(long)]
        user: Option<String>,
        /// A channel and its permissions, as NAME=read,write,...; repeatable.
        #[arg(long = "channel", value_name = "NAME=PERMISSIONS", value_parser = parse_grant)]
        channels: Vec<(String, Permissions)>,
        /// A channel pattern (regular expression) and its permissions, as
        /// PATTERN=read,...; repeatable.
        #[arg(long = "pattern", value_name = "REGEX=PERMISSIONS", value_parser = parse_grant)]
        patterns: Vec<(String, Permissions)>,
        /// A channel group and its permissions, as NAME=read,manage; repeatable.
        #[arg(long = "group", value_name = "NAME=PERMISSIONS", value_parser = parse_grant)]
        groups: Vec<(String, Permissions)>,
        /// A client id (App Context user) and its permissions, as
        /// ID=get,update,delete; repeatable.
        #[arg(long = "uuid", value_name = "ID=PERMISSIONS", value_parser = parse_grant)]
        uuids: Vec<(String, Permissions)>,
        /// A whole category of resources, as `channels=get` or `uuids=get`
        /// (PubNub's token categories: `get` on every one); repeatable.
        #[arg(long = "category", value_name = "CATEGORY=get", value_parser = parse_grant)]
        categories: Vec<(String, Permissions)>,
        /// Data to carry in the token, as a JSON object.
        #[arg(long)]
        meta: Option<String>,
        /// Where the node is, and its admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Revoke a token: it is refused from now on and its subscriptions end.
    Revoke {
        /// The token.
        token: String,
        /// Where the node is, and its admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Decode a token and print what it grants (no node needed; the
    /// signature is not checked).
    Parse {
        /// The token.
        token: String,
    },
}

fn parse_grant(text: &str) -> Result<(String, Permissions), String> {
    let (name, list) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=PERMISSIONS (e.g. chat.alice=read,write)"))?;
    let permissions = list.split(',').try_fold(Permissions::default(), |set, p| {
        Permissions::from_name(p.trim())
            .map(|p| set.union(p))
            .ok_or_else(|| {
                format!(
                    "unknown permission `{p}`: use read, write, manage, delete, get, update, join"
                )
            })
    })?;
    Ok((name.to_owned(), permissions))
}

/// Runs `edgefn token ...`.
///
/// # Errors
/// When the node refuses, or the token does not decode.
pub async fn run(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Grant {
            ttl,
            user,
            channels,
            patterns,
            groups,
            uuids,
            categories,
            meta,
            admin,
        } => {
            let client = Client::admin(&admin)?;
            let meta: Option<serde_json::Value> = meta
                .map(|m| serde_json::from_str(&m))
                .transpose()
                .context("--meta must be a JSON object")?;
            let body = json!({
                "ttl_minutes": ttl,
                "authorized_uuid": user,
                "channels": channels.into_iter().collect::<BTreeMap<_, _>>(),
                "channel_patterns": patterns.into_iter().collect::<BTreeMap<_, _>>(),
                "groups": groups.into_iter().collect::<BTreeMap<_, _>>(),
                "uuids": uuids.into_iter().collect::<BTreeMap<_, _>>(),
                "categories": categories.into_iter().collect::<BTreeMap<_, _>>(),
                "meta": meta,
            });
            let answer = client
                .json(client.request(Method::POST, "/v1/admin/tokens").json(&body))
                .await?;
            println!("{}", answer["token"].as_str().unwrap_or_default());
        }
        TokenCommand::Revoke { token, admin } => {
            let client = Client::admin(&admin)?;
            client
                .send(client.request(Method::DELETE, &format!("/v1/admin/tokens/{token}")))
                .await?;
            println!("revoked");
        }
        TokenCommand::Parse { token } => {
            let decoded = Token::decode(&token)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&describe(&decoded.token))?
            );
        }
    }
    Ok(())
}
