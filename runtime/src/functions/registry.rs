//! The deployed functions as one immutable snapshot, replaced whole on every
//! deploy or removal, so that a publish sees one consistent set of hooks from
//! start to end (never a half-deployed function).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::spec::Deployment;
use crate::bus::{Channel, MessageKind};
use crate::wasm::PreparedFunction;

/// One deployed function.
pub struct Function {
    /// Its deployment record.
    pub deployment: Deployment,
    /// What the sandbox runs.
    pub prepared: Arc<PreparedFunction>,
    /// Identifies this deployment on this node (unique for the process's
    /// lifetime, unlike `version`, which restarts after a removal).
    pub generation: u64,
}

impl Function {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.deployment.spec.name
    }
}

/// Every deployed function, by name.
#[derive(Default, Clone)]
pub struct Registry {
    functions: BTreeMap<String, Arc<Function>>,
}

impl Registry {
    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Function>> {
        self.functions.get(name)
    }

    /// Every function, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Function>> {
        self.functions.values()
    }

    /// A copy with `function` added or replacing the one of the same name.
    pub fn with(&self, function: Arc<Function>) -> Self {
        let mut next = self.clone();
        next.functions.insert(function.name().to_owned(), function);
        next
    }

    /// A copy without the function called `name`.
    pub fn without(&self, name: &str) -> Self {
        let mut next = self.clone();
        next.functions.remove(name);
        next
    }

    /// The before-publish hooks for messages of `kind` on `channel`, in the
    /// order they run: by function name.
    pub fn before_publish(
        &self,
        channel: &Channel,
        kind: MessageKind,
    ) -> impl Iterator<Item = &Arc<Function>> {
        self.iter().filter(move |f| {
            (f.deployment.spec.before_patterns(kind).iter()).any(|p| p.matches(channel))
        })
    }

    /// The after-publish hooks for messages of `kind` on `channel`.
    pub fn after_publish(
        &self,
        channel: &Channel,
        kind: MessageKind,
    ) -> impl Iterator<Item = &Arc<Function>> {
        self.iter().filter(move |f| {
            (f.deployment.spec.after_patterns(kind).iter()).any(|p| p.matches(channel))
        })
    }

    /// The after-presence hooks for presence changes on `channel` (the
    /// channel itself, not its `-pnpres` channel).
    pub fn after_presence(&self, channel: &Channel) -> impl Iterator<Item = &Arc<Function>> {
        self.iter().filter(|f| {
            f.deployment
                .spec
                .after_presence
                .iter()
                .any(|p| p.matches(channel))
        })
    }
}
