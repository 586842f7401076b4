//! `edgefn serve`: start a node and deploy the functions of `--config`
//! (answering 503 `starting` meanwhile), then serve the API until SIGINT or
//! SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use tokio::net::TcpListener;

use crate::config::file::{ConfigFile, FunctionFile};
use crate::config::{DEFAULT_DATA_DIR, DEFAULT_LISTEN, NatsConfig, NodeConfig};
use crate::functions::Code;
use crate::http::starting::answer_while;
use crate::node::Node;

/// Arguments of `edgefn serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Where durable state lives [default: ./edgefn-data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// A TOML file with settings and functions to deploy at startup.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The admin API key (generated and stored in the data dir when absent).
    #[arg(long, env = "EDGEFN_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// The key that signs access tokens; setting it turns access control on
    /// (every publish, subscribe and history request then needs a token).
    #[arg(long, env = "EDGEFN_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// The publish key PubNub clients must use [default: demo].
    #[arg(long, env = "EDGEFN_PUBLISH_KEY")]
    pub publish_key: Option<String>,
    /// The subscribe key PubNub clients must use [default: demo].
    #[arg(long, env = "EDGEFN_SUBSCRIBE_KEY")]
    pub subscribe_key: Option<String>,
    /// Join a cluster through this NATS server (with JetStream), e.g.
    /// nats://127.0.0.1:4222, or a NATS cluster's servers, comma-separated,
    /// in order of preference. Without it the node runs alone.
    #[arg(long, env = "EDGEFN_NATS")]
    pub nats: Option<String>,
    /// In a cluster, the file holding the key every node seals function
    /// secrets with (32 bytes, raw or base64; the same on every node).
    #[arg(long, env = "EDGEFN_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,
}

/// Runs a node.
///
/// # Errors
/// When the node cannot start (data dir, address in use, bad config).
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let file = args.config.as_deref().map(ConfigFile::load).transpose()?;
    let listen = match (args.listen, file.as_ref().and_then(|f| f.listen.as_deref())) {
        (Some(listen), _) => listen,
        (None, Some(text)) => text.parse().with_context(|| {
            format!("`listen = \"{text}\"` is not an address like 127.0.0.1:8080")
        })?,
        (None, None) => DEFAULT_LISTEN.parse().expect("the default address parses"),
    };
    let data_dir = args
        .data_dir
        .or_else(|| file.as_ref().and_then(|f| f.data_dir.clone()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let mut config = NodeConfig::new(listen, data_dir);
    config.admin_key = args.admin_key;
    config.secret_key = args
        .secret_key
        .or_else(|| file.as_ref().and_then(|f| f.secret_key.clone()));
    let mut functions = Vec::new();
    if let Some(file) = file {
        config.bus = file.bus.unwrap_or(config.bus);
        config.wasm = file.wasm.unwrap_or(config.wasm);
        config.http = file.http.unwrap_or(config.http);
        config.pubnub = file.pubnub.unwrap_or(config.pubnub);
        config.files = file.files.unwrap_or(config.files);
        config.nats = file.nats;
        functions = file.functions;
    }
    if let Some(url) = args.nats {
        config.nats = Some(NatsConfig {
            url,
            ..config.nats.unwrap_or_else(|| NatsConfig::new(""))
        });
    }
    if let (Some(nats), Some(file)) = (&mut config.nats, args.secrets_key_file) {
        nats.secrets_key_file = Some(file);
    }
    if let Some(key) = args.publish_key {
        config.pubnub.publish_key = key;
    }
    if let Some(key) = args.subscribe_key {
        config.pubnub.subscribe_key = key;
    }

    raise_open_file_limit(config.http.max_connections);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    // The port chosen for `:0`, so that links the node makes (a function's
    // file URLs) name the address it answers on.
    config.listen = address;
    let reason = starting_reason(&config);
    println!("edgefn starting on http://{address} ({reason})");
    let http = config.http.clone();
    let node = answer_while(&listener, &http, &reason, start(config, functions)).await?;
    println!(
        "edgefn listening on http://{address} (data in {})",
        node.config.data_dir.display()
    );
    tracing::info!(%address, "listening");
    crate::http::serve(
        Arc::clone(&node),
        listener,
        shutdown_signal(Arc::clone(&node)),
    )
    .await?;
    let grace = std::time::Duration::from_secs(node.config.http.shutdown_grace_secs);
    node.stop(grace).await;
    tracing::info!("stopped");
    Ok(())
}

/// Starts the node and deploys the config file's functions.
async fn start(config: NodeConfig, functions: Vec<FunctionFile>) -> anyhow::Result<Arc<Node>> {
    let node = Node::start(config).await?;
    if node.admin_key_generated {
        println!(
            "admin key (shown once; also in {}/admin.key): {}",
            node.config.data_dir.display(),
            node.admin_key
        );
    }
    for function in functions {
        let name = function.spec.name.clone();
        let bytes = std::fs::read(&function.component).with_context(|| {
            format!(
                "function `{name}`: cannot read {}",
                function.component.display()
            )
        })?;
        let deployment = node
            .functions
            .deploy(
                function.spec,
                Code::from_file(&function.component.to_string_lossy(), bytes),
            )
            .await
            .with_context(|| format!("function `{name}` from the config file"))?;
        println!("deployed `{name}` version {}", deployment.version);
    }
    Ok(node)
}

/// Raises the soft limit on open files to the hard limit: each connection
/// is a file, and the usual soft limit (1,024) is far below
/// `max_connections`. Warns when even the hard limit is below it.
fn raise_open_file_limit(max_connections: usize) {
    // Files beside the connections: the store, NATS, compiled components...
    const OTHER_FILES: u64 = 256;
    let wanted = max_connections as u64 + OTHER_FILES;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit < wanted => tracing::warn!(
            limit,
            max_connections,
            "the open-file limit is below what max_connections needs: raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower [http] max_connections"
        ),
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}

/// What the node waits on while it starts, for `/healthz` and clients;
/// NATS servers by address only, as a URL may carry credentials.
fn starting_reason(config: &NodeConfig) -> String {
    let Some(nats) = &config.nats else {
        return "opening its data and deploying its functions".into();
    };
    let servers = match nats.servers() {
        Ok(servers) => servers
            .iter()
            .map(|server| format!("{}:{}", server.host(), server.port()))
            .collect::<Vec<_>>()
            .join(", "),
        Err(_) => "(not a NATS URL)".into(),
    };
    format!("joining the cluster through NATS at {servers}")
}

async fn shutdown_signal(node: Arc<Node>) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("cannot watch SIGTERM");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    node.begin_shutdown();
}
