//! What a deployment says: a function's triggers, its sandbox settings and
//! its configuration, and how each is validated.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bus::{MessageKind, Pattern};
use crate::wasm::caps::outbound::OutboundRule;

/// Longest function name accepted.
pub const MAX_NAME_LEN: usize = 64;
/// Longest interval accepted for `every`, in seconds (one day).
pub const MAX_EVERY_SECONDS: u64 = 86_400;
/// Longest deadline a function may ask for, in milliseconds.
pub const MAX_TIMEOUT_MS: u64 = 60_000;

/// What happens to a publish when a before-publish hook traps or misses its
/// deadline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Refuse the publish (the default).
    #[default]
    Reject,
    /// Let the message through unchanged.
    Pass,
}

/// A function as deployed: everything but the component bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    /// Unique name: lowercase letters, digits, `-` and `_`.
    pub name: String,
    /// Channels whose publishes this function sees before they happen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before_publish: Vec<Pattern>,
    /// Channels whose published messages this function gets a copy of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_publish: Vec<Pattern>,
    /// Channels whose file messages (PubNub's files, see [`crate::files`])
    /// this function sees before they happen: PubNub's Before Publish File.
    /// The publish triggers do not see file messages, as PubNub's do not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before_publish_file: Vec<Pattern>,
    /// Channels whose file messages this function gets a copy of: PubNub's
    /// After Publish File.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_publish_file: Vec<Pattern>,
    /// Channels whose presence changes (join, leave, timeout, state change)
    /// this function gets; the patterns name the channels, not their
    /// `-pnpres` channels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_presence: Vec<Pattern>,
    /// Whether it answers HTTP at `/v1/fn/{name}/...`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub endpoint: bool,
    /// Run every this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    /// Where it may send outbound HTTP requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_outbound: Vec<OutboundRule>,
    /// Its configuration, visible to it as environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Its deadline per invocation, in milliseconds (default: 50 for
    /// before-publish, 10,000 for everything else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Its memory limit per instance, in MiB (default: the node's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// What a failing before-publish hook does to the publish.
    #[serde(default, skip_serializing_if = "is_default")]
    pub on_error: OnError,
    /// Whether it may grant and revoke access tokens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_token_grant: bool,
    /// KV calls per invocation (default: the node's, 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_calls: Option<u32>,
    /// Bus calls (publish, fire, signal) per invocation (default: the node's, 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus_calls: Option<u32>,
    /// Outbound HTTP requests per invocation (default: the node's, 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_requests: Option<u32>,
    /// Invocations it may run at once (default: the node's, 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Its secrets, by name. Only present in a deploy request: the node
    /// seals them into [`Deployment::sealed_secrets`] and never shows the
    /// values again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A deployment that cannot be accepted, with what to change.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The name is not acceptable.
    #[error(
        "function name `{0}` is invalid: use 1 to {MAX_NAME_LEN} lowercase letters, digits, `-` or `_`, starting with a letter or digit"
    )]
    BadName(String),
    /// No trigger was given.
    #[error(
        "function `{0}` has no trigger: give at least one of --before-publish, --after-publish, --before-publish-file, --after-publish-file, --after-presence, --endpoint or --every"
    )]
    NoTrigger(String),
    /// An after-presence pattern that names presence channels.
    #[error(
        "after-presence pattern `{0}` names presence channels: bind to the channels themselves (`room`, `chat.*`), whose joins, leaves, timeouts and state changes the function then gets"
    )]
    PresencePattern(String),
    /// `every` out of range.
    #[error("`every` must be between 1 and {MAX_EVERY_SECONDS} seconds, got {0}")]
    BadEvery(u64),
    /// `timeout_ms` out of range.
    #[error("`timeout_ms` must be between 1 and {MAX_TIMEOUT_MS}, got {0}")]
    BadTimeout(u64),
    /// `memory_mb` out of range.
    #[error("`memory_mb` must be between 1 and {max} (the node's limit), got {got}")]
    BadMemory {
        /// What was asked for.
        got: u64,
        /// The node's ceiling.
        max: u64,
    },
    /// A config key that cannot be an environment variable name.
    #[error("config key `{0}` is invalid: use letters, digits and `_`, not starting with a digit")]
    BadConfigKey(String),
    /// A secret name that is not acceptable.
    #[error("secret name `{0}` is invalid: use letters, digits and `_`, not starting with a digit")]
    BadSecretName(String),
}

impl FunctionSpec {
    /// An empty spec for `name`, to fill in.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            before_publish: Vec::new(),
            after_publish: Vec::new(),
            before_publish_file: Vec::new(),
            after_publish_file: Vec::new(),
            after_presence: Vec::new(),
            endpoint: false,
            every: None,
            allow_outbound: Vec::new(),
            config: BTreeMap::new(),
            timeout_ms: None,
            memory_mb: None,
            on_error: OnError::default(),
            allow_token_grant: false,
            kv_calls: None,
            bus_calls: None,
            http_requests: None,
            max_concurrency: None,
            secrets: BTreeMap::new(),
        }
    }

    /// The channels this function sees messages of `kind` on before they
    /// are published: file messages have their own trigger.
    pub fn before_patterns(&self, kind: MessageKind) -> &[Pattern] {
        match kind {
            MessageKind::File => &self.before_publish_file,
            _ => &self.before_publish,
        }
    }

    /// The channels whose messages of `kind` this function gets a copy of.
    pub fn after_patterns(&self, kind: MessageKind) -> &[Pattern] {
        match kind {
            MessageKind::File => &self.after_publish_file,
            _ => &self.after_publish,
        }
    }

    /// Whether it gets copies of any published messages.
    pub fn has_after_publish(&self) -> bool {
        !(self.after_publish.is_empty() && self.after_publish_file.is_empty())
    }

    /// Whether anything runs it: a channel binding, the endpoint or a schedule.
    pub fn has_trigger(&self) -> bool {
        !(self.before_publish.is_empty()
            && self.after_publish.is_empty()
            && self.before_publish_file.is_empty()
            && self.after_publish_file.is_empty()
            && self.after_presence.is_empty()
            && !self.endpoint
            && self.every.is_none())
    }

    /// Checks everything that can be checked without the component.
    ///
    /// # Errors
    /// The first problem found, with what to change.
    pub fn validate(&self, max_memory_mb: u64) -> Result<(), SpecError> {
        validate_name(&self.name)?;
        if !self.has_trigger() {
            return Err(SpecError::NoTrigger(self.name.clone()));
        }
        if let Some(pattern) = self.after_presence.iter().find(|p| names_presence(p)) {
            return Err(SpecError::PresencePattern(pattern.to_string()));
        }
        if let Some(every) = self.every.filter(|s| !(1..=MAX_EVERY_SECONDS).contains(s)) {
            return Err(SpecError::BadEvery(every));
        }
        if let Some(ms) = self
            .timeout_ms
            .filter(|ms| !(1..=MAX_TIMEOUT_MS).contains(ms))
        {
            return Err(SpecError::BadTimeout(ms));
        }
        if let Some(got) = self
            .memory_mb
            .filter(|mb| !(1..=max_memory_mb).contains(mb))
        {
            return Err(SpecError::BadMemory {
                got,
                max: max_memory_mb,
            });
        }
        if let Some(key) = self.config.keys().find(|k| !is_env_name(k)) {
            return Err(SpecError::BadConfigKey(key.clone()));
        }
        if let Some(name) = self.secrets.keys().find(|k| !is_env_name(k)) {
            return Err(SpecError::BadSecretName(name.clone()));
        }
        Ok(())
    }

    /// The deadline for one invocation by a trigger whose default is `default`.
    pub fn timeout(&self, default: Duration) -> Duration {
        self.timeout_ms.map_or(default, Duration::from_millis)
    }
}

/// Checks a function name.
///
/// # Errors
/// [`SpecError::BadName`] when it is not acceptable.
pub fn validate_name(name: &str) -> Result<(), SpecError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SpecError::BadName(name.to_owned()))
    }
}

/// Whether `pattern` matches presence channels (`room-pnpres`,
/// `chat.*-pnpres`), which have no presence of their own.
fn names_presence(pattern: &Pattern) -> bool {
    match pattern {
        Pattern::Exact(channel) => channel.is_presence(),
        Pattern::Prefix(_) => false,
        Pattern::PresencePrefix(_) => true,
    }
}

fn is_env_name(key: &str) -> bool {
    key.bytes().next().is_some_and(|b| !b.is_ascii_digit())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A deployed function's record: its spec (without secret values), which
/// component it runs and when it was deployed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    /// What was deployed.
    pub spec: FunctionSpec,
    /// The component's content hash (hex SHA-256).
    pub component: String,
    /// Its secrets, sealed (see [`super::secrets`]); the spec holds none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sealed_secrets: BTreeMap<String, String>,
    /// The source the component was made from, for a function deployed as
    /// source code (JavaScript) rather than as a component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Counts the deployments of this name, starting at 1.
    pub version: u64,
    /// When it was deployed, in milliseconds since the Unix epoch.
    pub deployed_at_ms: u64,
}

impl Deployment {
    /// Whether `other` is the same deployment record (the same version of
    /// the same component, deployed at the same time).
    pub fn same_record(&self, other: &Deployment) -> bool {
        self.version == other.version
            && self.component == other.component
            && self.deployed_at_ms == other.deployed_at_ms
    }

    /// Whether this record supersedes `other`: a later version, or the same
    /// version deployed later (two nodes that deployed one name at once).
    pub fn newer_than(&self, other: &Deployment) -> bool {
        (self.version, self.deployed_at_ms) > (other.version, other.deployed_at_ms)
    }
}

/// The source code a function was deployed as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Its language: `javascript`.
    pub language: String,
    /// Its content hash (hex SHA-256).
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "moderate", "token-issuer", "x_1", "9lives"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "A", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn needs_a_trigger() {
        let mut spec = FunctionSpec::named("f");
        assert!(matches!(spec.validate(256), Err(SpecError::NoTrigger(_))));
        spec.endpoint = true;
        assert!(spec.validate(256).is_ok());
        spec.every = Some(0);
        assert!(matches!(spec.validate(256), Err(SpecError::BadEvery(0))));
        spec.every = None;
        spec.memory_mb = Some(512);
        assert!(matches!(
            spec.validate(256),
            Err(SpecError::BadMemory { .. })
        ));
        spec.memory_mb = None;
        spec.config.insert("1x".into(), "v".into());
        assert!(matches!(
            spec.validate(256),
            Err(SpecError::BadConfigKey(_))
        ));
    }

    #[test]
    fn after_presence_is_a_trigger_on_channels_not_their_presence_channels() {
        let mut spec = FunctionSpec::named("p");
        spec.after_presence = vec![Pattern::parse("room").unwrap()];
        assert!(spec.validate(256).is_ok());
        spec.after_presence.push(Pattern::parse("chat.*").unwrap());
        assert!(spec.validate(256).is_ok());
        for bad in ["room-pnpres", "chat.*-pnpres"] {
            spec.after_presence = vec![Pattern::parse(bad).unwrap()];
            let err = spec.validate(256).unwrap_err();
            assert!(matches!(err, SpecError::PresencePattern(_)), "{bad}: {err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
        let json = r#"{"name":"p","after_presence":["room","chat.*"]}"#;
        let spec: FunctionSpec = serde_json::from_str(json).unwrap();
        assert_eq!(spec.after_presence.len(), 2);
        assert_eq!(serde_json::to_string(&spec).unwrap(), json);
    }

    #[test]
    fn file_messages_have_triggers_of_their_own() {
        let json = r#"{"name":"f","after_publish":["notes"],"before_publish_file":["docs"],"after_publish_file":["docs"]}"#;
        let spec: FunctionSpec = serde_json::from_str(json).unwrap();
        assert!(spec.validate(256).is_ok());
        assert_eq!(serde_json::to_string(&spec).unwrap(), json);
        let names =
            |patterns: &[Pattern]| patterns.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(names(spec.before_patterns(MessageKind::File)), ["docs"]);
        assert!(spec.before_patterns(MessageKind::Publish).is_empty());
        assert_eq!(names(spec.after_patterns(MessageKind::File)), ["docs"]);
        assert_eq!(names(spec.after_patterns(MessageKind::Fire)), ["notes"]);
        let mut files_only = FunctionSpec::named("g");
        files_only.before_publish_file = spec.before_publish_file.clone();
        assert!(files_only.validate(256).is_ok());
        assert!(!files_only.has_after_publish());
    }

    #[test]
    fn json_round_trip() {
        let json =
            r#"{"name":"m","before_publish":["chat.*"],"config":{"K":"v"},"on_error":"pass"}"#;
        let spec: FunctionSpec = serde_json::from_str(json).unwrap();
        assert_eq!(spec.on_error, OnError::Pass);
        assert_eq!(serde_json::to_string(&spec).unwrap(), json);
        assert!(serde_json::from_str::<FunctionSpec>(r#"{"name":"m","bogus":1}"#).is_err());
    }
}
