//! The declarative config file read by `edgefn serve --config FILE`.
//!
//! ```toml
//! listen = "127.0.0.1:8080"      # optional; --listen wins
//! data_dir = "./edgefn-data"     # optional, relative to this file; --data-dir wins
//!
//! [bus]                          # optional limits, see BusConfig
//! history_per_channel = 1000
//!
//! [[functions]]
//! name = "moderate"
//! component = "../target/guests/moderate.wasm"   # relative to this file
//! before_publish = ["chat.*"]      # also after_publish, after_presence,
//!                                  # before_publish_file, after_publish_file,
//!                                  # endpoint = true, every = SECONDS
//! [functions.config]
//! banned_words = "spam,scam"
//! ```
//!
//! Every `[[functions]]` table takes the fields of a deployment
//! ([`FunctionSpec`]) plus `component`, the path of the Wasm file or of a
//! JavaScript module (`.js`, `.mjs`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use super::{BusConfig, FilesConfig, HttpConfig, NatsConfig, PubNubConfig, WasmConfig};
use crate::functions::FunctionSpec;

/// The parsed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where to listen.
    pub listen: Option<String>,
    /// Where state lives (resolved against the file's directory).
    pub data_dir: Option<PathBuf>,
    /// The key that signs access tokens (turns access control on);
    /// `--secret-key` wins.
    pub secret_key: Option<String>,
    /// Bus limits.
    #[serde(default)]
    pub bus: Option<BusConfig>,
    /// Sandbox limits.
    #[serde(default)]
    pub wasm: Option<WasmConfig>,
    /// HTTP API limits.
    #[serde(default)]
    pub http: Option<HttpConfig>,
    /// The PubNub-compatible API's keys and timings.
    #[serde(default)]
    pub pubnub: Option<PubNubConfig>,
    /// Shared files' limits.
    #[serde(default)]
    pub files: Option<FilesConfig>,
    /// The NATS cluster to join; `--nats` wins.
    #[serde(default)]
    pub nats: Option<NatsConfig>,
    /// Functions to deploy at startup.
    #[serde(default, deserialize_with = "functions")]
    pub functions: Vec<FunctionFile>,
}

/// One function to deploy at startup.
#[derive(Debug)]
pub struct FunctionFile {
    /// The component's path (resolved against the file's directory).
    pub component: PathBuf,
    /// Its deployment.
    pub spec: FunctionSpec,
}

impl ConfigFile {
    /// Reads and parses `path`, resolving relative paths in it against the
    /// file's directory.
    ///
    /// # Errors
    /// When the file cannot be read or parsed; the message names the file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut file: Self = toml::from_str(&text)
            .with_context(|| format!("config file {} is invalid", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        file.data_dir = file.data_dir.map(|d| base.join(d));
        if let Some(nats) = &mut file.nats {
            nats.secrets_key_file = nats.secrets_key_file.as_ref().map(|k| base.join(k));
        }
        for function in &mut file.functions {
            function.component = base.join(&function.component);
        }
        Ok(file)
    }
}

fn functions<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<FunctionFile>, D::Error> {
    let tables = Vec::<toml::Table>::deserialize(d)?;
    tables
        .into_iter()
        .map(|table| function(table).map_err(|e| serde::de::Error::custom(format!("{e:#}"))))
        .collect()
}

fn function(mut table: toml::Table) -> anyhow::Result<FunctionFile> {
    let name = table
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or("?")
        .to_owned();
    let Some(component) = table.remove("component") else {
        bail!("function `{name}` has no `component` (the path of its .wasm or .js file)");
    };
    let Some(component) = component.as_str().map(PathBuf::from) else {
        bail!("function `{name}`: `component` must be a path string");
    };
    let spec = FunctionSpec::deserialize(table).with_context(|| format!("function `{name}`"))?;
    Ok(FunctionFile { component, spec })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_functions() {
        let text = r#"
            listen = "127.0.0.1:9999"
            [bus]
            history_per_channel = 5
            [[functions]]
            name = "m"
            component = "m.wasm"
            before_publish = ["chat.*"]
            timeout_ms = 20
            [functions.config]
            K = "v"
        "#;
        let file: ConfigFile = toml::from_str(text).unwrap();
        assert_eq!(file.bus.unwrap().history_per_channel, 5);
        let f = &file.functions[0];
        assert_eq!(f.component, PathBuf::from("m.wasm"));
        assert_eq!(f.spec.before_publish[0].to_string(), "chat.*");
        assert_eq!(f.spec.config["K"], "v");
    }

    #[test]
    fn parses_after_presence_bindings() {
        let text = r#"
            [[functions]]
            name = "greeter"
            component = "greeter.wasm"
            after_presence = ["room", "chat.*"]
        "#;
        let file: ConfigFile = toml::from_str(text).unwrap();
        let patterns: Vec<String> = file.functions[0]
            .spec
            .after_presence
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(patterns, ["room", "chat.*"]);
    }

    #[test]
    fn refuses_typos() {
        let text = "[[functions]]\nname = \"m\"\ncomponent = \"m.wasm\"\nbefore_publsh = [\"a\"]\n";
        let err = toml::from_str::<ConfigFile>(text).unwrap_err().to_string();
        assert!(err.contains("before_publsh"), "{err}");
        let text = "[[functions]]\nname = \"m\"\n";
        let err = toml::from_str::<ConfigFile>(text).unwrap_err().to_string();
        assert!(err.contains("component"), "{err}");
    }
}
