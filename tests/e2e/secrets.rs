//! Function secrets: set at deploy (`--secret NAME=VALUE`, `--secret-file
//! FILE`, or the admin API's `secrets`), readable by name in the function
//! that owns them and nowhere else: never returned by the admin API or the
//! CLI (they show as `set`), never in the function's log or the node's
//! tracing output (at the default level, and at trace level, which an
//! operator may turn on to debug), and not in the data dir as plain text.

use std::path::Path;

use edgefn_e2e::caps::{self, ok};
use edgefn_e2e::paths::guest;
use edgefn_e2e::tempdir::TempDir;
use edgefn_e2e::*;
use reqwest::Method;

const FLAG_SECRET: &str = "flag-secret-Qm9vbGVhbg";
const FILE_SECRET: &str = "file-secret-WmVicmFz";
const API_SECRET: &str = "api-secret-S2l3aWZydWl0";
const SECRETS: [&str; 3] = [FLAG_SECRET, FILE_SECRET, API_SECRET];

/// Fails if `text` (from `place`) contains any secret value.
#[track_caller]
fn assert_no_secret(place: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{place} shows the secret {secret}");
    }
}

/// The files under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn secrets_are_readable_by_their_function_and_shown_nowhere() {
    // The node's default tracing filter, whatever EDGEFN_LOG says here.
    let node = Node::start_with(NodeOptions {
        log_filter: Some("edgefn=info,warn".into()),
        ..NodeOptions::default()
    })
    .await;
    let dir = TempDir::new();
    let file = dir.path().join("secrets.env");
    let text =
        format!("# the database\nDB_PASSWORD={FILE_SECRET}\n\n  API_KEY=overridden-by-the-flag\n");
    std::fs::write(&file, text).unwrap();
    let wasm = guest("caps");
    let api_key = format!("API_KEY={FLAG_SECRET}");
    let deployed = node
        .cli(&[
            "deploy",
            wasm.to_str().unwrap(),
            "--name",
            "vault",
            "--endpoint",
            "--secret",
            &api_key,
            "--secret-file",
            file.to_str().unwrap(),
        ])
        .await;
    assert_no_secret("`edgefn deploy`", &format!("{deployed:?}"));
    let answer = node
        .deploy_caps("other", json!({"secrets": {"TOKEN": API_SECRET}}))
        .await;
    assert_no_secret("the deploy answer", &answer.to_string());

    let script = [
        caps::secret("API_KEY"),
        caps::secret("DB_PASSWORD"),
        caps::secret("TOKEN"),
        caps::secret("api_key"),
        caps::log("info", "read the secrets", &[("count", "2")]),
    ];
    let results = node.run_ops("vault", &script).await;
    assert_eq!(ok(&results[0]), FLAG_SECRET, "the flag wins over the file");
    assert_eq!(ok(&results[1]), FILE_SECRET);
    assert_eq!(ok(&results[2]), &Value::Null, "another function's secret");
    assert_eq!(ok(&results[3]), &Value::Null, "names are case-sensitive");
    let results = node.run_ops("other", &script).await;
    assert_eq!(ok(&results[0]), &Value::Null);
    assert_eq!(ok(&results[2]), API_SECRET);

    // Shown as set, by name only.
    let shown = node.show("vault").await;
    assert_eq!(
        shown["secrets"],
        json!({"API_KEY": "set", "DB_PASSWORD": "set"})
    );
    assert_eq!(node.show("other").await["secrets"], json!({"TOKEN": "set"}));
    for path in ["/functions", "/functions/vault", "/functions/other"] {
        let answer = node.admin(Method::GET, path).await;
        assert_no_secret(path, &answer.ok().to_string());
    }
    for args in [
        &["functions", "show", "vault"][..],
        &["functions", "show", "other"],
        &["functions", "list"],
        &["functions", "logs", "vault"],
        &["functions", "logs", "other"],
    ] {
        let output = node.cli(args).await;
        let place = format!("`edgefn {}`", args.join(" "));
        assert_no_secret(&place, output.ok());
        assert_no_secret(&place, &output.stderr);
    }
    let shown = node.cli(&["functions", "show", "vault"]).await;
    assert!(
        shown.ok().contains(r#""API_KEY": "set""#),
        "{}",
        shown.stdout
    );
    for function in ["vault", "other"] {
        let logs = node.logs(function).await;
        assert!(!logs.is_empty(), "`{function}` logged nothing");
        assert_no_secret("the function log", &Value::from(logs).to_string());
    }

    // Nor in the node's own output (at trace level), nor stored in clear.
    node.wait_for_log("vault", &["read the secrets"], wait::TIMEOUT)
        .await;
    let stderr = node.stderr();
    assert!(stderr.contains("read the secrets"), "{stderr}");
    assert_no_secret("the node's stderr", &stderr);
    assert_no_secret("the node's stdout", &node.stdout());
    for path in files(&node.data_dir()) {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert_no_secret(&path.display().to_string(), &text);
    }
}

#[tokio::test]
async fn secrets_stay_out_of_the_node_log_at_trace_level() {
    let node = Node::start_with(NodeOptions {
        log_filter: Some("edgefn=trace,warn".into()),
        ..NodeOptions::default()
    })
    .await;
    node.deploy_caps("vault", json!({"secrets": {"TOKEN": API_SECRET}}))
        .await;
    let results = node
        .run_ops(
            "vault",
            &[caps::secret("TOKEN"), caps::log("info", "read it", &[])],
        )
        .await;
    assert_eq!(ok(&results[0]), API_SECRET);
    node.wait_for_log("vault", &["read it"], wait::TIMEOUT)
        .await;
    let stderr = node.stderr();
    assert!(stderr.contains("read it"), "{stderr}");
    let leaks: Vec<&str> = stderr.lines().filter(|l| l.contains(API_SECRET)).collect();
    assert!(
        leaks.is_empty(),
        "the node's trace output shows the secret:\n{}",
        leaks.join("\n")
    );
}
