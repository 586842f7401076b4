//! `edgefn cluster status`: the nodes of the cluster, their versions, the
//! functions each runs, how far behind the cluster log each is, and what
//! each after-publish function's work queue holds.

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::AdminArgs;
use super::client::Client;

/// `edgefn cluster ...`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Print the nodes of the cluster (a node running alone lists itself).
    Status {
        /// Print the JSON answer instead of a table.
        #[arg(long)]
        json: bool,
        /// Where the node is, and its admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// Runs `edgefn cluster ...`.
///
/// # Errors
/// When the node cannot be reached or refuses.
pub async fn run(command: ClusterCommand) -> anyhow::Result<()> {
    let ClusterCommand::Status { json, admin } = command;
    let client = Client::admin(&admin)?;
    let answer = client
        .json(client.request(Method::GET, "/v1/admin/cluster"))
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    println!(
        "{:<28} {:<9} {:<5} {:>6} {:>11} {:>5}  functions",
        "node", "version", "nats", "lag", "subscribers", ""
    );
    for node in answer["nodes"].as_array().into_iter().flatten() {
        println!(
            "{:<28} {:<9} {:<5} {:>6} {:>11} {:>5}  {}",
            text(&node["node"]),
            text(&node["version"]),
            if node["connected"] == true {
                "up"
            } else {
                "down"
            },
            text(&node["lag"]),
            text(&node["subscribers"]),
            if node["node"] == answer["node"] {
                "(this)"
            } else {
                ""
            },
            functions(&node["functions"]),
        );
    }
    let queues = answer["after_publish"].as_object().into_iter().flatten();
    for (i, (name, backlog)) in queues.enumerate() {
        if i == 0 {
            println!(
                "\n{:<28} {:>9} {:>9} {:>11}",
                "after-publish queue", "waiting", "running", "redelivered"
            );
        }
        println!(
            "{:<28} {:>9} {:>9} {:>11}",
            name,
            text(&backlog["waiting"]),
            text(&backlog["running"]),
            text(&backlog["redelivered"]),
        );
    }
    Ok(())
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn functions(value: &Value) -> String {
    let listed: Vec<String> = value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, version)| format!("{name} v{version}"))
        .collect();
    if listed.is_empty() {
        "-".to_owned()
    } else {
        listed.join(", ")
    }
}
