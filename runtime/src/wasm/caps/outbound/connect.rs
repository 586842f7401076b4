//! Sending one permitted outbound request: resolve the host, refuse
//! addresses the rule does not allow, connect to the checked address itself
//! (so a second DNS answer cannot redirect it), TLS for https, HTTP/1.1.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, WasiBody};

/// The connection's remaining work, driven by wasi-http after the response
/// head arrived.
pub type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// Where and how to connect.
pub struct Target {
    /// Host name or IP literal (brackets removed).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether to speak TLS.
    pub tls: bool,
    /// Time allowed to resolve and connect.
    pub connect_timeout: Duration,
    /// Time allowed until the response head arrives.
    pub first_byte_timeout: Duration,
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Sends `request` to `target`, connecting only to an address for which
/// `address_allowed` says yes.
///
/// # Errors
/// The wasi-http error the guest will see: DNS failures, a prohibited
/// address, connection or TLS failures, timeouts.
pub async fn send(
    mut request: http::Request<WasiBody>,
    target: Target,
    address_allowed: impl Fn(IpAddr) -> bool,
) -> Result<(http::Response<WasiBody>, Io), Error> {
    let addr = resolve(&target, address_allowed).await?;
    let tcp = tokio::time::timeout(target.connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(|_| Error::ConnectionRefused)?;
    let stream: Box<dyn Stream> = if target.tls {
        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        let tls = tokio_rustls::TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await
            .map_err(|_| Error::TlsProtocolError)?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;

    // Origin-form on the wire: the authority travels in the Host header.
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;

    let mut conn = Box::pin(conn);
    let response = {
        let mut send = pin!(tokio::time::timeout(
            target.first_byte_timeout,
            sender.send_request(request)
        ));
        tokio::select! {
            sent = &mut send => sent.map_err(|_| Error::ConnectionReadTimeout)??,
            ended = &mut conn => {
                ended?;
                send.await.map_err(|_| Error::ConnectionReadTimeout)??
            }
        }
    };
    let response = response.map(|body| body.map_err(Error::from).boxed_unsync());
    let io: Io = Box::new(async move { conn.await.map_err(Error::from) });
    Ok((response, io))
}

async fn resolve(
    target: &Target,
    address_allowed: impl Fn(IpAddr) -> bool,
) -> Result<SocketAddr, Error> {
    let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
    let addrs: Vec<SocketAddr> = tokio::time::timeout(target.connect_timeout, lookup)
        .await
        .map_err(|_| Error::DnsTimeout)?
        .map_err(|e| Error::DnsError {
            rcode: Some(e.to_string()),
            info_code: None,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Error::DestinationNotFound);
    }
    addrs
        .into_iter()
        .find(|addr| address_allowed(addr.ip()))
        .ok_or(Error::DestinationIpProhibited)
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    });
    Arc::clone(config)
}
