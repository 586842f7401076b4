//! The mixed load that runs while the node is killed.

use std::collections::BTreeMap;

use edgefn_e2e::*;
use reqwest::Method;

use super::*;

/// What the load tasks share.
pub(super) struct Load<'a> {
    pub(super) client: &'a Client,
    pub(super) round: usize,
    pub(super) master: &'a str,
    pub(super) stamp_a: &'a [u8],
    pub(super) stamp_b: &'a [u8],
    pub(super) hello: &'a [u8],
    /// The build each stamp function runs at the start of the round.
    pub(super) stamp_builds: BTreeMap<String, &'static str>,
    pub(super) blink_deployed: bool,
}

impl Load<'_> {
    pub(super) async fn publisher(&self, channel: &'static str, writer: usize) -> Vec<Event> {
        let mut events = Vec::new();
        for n in 0.. {
            let id = format!("r{}-{channel}-w{writer}-n{n}", self.round);
            let store = n % 7 != 6;
            let payload =
                json!({"id": id, "w": format!("{channel}-w{writer}"), "r": self.round, "n": n});
            let result = self
                .client
                .send(self.client.publish(channel, &payload, self.master, store))
                .await;
            let timetoken = result.as_ref().ok().and_then(|a| {
                a.body["timetoken"]
                    .as_str()
                    .and_then(|t| t.parse::<u64>().ok())
            });
            let fate = fate(&result);
            let stop = matches!(fate, Fate::InFlight);
            events.push(Event::Publish {
                id,
                channel: channel.to_owned(),
                store,
                fate,
                timetoken,
            });
            if stop {
                break;
            }
        }
        events
    }

    /// Redeploys `name`, switching build every time.
    pub(super) async fn redeployer(&self, name: &str, channels: &[&str]) -> Vec<Event> {
        let mut events = Vec::new();
        let mut build = self.stamp_builds[name];
        for i in 0.. {
            build = if build == "stamp-a" {
                "stamp-b"
            } else {
                "stamp-a"
            };
            let bytes = if build == "stamp-a" {
                self.stamp_a
            } else {
                self.stamp_b
            };
            let tag = format!("{name}-r{}-{i}", self.round);
            let result = self
                .client
                .send(
                    self.client
                        .deploy(name, &stamp_spec(channels, &tag), bytes.to_vec()),
                )
                .await;
            let version = result
                .as_ref()
                .ok()
                .and_then(|a| a.body["deployed"]["version"].as_u64());
            let fate = fate(&result);
            let stop = matches!(fate, Fate::InFlight);
            events.push(Event::Deploy {
                name: name.to_owned(),
                tag: Some(tag),
                build: Some(build),
                fate,
                version,
            });
            if stop {
                break;
            }
        }
        events
    }

    /// Deploys and removes [`BLINK`] in turn.
    pub(super) async fn blinker(&self) -> Vec<Event> {
        let mut events = Vec::new();
        let mut deployed = self.blink_deployed;
        for i in 0.. {
            let (request, tag) = if deployed {
                let request = self
                    .client
                    .admin(Method::DELETE, &format!("/functions/{BLINK}"));
                (request, None)
            } else {
                let tag = format!("{BLINK}-r{}-{i}", self.round);
                let request = self
                    .client
                    .deploy(BLINK, &blink_spec(&tag), self.hello.to_vec());
                (request, Some(tag))
            };
            let result = self.client.send(request).await;
            let version = result
                .as_ref()
                .ok()
                .and_then(|a| a.body["deployed"]["version"].as_u64());
            let fate = fate(&result);
            let stop = matches!(fate, Fate::InFlight);
            if matches!(fate, Fate::Acked) {
                deployed = !deployed;
            }
            events.push(Event::Deploy {
                name: BLINK.to_owned(),
                build: tag.as_ref().map(|_| "hello"),
                tag,
                fate,
                version,
            });
            if stop {
                break;
            }
        }
        events
    }

    /// Writes (and now and then deletes) its keys through the admin API.
    pub(super) async fn kv_writer(&self, writer: usize) -> Vec<Event> {
        let mut events = Vec::new();
        for i in 0.. {
            let key = format!("adm{writer}:{}", i % KV_KEYS);
            let (request, value) = if i % 5 == 4 {
                let request = self.client.admin(Method::DELETE, &format!("/kv/{key}"));
                (request, None)
            } else {
                let value = format!("r{}-w{writer}-i{i}", self.round);
                let request = self
                    .client
                    .admin(Method::PUT, &format!("/kv/{key}"))
                    .body(value.clone());
                (request, Some(value))
            };
            let result = self.client.send(request).await;
            let fate = fate(&result);
            let stop = matches!(fate, Fate::InFlight);
            events.push(Event::Kv { key, value, fate });
            if stop {
                break;
            }
        }
        events
    }

    /// Sets a key and increments a counter from inside the `caps` guest.
    pub(super) async fn guest_kv_writer(&self) -> Vec<Event> {
        let mut events = Vec::new();
        for i in 0.. {
            let key = format!("gst:{}", i % KV_KEYS);
            let value = format!("r{}-g-i{i}", self.round);
            let ops = [caps::kv_set(&key, &value, None), caps::kv_incr(COUNTER, 1)];
            let request = self
                .client
                .http
                .post(self.client.url(&format!("/v1/fn/{CAPS}/run")))
                .json(&json!({ "ops": ops }));
            let result = self.client.send(request).await;
            let (set, incr) = match fate(&result) {
                Fate::Acked => {
                    let answer = result.as_ref().expect("answered");
                    let results = answer.body["results"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let one = |n: usize| match results.get(n) {
                        Some(r) if r.get("ok").is_some() => Fate::Acked,
                        other => Fate::Refused(format!("the guest's call failed: {other:?}")),
                    };
                    (one(0), one(1))
                }
                other => (other.clone(), other),
            };
            let stop = matches!(set, Fate::InFlight);
            events.push(Event::Kv {
                key,
                value: Some(value),
                fate: set,
            });
            events.push(Event::Incr { fate: incr });
            if stop {
                break;
            }
        }
        events
    }

    /// Grants tokens and revokes two out of three.
    pub(super) async fn revoker(&self) -> Vec<Event> {
        let mut events = Vec::new();
        for i in 0.. {
            let grant = json!({"ttl_minutes": 120, "channels": {TOKEN_CHANNEL: ["read", "write"]}, "meta": {"round": self.round, "i": i}});
            let request = self.client.admin(Method::POST, "/tokens").json(&grant);
            let Ok(answer) = self.client.send(request).await else {
                break;
            };
            let token = answer.ok()["token"]
                .as_str()
                .expect("a granted token")
                .to_owned();
            events.push(Event::Grant {
                token: token.clone(),
            });
            if i % 3 == 0 {
                continue;
            }
            let result = self
                .client
                .send(
                    self.client
                        .admin(Method::DELETE, &format!("/tokens/{token}")),
                )
                .await;
            let fate = fate(&result);
            let stop = matches!(fate, Fate::InFlight);
            events.push(Event::Revoke { token, fate });
            if stop {
                break;
            }
        }
        events
    }

    /// Runs every task until the node dies under it; their events.
    pub(super) async fn run(&self) -> Vec<Event> {
        let mut tasks: Vec<futures::future::BoxFuture<'_, Vec<Event>>> = Vec::new();
        for channel in CHANNELS {
            for writer in 0..WRITERS {
                tasks.push(Box::pin(self.publisher(channel, writer)));
            }
        }
        for (name, channels) in HOOKS {
            tasks.push(Box::pin(self.redeployer(name, channels)));
        }
        tasks.push(Box::pin(self.blinker()));
        for writer in 0..KV_WRITERS {
            tasks.push(Box::pin(self.kv_writer(writer)));
        }
        tasks.push(Box::pin(self.guest_kv_writer()));
        tasks.push(Box::pin(self.revoker()));
        futures::future::join_all(tasks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}
