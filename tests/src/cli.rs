//! Running the `edgefn` client commands (deploy, functions, kv, token,
//! publish, subscribe, history) against a node, to their end or, for those
//! that keep printing, line by line ([`CliStream`]).
//!
//! [`Node::cli`] points the command at the node through `EDGEFN_SERVER` and
//! `EDGEFN_ADMIN_KEY`; [`command`] starts from a clean environment so a test
//! can pass flags instead.

use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::node::Node;
use crate::paths::edgefn_bin;
use crate::wait::{TIMEOUT, within};

/// What a finished command printed.
#[derive(Debug)]
pub struct CliOutput {
    /// How it exited.
    pub status: ExitStatus,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl CliOutput {
    /// Asserts success; returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert!(
            self.status.success(),
            "the command failed ({}):\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts failure; returns stderr.
    #[track_caller]
    pub fn failed(&self) -> &str {
        assert!(
            !self.status.success(),
            "the command should have failed:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        &self.stderr
    }
}

/// `edgefn ARGS...` with no `EDGEFN_*` variables inherited.
pub fn command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(edgefn_bin());
    command
        .args(args)
        .env_remove("EDGEFN_SERVER")
        .env_remove("EDGEFN_ADMIN_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `command` to its end.
pub async fn run(mut command: Command) -> CliOutput {
    let output = within("an edgefn command to finish", TIMEOUT, command.output())
        .await
        .expect("cannot run edgefn");
    CliOutput {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Node {
    /// `edgefn ARGS...` aimed at this node by `EDGEFN_SERVER` and
    /// `EDGEFN_ADMIN_KEY`.
    pub fn cli_command(&self, args: &[&str]) -> Command {
        let mut command = command(args);
        command
            .env("EDGEFN_SERVER", self.base())
            .env("EDGEFN_ADMIN_KEY", self.admin_key());
        command
    }

    /// Runs [`Node::cli_command`] to its end.
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        run(self.cli_command(args)).await
    }
}

/// A running command that keeps printing (`edgefn subscribe`, `edgefn
/// functions logs --follow`), read line by line; killed when dropped.
pub struct CliStream {
    _child: Child,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
}

impl CliStream {
    /// Starts `command`.
    pub fn start(mut command: Command) -> CliStream {
        let mut child = command.spawn().expect("cannot start edgefn");
        CliStream {
            stdout: lines(child.stdout.take().expect("piped stdout")),
            stderr: lines(child.stderr.take().expect("piped stderr")),
            _child: child,
        }
    }

    /// The next line it printed on stdout.
    pub async fn next_line(&mut self) -> String {
        let line = within("a line from edgefn", TIMEOUT, self.stdout.recv()).await;
        line.unwrap_or_else(|| panic!("edgefn ended; stderr: {:?}", self.stderr.try_recv()))
    }

    /// The first line on stdout that contains every one of `parts` (the
    /// lines before it are skipped).
    pub async fn line_with(&mut self, parts: &[&str]) -> String {
        loop {
            let line = self.next_line().await;
            if parts.iter().all(|p| line.contains(p)) {
                return line;
            }
        }
    }

    /// Waits for a line on stderr that starts with `prefix`.
    pub async fn stderr_line(&mut self, prefix: &str) -> String {
        let what = format!("edgefn to print `{prefix}...` on stderr");
        within(&what, TIMEOUT, async {
            loop {
                let line = self
                    .stderr
                    .recv()
                    .await
                    .unwrap_or_else(|| panic!("edgefn ended before printing `{prefix}`"));
                if line.starts_with(prefix) {
                    return line;
                }
            }
        })
        .await
    }
}

/// A running `edgefn subscribe`, read line by line.
pub struct CliSubscriber(CliStream);

impl CliSubscriber {
    /// Starts `command` (an `edgefn subscribe ...`) and waits until it
    /// reports `subscribed:` on stderr.
    pub async fn start(command: Command) -> CliSubscriber {
        let mut stream = CliStream::start(command);
        stream.stderr_line("subscribed:").await;
        CliSubscriber(stream)
    }

    /// The next line it printed on stdout, as JSON.
    pub async fn next_json(&mut self) -> serde_json::Value {
        let line = self.0.next_line().await;
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }
}

fn lines(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> mpsc::UnboundedReceiver<String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}
