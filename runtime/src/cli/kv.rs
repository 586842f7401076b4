//! `edgefn kv get|set|delete|list`: the functions' key-value store.

use clap::Subcommand;
use reqwest::Method;

use super::AdminArgs;
use super::client::Client;

/// `edgefn kv ...`.
#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Print the value under KEY.
    Get {
        /// The key.
        key: String,
        /// Where the node is, and its admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Store VALUE under KEY.
    Set {
        /// The key.
        key: String,
        /// The value (text; JSON is fine).
        value: String,
        /// Expire after this many seconds.
        #[arg(long)]
        ttl: Option<u64>,
        /// Where the node is, and its admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Delete KEY.
    Delete {
        /// The key.
        key: String,
        /// Where the node is, and its admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List keys starting with PREFIX (all of them, page by page).
    List {
        /// The prefix.
        #[arg(default_value = "")]
        prefix: String,
        /// Where the node is, and its admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// Runs `edgefn kv ...`.
///
/// # Errors
/// When the node cannot be reached or refuses.
pub async fn run(command: KvCommand) -> anyhow::Result<()> {
    match command {
        KvCommand::Get { key, admin } => {
            let client = Client::admin(&admin)?;
            let answer = client
                .json(client.request(Method::GET, &format!("/v1/admin/kv/{key}")))
                .await?;
            println!("{}", answer["value"].as_str().unwrap_or_default());
        }
        KvCommand::Set {
            key,
            value,
            ttl,
            admin,
        } => {
            let client = Client::admin(&admin)?;
            let mut request = client
                .request(Method::PUT, &format!("/v1/admin/kv/{key}"))
                .body(value);
            if let Some(ttl) = ttl {
                request = request.query(&[("ttl", ttl)]);
            }
            client.send(request).await?;
        }
        KvCommand::Delete { key, admin } => {
            let client = Client::admin(&admin)?;
            let answer = client
                .json(client.request(Method::DELETE, &format!("/v1/admin/kv/{key}")))
                .await?;
            if answer["deleted"] != true {
                eprintln!("`{key}` was not there");
            }
        }
        KvCommand::List { prefix, admin } => {
            let client = Client::admin(&admin)?;
            let mut cursor: Option<String> = None;
            loop {
                let mut query = vec![("prefix", prefix.clone())];
                query.extend(cursor.take().map(|c| ("cursor", c)));
                let answer = client
                    .json(client.request(Method::GET, "/v1/admin/kv").query(&query))
                    .await?;
                for key in answer["keys"].as_array().into_iter().flatten() {
                    println!("{}", key.as_str().unwrap_or_default());
                }
                match answer["cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => return Ok(()),
                }
            }
        }
    }
    Ok(())
}
