//! A deliberately hostile guest for the hardening tests (tests/e2e/hostile).
//! It serves all four triggers — before-publish, after-publish, interval and
//! an HTTP endpoint — and misbehaves the way its config key `mode` says:
//!
//! | `mode` | what it does |
//! |--------|--------------|
//! | `ok` (default) | nothing: passes the message / answers 200 |
//! | `loop` | loops forever |
//! | `grow` | allocates 1 MiB blocks (touching them) until allocation fails |
//! | `huge` | one allocation of `mb` MiB (default 1024) |
//! | `recurse` | recurses without bound |
//! | `panic` | panics |
//! | `unreachable` | executes `unreachable` |
//! | `big` | before-publish: replaces the payload with a 40 KiB string |
//! | `http` | one outbound GET to `url` (the endpoint's `?url=` wins) |
//! | `http-flood` | `count` (default 100) outbound GETs to `url` |
//! | `kv-flood` | `count` KV increments of `hostile:{trigger}` |
//! | `bus-flood` | `count` publishes to `channel` (default `hostile.out`) |
//! | `self-publish` | publishes `{"hop": N + 1}` to the channel of the message it got |
//! | `stdout` | writes `mb` MiB (default 8) to stdout and as much to stderr |
//! | `log-flood` | `count` lines through the log interface, each with 32 fields of 4 KiB |
//! | `random` | one `wasi:random` `get-random-bytes` call for `bytes` bytes (default 32 MiB) |
//! | `slow` | sleeps `ms` milliseconds (default 1000) |
//! | `remember` | reports what an earlier invocation left in its memory: a static counter's count, and the non-zero bytes of a fresh `mb` MiB (default 3) zeroed allocation, which it then fills with `0xAB` |
//!
//! Before anything else, every invocation writes one line `hostile MODE in
//! TRIGGER` through the log interface: the host records it at once (unlike
//! stdout, which it collects at the end), so its `time_ms` is when the
//! invocation started and a test can measure how long it ran before the
//! host cut it off.
//!
//! What a bounded mode found is its *report*, a JSON object: the endpoint
//! answers it (`{"report": ...}`), before-publish adds it to the payload as
//! `"hostile"`, after-publish and interval print it (`report {...}`) and,
//! when a call was refused, return it as their error.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use edgefn_sdk::http::{OutgoingRequest, Request, Response};
use edgefn_sdk::serde_json::{Value, json};
use edgefn_sdk::{Decision, Message, after_publish, before_publish, bus, endpoint, interval, kv};

/// `wasi:random`, called directly: the standard library asks it for a few
/// bytes at a time only.
mod random {
    edgefn_sdk::__private::wit_bindgen::generate!({
        inline: "
            package hostile:random;
            world random { import wasi:random/random@0.2.12; }
        ",
        path: "../../../wit",
        world: "hostile:random/random",
        runtime_path: "edgefn_sdk::__private::wit_bindgen::rt",
        generate_all,
    });
}

fn config_num(key: &str, default: u64) -> u64 {
    edgefn_sdk::config(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs the configured misbehaviour in `trigger`, for a message on
/// `channel` (if any) whose payload is `payload`. Returns the report of the
/// modes that end by themselves.
fn act(trigger: &str, channel: Option<&str>, payload: &Value, url: Option<String>) -> Value {
    let mode = edgefn_sdk::config_or("mode", "ok");
    edgefn_sdk::log::info(&format!("hostile {mode} in {trigger}"), &[]);
    match mode.as_str() {
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = black_box(n.wrapping_add(1));
            }
        }
        "grow" => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            loop {
                let block = vec![1u8; 1024 * 1024];
                blocks.push(black_box(block));
            }
        }
        "huge" => {
            let mb = config_num("mb", 1024) as usize;
            let mut block: Vec<u8> = Vec::with_capacity(mb * 1024 * 1024);
            block.push(1);
            json!({"allocated_mb": black_box(block).capacity() / (1024 * 1024)})
        }
        "remember" => {
            static INVOCATIONS: AtomicU64 = AtomicU64::new(0);
            let earlier = INVOCATIONS.fetch_add(1, Ordering::Relaxed);
            // Fresh pages from memory growth are not cleared by the
            // allocator: what is in them is what the host reset them to.
            let mut block = vec![0u8; config_num("mb", 3) as usize * 1024 * 1024];
            let dirty = block.iter().filter(|byte| **byte != 0).count();
            block.fill(0xAB);
            black_box(&block);
            json!({"earlier_invocations": earlier, "dirty_bytes": dirty})
        }
        "recurse" => json!({"depth": recurse(0)}),
        "panic" => panic!("hostile panic in {trigger}"),
        "unreachable" => core::arch::wasm32::unreachable(),
        "http" => {
            let url = url.unwrap_or_else(|| edgefn_sdk::config_or("url", "http://127.0.0.1:1/"));
            match OutgoingRequest::get(&url).send() {
                Ok(response) => json!({"status": response.status}),
                Err(e) => json!({"error": e.to_string()}),
            }
        }
        "http-flood" => {
            let url = edgefn_sdk::config_or("url", "http://127.0.0.1:1/");
            tally(config_num("count", 100), |_| {
                OutgoingRequest::get(&url)
                    .send()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }
        "kv-flood" => tally(config_num("count", 100), |_| {
            kv::incr(&format!("hostile:{trigger}"), 1)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        "bus-flood" => {
            let target = edgefn_sdk::config_or("channel", "hostile.out");
            tally(config_num("count", 100), |i| {
                bus::publish(&target, &json!({"flood": i}))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        }
        "self-publish" => {
            let channel = channel.unwrap_or("hostile.self");
            let hop = payload["hop"].as_u64().unwrap_or(0) + 1;
            match bus::publish(channel, &json!({"hop": hop})) {
                Ok(timetoken) => json!({"hop": hop, "published": timetoken}),
                Err(e) => json!({"hop": hop, "error": e.to_string()}),
            }
        }
        "stdout" => {
            let mb = config_num("mb", 8) as usize;
            let line = format!("{}\n", "o".repeat(1023));
            for _ in 0..mb * 1024 {
                print!("{line}");
            }
            let line = format!("{}\n", "e".repeat(1023));
            for _ in 0..mb * 1024 {
                eprint!("{line}");
            }
            json!({"wrote_mb": mb * 2})
        }
        "log-flood" => {
            let value = "v".repeat(4096);
            let names: Vec<String> = (0..32).map(|i| format!("{i:0>4096}")).collect();
            let fields: Vec<(&str, &dyn std::fmt::Display)> = names
                .iter()
                .map(|n| (n.as_str(), &value as &dyn std::fmt::Display))
                .collect();
            let message = "m".repeat(4096);
            let count = config_num("count", 100);
            for _ in 0..count {
                edgefn_sdk::log::info(&message, &fields);
            }
            json!({"logged": count})
        }
        "random" => {
            let bytes = random::wasi::random::random::get_random_bytes(config_num("bytes", 32 << 20));
            json!({"random_bytes": bytes.len()})
        }
        "slow" => {
            std::thread::sleep(Duration::from_millis(config_num("ms", 1000)));
            json!({"slept_ms": config_num("ms", 1000)})
        }
        _ => json!({"ok": true}),
    }
}

/// Recurses until the stack runs out.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    black_box(recurse(depth + 1)).wrapping_add(black_box(depth))
}

/// Makes `count` calls; reports how many succeeded and how many were
/// refused, with the first refusal's text.
fn tally(count: u64, mut call: impl FnMut(u64) -> Result<(), String>) -> Value {
    let (mut ok, mut refused, mut first_error) = (0u64, 0u64, None);
    for i in 0..count {
        match call(i) {
            Ok(()) => ok += 1,
            Err(e) => {
                refused += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    json!({"ok": ok, "refused": refused, "first_error": first_error})
}

/// A report with a refusal in it, as an error for after-publish and interval.
fn outcome(report: Value) -> Result<(), String> {
    println!("report {report}");
    let refused = report["refused"].as_u64().unwrap_or(0) > 0 || report.get("error").is_some();
    if refused {
        Err(format!("report {report}"))
    } else {
        Ok(())
    }
}

#[before_publish]
fn before(mut msg: Message) -> Decision {
    if edgefn_sdk::config_or("mode", "ok") == "big" {
        msg.payload = Value::String("x".repeat(40 * 1024));
        return Decision::Modify(msg);
    }
    let report = act("before-publish", Some(&msg.channel), &msg.payload, None);
    msg.payload["hostile"] = report;
    Decision::Modify(msg)
}

#[after_publish]
fn after(msg: Message) -> Result<(), String> {
    outcome(act("after-publish", Some(&msg.channel), &msg.payload, None))
}

#[interval]
fn every() -> Result<(), String> {
    outcome(act("interval", None, &Value::Null, None))
}

#[endpoint]
fn serve(req: Request) -> Response {
    let url = req.query_param("url");
    Response::json(
        200,
        &json!({"report": act("endpoint", None, &Value::Null, url)}),
    )
}
