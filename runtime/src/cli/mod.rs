//! The `edgefn` command line: the server (`serve`) and clients of its HTTP API.
//!
//! # Layout
//! - [`serve`]: run a node;
//! - [`functions`]: `deploy` and `functions list|show|remove|logs`;
//! - [`pubsub`]: `publish`, `subscribe`, `history`;
//! - [`token`]: `token grant|revoke|parse`;
//! - [`kv`]: `kv get|set|delete|list`;
//! - [`client`]: the HTTP client they share, with errors that say what to do.

pub mod client;
pub mod cluster;
pub mod functions;
pub mod kv;
pub mod pubsub;
pub mod serve;
pub mod token;

use clap::{Parser, Subcommand};

/// edgefn: a real-time message bus with sandboxed WebAssembly functions.
#[derive(Debug, Parser)]
#[command(name = "edgefn", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the server is, for the client commands.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The node's URL.
    #[arg(long, env = "EDGEFN_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
}

/// Server plus access token, for the publish/subscribe commands.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// Where the node is.
    #[command(flatten)]
    pub server: ServerArgs,
    /// An access token, for nodes with access control on.
    #[arg(long, env = "EDGEFN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Server plus admin key, for the admin commands.
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// Where the node is.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The admin key (printed by `edgefn serve` at first start, stored in
    /// DATA_DIR/admin.key).
    #[arg(long, env = "EDGEFN_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node: the bus, the functions runtime and the HTTP API.
    Serve(serve::ServeArgs),
    /// Deploy (or redeploy) a function from a .wasm component or a .js module.
    Deploy(functions::DeployArgs),
    /// List, show, remove deployed functions, or read their logs.
    #[command(subcommand)]
    Functions(functions::FunctionsCommand),
    /// Publish a message (JSON) to a channel.
    Publish(pubsub::PublishArgs),
    /// Print the messages published on channels, one JSON object per line.
    Subscribe(pubsub::SubscribeArgs),
    /// Print a channel's stored messages, oldest first.
    History(pubsub::HistoryArgs),
    /// Grant, revoke or decode access tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Read and write the functions' key-value store.
    #[command(subcommand)]
    Kv(kv::KvCommand),
    /// Show the nodes of a cluster.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

/// Runs the command line.
///
/// # Errors
/// Whatever the command reports; `main` prints it.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Deploy(args) => functions::deploy(args).await,
        Command::Functions(command) => functions::run(command).await,
        Command::Publish(args) => pubsub::publish(args).await,
        Command::Subscribe(args) => pubsub::subscribe(args).await,
        Command::History(args) => pubsub::history(args).await,
        Command::Token(command) => token::run(command).await,
        Command::Cluster(command) => cluster::run(command).await,
        Command::Kv(command) => kv::run(command).await,
    }
}
