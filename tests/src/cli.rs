//! Running the `edgefn` client commands (deploy, functions, publish,
//! subscribe, history) against a node.
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

/// A running `edgefn subscribe`, read line by line.
pub struct CliSubscriber {
    _child: Child,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
}

impl CliSubscriber {
    /// Starts `command` (an `edgefn subscribe ...`) and waits until it
    /// reports `subscribed:` on stderr.
    pub async fn start(mut command: Command) -> CliSubscriber {
        let mut child = command.spawn().expect("cannot start edgefn subscribe");
        let stdout = lines(child.stdout.take().expect("piped stdout"));
        let mut stderr = lines(child.stderr.take().expect("piped stderr"));
        within(
            "`edgefn subscribe` to report that it subscribed",
            TIMEOUT,
            async {
                loop {
                    let line = stderr
                        .recv()
                        .await
                        .expect("edgefn subscribe ended before subscribing");
                    if line.starts_with("subscribed:") {
                        return;
                    }
                }
            },
        )
        .await;
        CliSubscriber {
            _child: child,
            stdout,
            stderr,
        }
    }

    /// The next line it printed on stdout, as JSON.
    pub async fn next_json(&mut self) -> serde_json::Value {
        let line = within("a line from edgefn subscribe", TIMEOUT, self.stdout.recv()).await;
        let line = line.unwrap_or_else(|| {
            panic!(
                "edgefn subscribe ended; stderr: {:?}",
                self.stderr.try_recv()
            )
        });
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
