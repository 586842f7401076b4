//! A running `edgefn serve`: started on `127.0.0.1:0` with a data dir of its
//! own, ready once it printed `edgefn listening on http://ADDR`, killed when
//! dropped. Its stdout and stderr are drained into buffers a test can read
//! (e.g. to check that a generated admin key was printed once). It can be
//! killed with SIGKILL or stopped with SIGTERM, and restarted on the same
//! data dir.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::paths::edgefn_bin;
use crate::tempdir::TempDir;
use crate::wait::within;

/// How long a node may take to start (it compiles the config's functions).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How the node gets its admin key.
#[derive(Debug, Clone)]
pub enum AdminKey {
    /// `--admin-key KEY`.
    Flag(String),
    /// `EDGEFN_ADMIN_KEY=KEY` in the environment.
    Env(String),
    /// None given: the node generates one (or reads DATA_DIR/admin.key).
    Generated,
}

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Its admin key.
    pub admin_key: AdminKey,
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// Whether to pass `--data-dir` (otherwise the config file says).
    pub data_dir_flag: bool,
    /// `--secret-key KEY`: access control on (tokens needed on the bus).
    pub secret_key: Option<String>,
    /// `EDGEFN_LOG` (the node's tracing filter), when not the default.
    pub log_filter: Option<String>,
    /// Whether starting returns as soon as the node says it is starting
    /// (answering 503 `starting`), rather than once it serves its API.
    pub until_starting: bool,
    /// Runs the node under libfaketime with its wall clock off by this
    /// much (libfaketime's relative form: `-2s`, `+1m`), its monotonic
    /// clock untouched (`FAKETIME_DONT_FAKE_MONOTONIC=1`, so its timers
    /// run as usual). See [`faketime_library`].
    pub clock_offset: Option<String>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            admin_key: AdminKey::Flag(format!("test-key-{}", std::process::id())),
            config: None,
            data_dir_flag: true,
            secret_key: None,
            log_filter: None,
            until_starting: false,
            clock_offset: None,
        }
    }
}

/// What a process wrote, line by line.
#[derive(Default)]
pub struct Output {
    stdout: Mutex<String>,
    stderr: Mutex<String>,
}

struct Process {
    child: Child,
    output: Arc<Output>,
}

/// A running node.
pub struct Node {
    dir: Arc<TempDir>,
    options: NodeOptions,
    process: Process,
    base: String,
    admin_key: String,
    http: reqwest::Client,
}

impl Node {
    /// Starts a node with the default options (admin key given by flag).
    pub async fn start() -> Node {
        Self::start_with(NodeOptions::default()).await
    }

    /// Starts a node with access control on, its tokens signed with `secret_key`.
    pub async fn start_secured(secret_key: &str) -> Node {
        Self::start_with(NodeOptions {
            secret_key: Some(secret_key.to_owned()),
            ..NodeOptions::default()
        })
        .await
    }

    /// Starts a node with `options` in a fresh temp dir.
    pub async fn start_with(options: NodeOptions) -> Node {
        Self::start_in(Arc::new(TempDir::new()), options).await
    }

    /// Starts a node with `options` in `dir` (its data in `dir/data`); the
    /// directory may hold a config file written beforehand.
    pub async fn start_in(dir: Arc<TempDir>, options: NodeOptions) -> Node {
        let (process, base) = spawn(dir.path(), &options).await;
        let admin_key = match &options.admin_key {
            AdminKey::Flag(key) | AdminKey::Env(key) => key.clone(),
            AdminKey::Generated => {
                let file = dir.path().join("data/admin.key");
                std::fs::read_to_string(&file)
                    .unwrap_or_else(|e| {
                        panic!(
                            "cannot read the generated admin key at {}: {e}",
                            file.display()
                        )
                    })
                    .trim()
                    .to_owned()
            }
        };
        Node {
            dir,
            options,
            process,
            base,
            admin_key,
            http: reqwest::Client::new(),
        }
    }

    /// Starts a node (default options) with `--config` naming `toml`, written
    /// as `edgefn.toml` into the node's temp dir.
    pub async fn start_with_config(toml: &str) -> Node {
        Self::start_configured(toml, NodeOptions::default()).await
    }

    /// Starts a node with `options` and `--config` naming `toml`, written
    /// as `edgefn.toml` into the node's temp dir.
    pub async fn start_configured(toml: &str, options: NodeOptions) -> Node {
        let dir = Self::temp_dir();
        let config = write_config(&dir, toml);
        Self::start_in(
            dir,
            NodeOptions {
                config: Some(config),
                ..options
            },
        )
        .await
    }

    /// A fresh temp dir to prepare (e.g. write a config into) before [`Node::start_in`].
    pub fn temp_dir() -> Arc<TempDir> {
        Arc::new(TempDir::new())
    }

    /// The node's base URL, `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `host:port` it listens on.
    pub fn authority(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The admin key it accepts.
    pub fn admin_key(&self) -> &str {
        &self.admin_key
    }

    /// An HTTP client (shared connection pool).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The node's data dir.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// What the current process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.process
            .output
            .stdout
            .lock()
            .expect("output lock")
            .clone()
    }

    /// What the current process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.process
            .output
            .stderr
            .lock()
            .expect("output lock")
            .clone()
    }

    /// The process id of the running node (for /proc checks).
    pub fn pid(&self) -> u32 {
        self.process.child.id().expect("the node is running")
    }

    /// Kills the process with SIGKILL (no chance to clean up) and waits for it.
    pub async fn kill9(&mut self) {
        self.process
            .child
            .start_kill()
            .expect("cannot kill the node");
        within(
            "the killed node to exit",
            START_TIMEOUT,
            self.process.child.wait(),
        )
        .await
        .expect("cannot wait for the node");
    }

    /// Stops the process with SIGTERM and returns its exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        let pid = self
            .process
            .child
            .id()
            .expect("the node is running")
            .to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("cannot run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        within(
            "the node to stop after SIGTERM",
            START_TIMEOUT,
            self.process.child.wait(),
        )
        .await
        .expect("cannot wait for the node")
    }

    /// Starts a new process on the same data dir with the same options (on
    /// a new port). Kill or stop the old one first.
    pub async fn restart(&mut self) {
        self.restart_with(self.options.clone()).await;
    }

    /// [`Node::restart`] with other `options` (a clock offset, say).
    pub async fn restart_with(&mut self, options: NodeOptions) {
        self.options = options;
        let (process, base) = spawn(self.dir.path(), &self.options).await;
        self.process = process;
        self.base = base;
        self.http = reqwest::Client::new();
    }
}

/// Writes `toml` to `dir/edgefn.toml` and returns its path.
pub fn write_config(dir: &TempDir, toml: &str) -> PathBuf {
    let path = dir.path().join("edgefn.toml");
    std::fs::write(&path, toml).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// The `serve` command line for `options` in `dir`.
pub fn serve_command(dir: &Path, options: &NodeOptions) -> Command {
    let mut command = Command::new(edgefn_bin());
    command.arg("serve").arg("--listen").arg("127.0.0.1:0");
    if options.data_dir_flag {
        command.arg("--data-dir").arg(dir.join("data"));
    }
    if let Some(config) = &options.config {
        command.arg("--config").arg(config);
    }
    if let Some(key) = &options.secret_key {
        command.arg("--secret-key").arg(key);
    }
    command
        .env_remove("EDGEFN_ADMIN_KEY")
        .env_remove("EDGEFN_SECRET_KEY")
        .env_remove("EDGEFN_SERVER");
    if let Some(filter) = &options.log_filter {
        command.env("EDGEFN_LOG", filter);
    }
    if let Some(offset) = &options.clock_offset {
        // What `faketime -m -f OFFSET` sets up, without its wrapper process
        // (which forks and waits: killing it would leave the node running).
        command
            .env("LD_PRELOAD", faketime_library())
            .env("FAKETIME", offset)
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    }
    match &options.admin_key {
        AdminKey::Flag(key) => {
            command.arg("--admin-key").arg(key);
        }
        AdminKey::Env(key) => {
            command.env("EDGEFN_ADMIN_KEY", key);
        }
        AdminKey::Generated => {}
    }
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// libfaketime's multi-threaded library, as the Debian package `faketime`
/// installs it (`scripts/test.sh` installs it when missing), or as
/// `EDGEFN_LIBFAKETIME` names it.
///
/// # Panics
/// When it cannot be found, saying how to get it.
pub fn faketime_library() -> PathBuf {
    if let Some(path) = std::env::var_os("EDGEFN_LIBFAKETIME").filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    const NAME: &str = "faketime/libfaketimeMT.so.1";
    let mut candidates = vec![
        Path::new("/usr/lib").join(NAME),
        Path::new("/usr/local/lib").join(NAME),
    ];
    if let Ok(dirs) = std::fs::read_dir("/usr/lib") {
        // Multiarch: /usr/lib/x86_64-linux-gnu/faketime/...
        candidates.extend(dirs.flatten().map(|dir| dir.path().join(NAME)));
    }
    candidates
        .into_iter()
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "libfaketime is not installed: `apt-get install faketime` (scripts/test.sh does), \
                 or set EDGEFN_LIBFAKETIME to libfaketimeMT.so.1"
            )
        })
}

/// Starts `edgefn serve` and waits for its "listening" line (or its
/// "starting" line, with [`NodeOptions::until_starting`]).
async fn spawn(dir: &Path, options: &NodeOptions) -> (Process, String) {
    let mut child = serve_command(dir, options)
        .spawn()
        .expect("cannot start edgefn serve");
    let output = Arc::new(Output::default());
    let (lines, mut stdout_lines) = mpsc::unbounded_channel();
    drain(
        child.stdout.take().expect("piped stdout"),
        Arc::clone(&output),
        true,
        Some(lines),
    );
    drain(
        child.stderr.take().expect("piped stderr"),
        Arc::clone(&output),
        false,
        None,
    );

    let ready = if options.until_starting {
        "edgefn starting on "
    } else {
        "edgefn listening on "
    };
    let base = within(
        "`edgefn serve` to print its listening address",
        START_TIMEOUT,
        async {
            while let Some(line) = stdout_lines.recv().await {
                if let Some(rest) = line.strip_prefix(ready) {
                    return Some(
                        rest.split_whitespace()
                            .next()
                            .expect("an address")
                            .to_owned(),
                    );
                }
            }
            None
        },
    )
    .await;
    let Some(base) = base else {
        let status = child.wait().await;
        let stderr = output.stderr.lock().expect("output lock").clone();
        let stdout = output.stdout.lock().expect("output lock").clone();
        panic!(
            "edgefn serve ended before listening ({status:?})\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
    };
    (Process { child, output }, base)
}

/// Copies a stream into `output` line by line (and to `lines`, if given)
/// until it ends.
fn drain(
    stream: impl AsyncRead + Unpin + Send + 'static,
    output: Arc<Output>,
    stdout: bool,
    lines: Option<mpsc::UnboundedSender<String>>,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let buffer = if stdout {
                &output.stdout
            } else {
                &output.stderr
            };
            {
                let mut buffer = buffer.lock().expect("output lock");
                buffer.push_str(&line);
                buffer.push('\n');
            }
            if let Some(lines) = &lines {
                let _ = lines.send(line);
            }
        }
    });
}
