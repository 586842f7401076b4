//! `edgefn deploy` and `edgefn functions list|show|remove|logs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use reqwest::multipart::{Form, Part};

use super::AdminArgs;
use super::client::Client;
use crate::bus::Pattern;
use crate::functions::{FunctionSpec, OnError};
use crate::wasm::caps::outbound::OutboundRule;
use crate::wasm::javascript::is_javascript;

/// Arguments of `edgefn deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The component (.wasm) or JavaScript module (.js, .mjs) to deploy.
    pub file: PathBuf,
    /// The function's name (lowercase letters, digits, `-`, `_`).
    #[arg(long)]
    pub name: String,
    /// Run before publishes on this channel or wildcard (`chat.*`); repeatable.
    #[arg(long = "before-publish", value_name = "PATTERN", value_parser = Pattern::parse)]
    pub before_publish: Vec<Pattern>,
    /// Get a copy of messages published on this channel or wildcard; repeatable.
    #[arg(long = "after-publish", value_name = "PATTERN", value_parser = Pattern::parse)]
    pub after_publish: Vec<Pattern>,
    /// Run before file messages (PubNub's publish-file, after the upload)
    /// on this channel or wildcard; repeatable.
    #[arg(long = "before-publish-file", value_name = "PATTERN", value_parser = Pattern::parse)]
    pub before_publish_file: Vec<Pattern>,
    /// Get a copy of file messages published on this channel or wildcard;
    /// repeatable.
    #[arg(long = "after-publish-file", value_name = "PATTERN", value_parser = Pattern::parse)]
    pub after_publish_file: Vec<Pattern>,
    /// Get each presence change (join, leave, timeout, state change) on this
    /// channel or wildcard (the channel itself, not its `-pnpres` channel); repeatable.
    #[arg(long = "after-presence", value_name = "PATTERN", value_parser = Pattern::parse)]
    pub after_presence: Vec<Pattern>,
    /// Answer HTTP requests at /v1/fn/NAME/...
    #[arg(long)]
    pub endpoint: bool,
    /// Run every SECONDS seconds.
    #[arg(long, value_name = "SECONDS")]
    pub every: Option<u64>,
    /// Allow outbound HTTP to this URL pattern (`https://api.example.com`,
    /// `http://127.0.0.1:9000`, `https://*.example.com`); repeatable.
    #[arg(long = "allow-outbound", value_name = "URL_PATTERN", value_parser = OutboundRule::parse)]
    pub allow_outbound: Vec<OutboundRule>,
    /// Configuration visible to the function as an environment variable; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,
    /// Deadline per invocation in milliseconds (default: 50 for before-publish, 10000 otherwise).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Memory limit per instance in MiB (default: the node's, 32).
    #[arg(long)]
    pub memory_mb: Option<u64>,
    /// What a failing before-publish hook does to the publish.
    #[arg(long, value_enum, default_value = "reject")]
    pub on_error: OnErrorArg,
    /// Let the function grant and revoke access tokens.
    #[arg(long)]
    pub allow_token_grant: bool,
    /// A secret readable by the function (never shown again); repeatable.
    #[arg(long = "secret", value_name = "NAME=VALUE", value_parser = parse_setting)]
    pub secrets: Vec<(String, String)>,
    /// A file of secrets, one NAME=VALUE per line (`#` starts a comment).
    #[arg(long = "secret-file", value_name = "PATH")]
    pub secret_files: Vec<PathBuf>,
    /// KV calls per invocation (default 10).
    #[arg(long)]
    pub kv_calls: Option<u32>,
    /// Publish, fire and signal calls per invocation (default 10).
    #[arg(long)]
    pub bus_calls: Option<u32>,
    /// Outbound HTTP requests per invocation (default 5).
    #[arg(long)]
    pub http_requests: Option<u32>,
    /// Invocations it may run at once (default 256); more fail as busy.
    #[arg(long)]
    pub max_concurrency: Option<u32>,
    /// Where the node is, and its admin key.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// `--on-error`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OnErrorArg {
    /// Refuse the publish.
    Reject,
    /// Let the message through unchanged.
    Pass,
}

/// Secrets from `--secret` and `--secret-file`, the flags winning.
fn read_secrets(
    flags: Vec<(String, String)>,
    files: &[PathBuf],
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut secrets = BTreeMap::new();
    for path in files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = parse_setting(line)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), number + 1))?;
            secrets.insert(name, value);
        }
    }
    secrets.extend(flags);
    Ok(secrets)
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

/// `edgefn functions ...`.
#[derive(Debug, Subcommand)]
pub enum FunctionsCommand {
    /// List deployed functions.
    List(AdminArgs),
    /// Show one function's deployment.
    Show {
        /// The function.
        name: String,
        /// Where the node is, and its admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Remove a function.
    Remove {
        /// The function.
        name: String,
        /// Where the node is, and its admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Print a function's recent log lines.
    Logs {
        /// The function.
        name: String,
        /// How many lines.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Keep printing new lines as they come.
        #[arg(long, short)]
        follow: bool,
        /// Where the node is, and its admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// Runs `edgefn deploy`.
///
/// # Errors
/// When the file cannot be read or the node refuses the deployment.
pub async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let client = Client::admin(&args.admin)?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let spec = FunctionSpec {
        before_publish: args.before_publish,
        after_publish: args.after_publish,
        before_publish_file: args.before_publish_file,
        after_publish_file: args.after_publish_file,
        after_presence: args.after_presence,
        endpoint: args.endpoint,
        every: args.every,
        allow_outbound: args.allow_outbound,
        config: args.settings.into_iter().collect::<BTreeMap<_, _>>(),
        timeout_ms: args.timeout_ms,
        memory_mb: args.memory_mb,
        on_error: match args.on_error {
            OnErrorArg::Reject => OnError::Reject,
            OnErrorArg::Pass => OnError::Pass,
        },
        allow_token_grant: args.allow_token_grant,
        kv_calls: args.kv_calls,
        bus_calls: args.bus_calls,
        http_requests: args.http_requests,
        max_concurrency: args.max_concurrency,
        secrets: read_secrets(args.secrets, &args.secret_files)?,
        ..FunctionSpec::named(&args.name)
    };
    if !spec.has_trigger() {
        bail!(
            "give at least one trigger: --before-publish PATTERN, --after-publish PATTERN, --before-publish-file PATTERN, --after-publish-file PATTERN, --after-presence PATTERN, --endpoint or --every SECONDS"
        );
    }
    let file_name = args.file.file_name().map_or("component.wasm".into(), |n| {
        n.to_string_lossy().into_owned()
    });
    let form = Form::new()
        .part(
            "spec",
            Part::text(serde_json::to_string(&spec)?).mime_str("application/json")?,
        )
        .part(
            "component",
            Part::bytes(bytes)
                .mime_str(if is_javascript(&file_name) {
                    "text/javascript"
                } else {
                    "application/wasm"
                })?
                .file_name(file_name),
        );
    let path = format!("/v1/admin/functions/{}", args.name);
    let answer = client
        .json(client.request(Method::PUT, &path).multipart(form))
        .await?;
    let deployed = &answer["deployed"];
    println!(
        "deployed `{}` version {} (component sha256 {})",
        args.name,
        deployed["version"],
        deployed["component"].as_str().unwrap_or("?")
    );
    Ok(())
}

/// Runs `edgefn functions ...`.
///
/// # Errors
/// When the node cannot be reached or refuses.
pub async fn run(command: FunctionsCommand) -> anyhow::Result<()> {
    match command {
        FunctionsCommand::List(admin) => {
            let client = Client::admin(&admin)?;
            let answer = client
                .json(client.request(Method::GET, "/v1/admin/functions"))
                .await?;
            let functions = answer["functions"].as_array().cloned().unwrap_or_default();
            if functions.is_empty() {
                println!("no functions deployed");
            }
            for f in functions {
                println!(
                    "{:<24} v{:<4} {}",
                    f["spec"]["name"].as_str().unwrap_or("?"),
                    f["version"],
                    triggers(&f["spec"])
                );
            }
        }
        FunctionsCommand::Show { name, admin } => {
            let client = Client::admin(&admin)?;
            let answer = client
                .json(client.request(Method::GET, &format!("/v1/admin/functions/{name}")))
                .await?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
        }
        FunctionsCommand::Remove { name, admin } => {
            let client = Client::admin(&admin)?;
            client
                .send(client.request(Method::DELETE, &format!("/v1/admin/functions/{name}")))
                .await?;
            println!("removed `{name}`");
        }
        FunctionsCommand::Logs {
            name,
            limit,
            follow,
            admin,
        } => {
            let client = Client::admin(&admin)?;
            let path = format!("/v1/admin/functions/{name}/logs?limit={limit}&follow={follow}");
            let request = client.request(Method::GET, &path);
            if follow {
                return client
                    .events(request, |_, data| {
                        print_log_line(&serde_json::from_str(data).unwrap_or_default());
                        Ok(())
                    })
                    .await;
            }
            let answer = client.json(request).await?;
            answer["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .for_each(print_log_line);
        }
    }
    Ok(())
}

fn print_log_line(line: &serde_json::Value) {
    let fields: Vec<String> = line["fields"]
        .as_array()
        .into_iter()
        .flatten()
        // Values print as JSON strings, so spaces and line breaks stay visible.
        .map(|pair| format!("{}={}", pair[0].as_str().unwrap_or(""), pair[1]))
        .collect();
    println!(
        "#{:<6} {:<6} {:<5} {} {}",
        line["invocation"],
        line["source"].as_str().unwrap_or(""),
        line["level"].as_str().unwrap_or(""),
        line["text"].as_str().unwrap_or(""),
        fields.join(" ")
    );
}

fn triggers(spec: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    for (key, label) in [
        ("before_publish", "before-publish"),
        ("after_publish", "after-publish"),
        ("before_publish_file", "before-publish-file"),
        ("after_publish_file", "after-publish-file"),
        ("after_presence", "after-presence"),
    ] {
        if let Some(patterns) = spec[key].as_array() {
            let list: Vec<&str> = patterns.iter().filter_map(|p| p.as_str()).collect();
            parts.push(format!("{label} {}", list.join(",")));
        }
    }
    if spec["endpoint"].as_bool() == Some(true) {
        parts.push("endpoint".into());
    }
    if let Some(every) = spec["every"].as_u64() {
        parts.push(format!("every {every}s"));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_summary_lists_every_binding() {
        let spec = serde_json::json!({
            "name": "f",
            "after_publish": ["orders.*"],
            "after_publish_file": ["docs"],
            "after_presence": ["room", "chat.*"],
            "every": 5,
        });
        assert_eq!(
            triggers(&spec),
            "after-publish orders.*; after-publish-file docs; after-presence room,chat.*; every 5s"
        );
    }
}
