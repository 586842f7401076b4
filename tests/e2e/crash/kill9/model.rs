//! What the load acknowledged, carried across kills and restarts.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::*;

/// One state-changing request of the load, and what became of it.
#[derive(Debug)]
pub(super) enum Event {
    Publish {
        id: String,
        channel: String,
        store: bool,
        fate: Fate,
        timetoken: Option<u64>,
    },
    /// A deploy (`tag`) or a removal (`None`).
    Deploy {
        name: String,
        tag: Option<String>,
        build: Option<&'static str>,
        fate: Fate,
        version: Option<u64>,
    },
    Kv {
        key: String,
        value: Option<String>,
        fate: Fate,
    },
    Incr {
        fate: Fate,
    },
    Grant {
        token: String,
    },
    Revoke {
        token: String,
        fate: Fate,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenState {
    Valid,
    Revoked,
    /// Its revocation got no answer.
    Either,
}

/// Everything acknowledged so far (and what got no answer), carried across
/// rounds. After each restart, what got no answer is looked at and settled.
#[derive(Default)]
pub(super) struct Model {
    /// Stored messages by id: channel and timetoken.
    pub(super) stored: HashMap<String, (String, u64)>,
    /// Messages that must never be in history (refused, `store=0`, or not
    /// there after the restart that followed their unanswered publish).
    pub(super) absent: HashSet<String>,
    /// Messages whose publish got no answer, by id: their channel.
    pub(super) maybe: HashMap<String, String>,
    /// The newest timetoken handed out so far.
    pub(super) newest: u64,
    /// Deployments by name: the tag (config `VERSION`) and version running,
    /// or `None` when not deployed.
    pub(super) deployed: BTreeMap<String, Option<(String, u64)>>,
    /// A deploy (`Some(tag)`) or removal (`None`) that got no answer, by name.
    pub(super) deploy_pending: BTreeMap<String, Option<String>>,
    /// The build (`stamp-a`, `stamp-b`, `hello`) of each tag.
    pub(super) builds: HashMap<String, &'static str>,
    /// KV: the acknowledged value of each key (`None`: deleted).
    pub(super) kv: BTreeMap<String, Option<String>>,
    /// KV writes that got no answer.
    pub(super) kv_pending: BTreeMap<String, Option<String>>,
    /// Acknowledged increments of the guest's counter.
    pub(super) counter: i64,
    /// Whether an increment got no answer.
    pub(super) counter_pending: bool,
    pub(super) tokens: BTreeMap<String, TokenState>,
    /// Totals, for the report.
    pub(super) totals: BTreeMap<&'static str, usize>,
}

impl Model {
    pub(super) fn count(&mut self, what: &'static str) {
        *self.totals.entry(what).or_default() += 1;
    }

    /// Takes in one round's events (each task's in the order it sent them).
    /// Returns the refusals, which no request of the load should get.
    pub(super) fn apply(&mut self, events: Vec<Event>, round_start_newest: u64) -> Vec<String> {
        let mut refusals = Vec::new();
        for event in events {
            match event {
                Event::Publish {
                    id,
                    channel,
                    store,
                    fate,
                    timetoken,
                } => match fate {
                    Fate::Acked => {
                        let tt = timetoken.expect("an acknowledged publish has a timetoken");
                        assert!(
                            tt > round_start_newest,
                            "timetoken {tt} of {id} is not after every timetoken handed out before the restart ({round_start_newest})"
                        );
                        self.newest = self.newest.max(tt);
                        if store {
                            self.count("publishes acknowledged (stored)");
                            self.stored.insert(id, (channel, tt));
                        } else {
                            self.count("publishes acknowledged (store=0)");
                            self.absent.insert(id);
                        }
                    }
                    Fate::Refused(why) => {
                        refusals.push(format!("publish {id}: {why}"));
                        self.absent.insert(id);
                    }
                    Fate::InFlight if store => {
                        self.count("publishes in flight at a kill");
                        self.maybe.insert(id, channel);
                    }
                    Fate::InFlight => {
                        self.absent.insert(id);
                    }
                },
                Event::Deploy {
                    name,
                    tag,
                    build,
                    fate,
                    version,
                } => {
                    if let (Some(tag), Some(build)) = (&tag, build) {
                        self.builds.insert(tag.clone(), build);
                    }
                    match fate {
                        Fate::Acked => {
                            self.count(if tag.is_some() {
                                "deploys acknowledged"
                            } else {
                                "removals acknowledged"
                            });
                            let current = self.deployed.entry(name.clone()).or_default();
                            match tag {
                                Some(tag) => {
                                    let version = version.expect("a deployed version");
                                    let expected = current.as_ref().map_or(1, |(_, v)| v + 1);
                                    assert_eq!(
                                        version, expected,
                                        "deploy {tag} of `{name}`: unexpected version"
                                    );
                                    *current = Some((tag, version));
                                }
                                None => *current = None,
                            }
                        }
                        Fate::Refused(why) => refusals.push(format!("deploy of {name}: {why}")),
                        Fate::InFlight => {
                            self.count("deploys/removals in flight at a kill");
                            self.deploy_pending.insert(name, tag);
                        }
                    }
                }
                Event::Kv { key, value, fate } => match fate {
                    Fate::Acked => {
                        self.count("KV writes acknowledged");
                        self.kv.insert(key, value);
                    }
                    Fate::Refused(why) => refusals.push(format!("KV write of {key}: {why}")),
                    Fate::InFlight => {
                        self.count("KV writes in flight at a kill");
                        self.kv.entry(key.clone()).or_default();
                        self.kv_pending.insert(key, value);
                    }
                },
                Event::Incr { fate } => match fate {
                    Fate::Acked => {
                        self.count("KV increments acknowledged (guest)");
                        self.counter += 1;
                    }
                    Fate::Refused(why) => refusals.push(format!("KV increment: {why}")),
                    Fate::InFlight => self.counter_pending = true,
                },
                Event::Grant { token } => {
                    self.tokens.insert(token, TokenState::Valid);
                }
                Event::Revoke { token, fate } => match fate {
                    Fate::Acked => {
                        self.count("revocations acknowledged");
                        self.tokens.insert(token, TokenState::Revoked);
                    }
                    Fate::Refused(why) => refusals.push(format!("revocation: {why}")),
                    Fate::InFlight => {
                        self.count("revocations in flight at a kill");
                        self.tokens.insert(token, TokenState::Either);
                    }
                },
            }
        }
        refusals
    }
}
