//! A TCP proxy on a loopback port in front of another one, that a test can
//! cut (open connections dropped, new ones closed at once: a network
//! partition as the client sees it) and heal. Used to partition one node
//! away from NATS while the others stay joined.

use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A proxy to `127.0.0.1:{target}`; stops when dropped.
pub struct TcpProxy {
    port: u16,
    cut: Arc<watch::Sender<bool>>,
    accepting: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts proxying a free loopback port to `127.0.0.1:{target}`.
    pub async fn start(target: u16) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("cannot bind the proxy");
        let port = listener.local_addr().expect("a local address").port();
        let cut = Arc::new(watch::Sender::new(false));
        let accepting = tokio::spawn(accept(listener, target, Arc::clone(&cut)));
        TcpProxy {
            port,
            cut,
            accepting,
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every open connection and closes new ones until [`Self::heal`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Lets connections through again.
    pub fn heal(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn accept(listener: TcpListener, target: u16, cut: Arc<watch::Sender<bool>>) {
    while let Ok((client, _)) = listener.accept().await {
        if *cut.borrow() {
            drop(client);
            continue;
        }
        tokio::spawn(relay(client, target, cut.subscribe()));
    }
}

/// Copies between `client` and the target until either side closes or the
/// proxy is cut.
async fn relay(mut client: TcpStream, target: u16, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else {
        return;
    };
    tokio::select! {
        _ = copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.wait_for(|&cut| cut) => {}
    }
}
