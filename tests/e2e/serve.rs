//! `edgefn serve`: its flags, the admin key (generated, printed once and
//! stored in DATA_DIR/admin.key, or given by `--admin-key` or
//! `EDGEFN_ADMIN_KEY`), and `--config` files that set limits and deploy
//! functions at startup.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use edgefn_e2e::cli::{command, run};
use edgefn_e2e::node::{serve_command, write_config};
use edgefn_e2e::paths::guest;
use edgefn_e2e::wait::within;
use edgefn_e2e::*;
use reqwest::Method;

/// The lines of `stdout` that print an admin key.
fn key_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with("admin key"))
        .collect()
}

#[tokio::test]
async fn generated_admin_key_is_printed_once_and_stored() {
    let mut node = Node::start_with(NodeOptions {
        admin_key: AdminKey::Generated,
        ..NodeOptions::default()
    })
    .await;
    let key_file = node.data_dir().join("admin.key");
    let stored = std::fs::read_to_string(&key_file).expect("admin.key is written");
    let stored = stored.trim();
    assert!(stored.len() >= 32, "a weak generated key: {stored:?}");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "admin.key is readable by others: {mode:o}");

    let stdout = node.stdout();
    let printed = key_lines(&stdout);
    assert_eq!(printed.len(), 1, "the key should be printed once: {stdout}");
    assert!(
        printed[0].ends_with(stored),
        "printed {:?}, stored {stored:?}",
        printed[0]
    );
    assert!(
        printed[0].contains(&key_file.display().to_string()),
        "the line should say where the key is: {}",
        printed[0]
    );
    node.admin(Method::GET, "/functions").await.ok();

    node.kill9().await;
    node.restart().await;
    assert!(
        key_lines(&node.stdout()).is_empty(),
        "the key was printed again on restart: {}",
        node.stdout()
    );
    assert!(!node.stderr().contains(stored), "the key leaked to the log");
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap().trim(),
        stored,
        "the key changed on restart"
    );
    node.admin(Method::GET, "/functions").await.ok();
}

#[tokio::test]
async fn admin_key_from_the_flag() {
    let node = Node::start_with(NodeOptions {
        admin_key: AdminKey::Flag("flag-secret-1".into()),
        ..NodeOptions::default()
    })
    .await;
    assert_eq!(node.admin_key(), "flag-secret-1");
    node.admin(Method::GET, "/functions").await.ok();
    assert!(
        !node.data_dir().join("admin.key").exists(),
        "a key was generated although one was given"
    );
    assert!(
        !node.stdout().contains("flag-secret-1") && !node.stderr().contains("flag-secret-1"),
        "the given key was echoed"
    );
}

#[tokio::test]
async fn admin_key_from_the_environment() {
    let node = Node::start_with(NodeOptions {
        admin_key: AdminKey::Env("env-secret-2".into()),
        ..NodeOptions::default()
    })
    .await;
    node.admin(Method::GET, "/functions").await.ok();
    let wrong = node
        .send(
            node.http()
                .get(node.url("/v1/admin/functions"))
                .bearer_auth("flag-secret-1"),
        )
        .await;
    wrong.error(401, "unauthorized");
    assert!(
        !node.data_dir().join("admin.key").exists(),
        "a key was generated although one was given"
    );
}

#[tokio::test]
async fn config_file_sets_limits_and_deploys_functions() {
    let dir = Node::temp_dir();
    let recorder = Recorder::start().await;
    // A relative component path resolves against the config file's directory.
    std::fs::copy(guest("moderate"), dir.path().join("moderate.wasm")).unwrap();
    let toml = format!(
        r#"
data_dir = "state"

[bus]
history_per_channel = 3

[wasm]
before_publish_timeout_ms = 150

[[functions]]
name = "moderate"
component = "moderate.wasm"
before_publish = ["chat.*"]
[functions.config]
banned_words = "spam,scam"

[[functions]]
name = "hello"
component = "{hello}"
endpoint = true

[[functions]]
name = "forward"
component = "{forward}"
after_publish = ["chat.*"]
allow_outbound = ["{allow}"]
[functions.config]
forward_url = "{forward_url}"

[[functions]]
name = "spin"
component = "{spin}"
before_publish = ["spin"]
"#,
        hello = guest("hello").display(),
        forward = guest("forward").display(),
        spin = guest("spin").display(),
        allow = recorder.url(""),
        forward_url = recorder.url("/hook"),
    );
    let config = write_config(&dir, &toml);
    let options = NodeOptions {
        config: Some(config),
        data_dir_flag: false,
        ..NodeOptions::default()
    };
    let mut node = Node::start_in(dir.clone(), options).await;
    assert!(
        dir.path().join("state/edgefn.redb").exists(),
        "data_dir from the config (relative to it) is not used"
    );
    for name in ["moderate", "hello", "forward", "spin"] {
        assert!(
            node.stdout()
                .contains(&format!("deployed `{name}` version 1")),
            "stdout: {}",
            node.stdout()
        );
    }

    let timetoken = node
        .publish("chat.lobby", &json!({"text": "  hi   there "}))
        .await;
    let history = node.history("chat.lobby", "").await;
    assert_eq!(
        history[0]["message"],
        json!({"text": "hi there", "moderated": true})
    );
    assert_eq!(history[0]["timetoken"], timetoken);
    node.post_message(Op::Publish, "chat.lobby", r#"{"text":"a scam"}"#, &[])
        .await
        .error(403, "rejected");
    assert_eq!(node.get("/v1/fn/hello/x").await.ok()["path"], "/x");
    assert_eq!(recorder.next().await.json()["timetoken"], timetoken);
    let answer = node.post_message(Op::Publish, "spin", "{}", &[]).await;
    assert!(
        answer.message(504, "function_timeout").contains("150 ms"),
        "[wasm] before_publish_timeout_ms is not applied: {}",
        answer.body
    );

    for seq in 0..5 {
        node.publish("bounded", &json!({"seq": seq})).await;
    }
    let kept = node.history("bounded", "limit=100").await;
    assert_eq!(
        check::seqs(&kept),
        [2, 3, 4],
        "[bus] history_per_channel = 3 is not applied"
    );

    // Serving the same config again redeploys nothing: same spec, same component.
    node.kill9().await;
    node.restart().await;
    assert!(
        node.stdout().contains("deployed `moderate` version 1"),
        "stdout: {}",
        node.stdout()
    );
    assert_eq!(node.show("moderate").await["version"], 1);
}

#[tokio::test]
async fn invalid_config_file_stops_serve_with_a_clear_error() {
    let dir = Node::temp_dir();
    let cases = [
        (
            "[[functions]]\nname = \"m\"\ncomponent = \"m.wasm\"\nbefore_publsh = [\"a\"]\n",
            "before_publsh",
        ),
        (
            "[[functions]]\nname = \"m\"\nbefore_publish = [\"a\"]\n",
            "component",
        ),
        (
            "[[functions]]\nname = \"m\"\ncomponent = \"missing.wasm\"\nbefore_publish = [\"a\"]\n",
            "missing.wasm",
        ),
        ("[bus]\nhistory_per_chanel = 3\n", "history_per_chanel"),
    ];
    for (toml, named) in cases {
        let config = write_config(&dir, toml);
        let options = NodeOptions {
            config: Some(config),
            ..NodeOptions::default()
        };
        let output = run(serve_command(dir.path(), &options)).await;
        let stderr = output.failed();
        assert!(
            stderr.contains(named),
            "the error should name `{named}`:\n{stderr}"
        );
    }
}

#[tokio::test]
async fn serve_rejects_a_bad_listen_address() {
    let dir = Node::temp_dir();
    let data = dir.path().join("data");
    let output = run(command([
        "serve",
        "--listen",
        "not-an-address",
        "--data-dir",
        data.to_str().unwrap(),
    ]))
    .await;
    assert!(
        output.failed().contains("--listen"),
        "stderr: {}",
        output.stderr
    );
}

#[tokio::test]
async fn data_dir_defaults_to_edgefn_data_in_the_working_directory() {
    let dir = Node::temp_dir();
    let options = NodeOptions {
        data_dir_flag: false,
        ..NodeOptions::default()
    };
    let node = Node::start_in(dir.clone(), options).await;
    assert!(
        dir.path().join("edgefn-data/edgefn.redb").exists(),
        "no ./edgefn-data; stdout: {}",
        node.stdout()
    );
    assert!(
        node.stdout().contains("edgefn-data"),
        "the data dir is not named: {}",
        node.stdout()
    );
}

#[tokio::test]
async fn flags_override_the_config_file() {
    let dir = Node::temp_dir();
    let config = write_config(
        &dir,
        "listen = \"not even an address\"\ndata_dir = \"from-file\"\n",
    );
    let node = Node::start_in(
        dir.clone(),
        NodeOptions {
            config: Some(config),
            ..NodeOptions::default()
        },
    )
    .await;
    node.publish("a", &json!(1)).await;
    assert!(
        node.data_dir().join("edgefn.redb").exists(),
        "--data-dir was not used"
    );
    assert!(
        !dir.path().join("from-file").exists(),
        "the config's data_dir won over --data-dir"
    );
}

#[tokio::test]
async fn serve_raises_its_open_file_limit_for_its_connections() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = Node::temp_dir();
    // Started with the usual soft limit of 1,024 open files.
    let mut command = tokio::process::Command::new("bash");
    command
        .args(["-c", "ulimit -Sn 1024 && exec \"$@\"", "bash"])
        .arg(edgefn_e2e::paths::edgefn_bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-key",
            "k",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("bash runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    within("the node to listen", Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("edgefn listening") {
                return;
            }
        }
        panic!("the node stopped before listening");
    })
    .await;
    let pid = child.id().expect("the node runs");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open-file limit in {limits}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    let [soft, hard] = numbers[..] else {
        panic!("unexpected line: {line}")
    };
    // Enough for the default 10,000 connections and the node's own files,
    // or as much as the hard limit allows.
    assert!(soft >= hard.min(10_256), "{line}");
}
