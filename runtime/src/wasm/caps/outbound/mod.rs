//! Outbound HTTP for functions (`wasi:http/outgoing-handler`), limited to the
//! function's allow-list and to a budget of requests per invocation.
//!
//! A refused request fails inside the guest with a wasi-http error code it can
//! see (`HTTP-request-denied` for a URL off the allow-list or an exhausted
//! budget, `destination-IP-prohibited` for an address that is not public),
//! and the refusal is written to the function's log.
//!
//! # Layout
//! - [`config`]: allow-list rules and the public-address test;
//! - [`connect`]: resolving, checking and connecting.

pub mod config;
pub mod connect;

use std::sync::Arc;
use std::time::Duration;

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

pub use self::config::{BadRule, OutboundRule, is_public};
use super::Budget;
use super::log::{FunctionLogs, LogSource};
use crate::config::OutboundConfig;
use crate::metrics::Metrics;

/// Outbound HTTP state of one invocation.
pub struct OutboundCtx {
    pub(crate) rules: Arc<[OutboundRule]>,
    /// Timeouts (the request budget is in `budget`).
    pub(crate) limits: Arc<OutboundConfig>,
    pub(crate) budget: Budget,
    pub(crate) logs: Arc<FunctionLogs>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) invocation: u64,
}

impl OutboundCtx {
    fn deny(&self, why: String) {
        self.metrics.outbound_denied.inc();
        self.logs.push(self.invocation, LogSource::Host, why);
    }

    /// Checks budget and allow-list; returns the matching rule and target.
    fn admit(
        &mut self,
        request: &http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(OutboundRule, connect::Target), Error> {
        let uri = request.uri();
        let url = uri.to_string();
        if let Err(exhausted) = self.budget.spend() {
            self.metrics.outbound_denied.inc();
            return Err(Error::InternalError(Some(exhausted)));
        }
        let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let scheme = if tls { "https" } else { "http" };
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path = uri.path();
        let Some(rule) = self
            .rules
            .iter()
            .find(|r| r.matches(scheme, host, port, path))
        else {
            self.deny(format!(
                "outbound request to {url} denied: not on this function's allow-list"
            ));
            return Err(Error::HttpRequestDenied);
        };
        let limit = |asked: Option<Duration>, max_ms: u64| {
            let max = Duration::from_millis(max_ms);
            asked.map_or(max, |a| a.min(max))
        };
        let target = connect::Target {
            host: host.to_owned(),
            port,
            tls,
            connect_timeout: limit(
                options.and_then(|o| o.connect_timeout),
                self.limits.connect_timeout_ms,
            ),
            first_byte_timeout: limit(
                options.and_then(|o| o.first_byte_timeout),
                self.limits.first_byte_timeout_ms,
            ),
        };
        Ok((rule.clone(), target))
    }
}

impl WasiHttpHooks for OutboundCtx {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _body_sent: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, connect::Io), Error>> + Send>
    {
        let admitted = self.admit(&request, options);
        let logs = Arc::clone(&self.logs);
        let metrics = Arc::clone(&self.metrics);
        let invocation = self.invocation;
        Box::new(async move {
            let (rule, target) = admitted?;
            let url = request.uri().to_string();
            let allowed = |ip| is_public(ip) || rule.names_ip(ip);
            let sent = connect::send(request, target, allowed).await;
            if let Err(Error::DestinationIpProhibited) = &sent {
                metrics.outbound_denied.inc();
                let why = format!(
                    "outbound request to {url} denied: its address is not public; allow it by naming the IP address in --allow-outbound"
                );
                logs.push(invocation, LogSource::Host, why);
            }
            sent
        })
    }
}
