//! Running an HTTP endpoint function: a standard `wasi:http` proxy component
//! gets the request and answers it, in a fresh instance under its deadline.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::sync::oneshot;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::invoke::InvokeError;
use super::{PreparedFunction, Sandbox};
use crate::metrics::{Outcome, Trigger};

impl Sandbox {
    /// Hands `request` (already buffered, path relative to the function) to
    /// `function` and returns its response. The response body may still be
    /// streaming from the guest when this returns; the invocation keeps
    /// running (under its deadline) until the guest is done.
    ///
    /// # Errors
    /// [`InvokeError`] when the guest fails before it sets a response.
    pub async fn endpoint(
        self: &Arc<Self>,
        function: Arc<PreparedFunction>,
        request: http::Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<http::Response<HyperOutgoingBody>, InvokeError> {
        let failed = |message: String| InvokeError::Failed {
            function: Arc::clone(&function.name),
            message,
        };
        let Some(proxy) = function.component.http.clone() else {
            return Err(failed(
                "the component does not export `wasi:http/incoming-handler`".into(),
            ));
        };
        let mut run = self.start(&function, Trigger::Endpoint, timeout, 0)?;
        let (sender, receiver) = oneshot::channel();
        let http = run.store.data_mut();
        let mut http = http.http();
        let incoming = http
            .new_incoming_request(Scheme::Http, request)
            .map_err(|e| failed(format!("{e:#}")))?;
        let outparam = http
            .new_response_outparam(sender)
            .map_err(|e| failed(format!("{e:#}")))?;
        let sandbox = Arc::clone(self);
        let task_function = Arc::clone(&function);
        let task = tokio::spawn(async move {
            let function = task_function;
            let result = tokio::time::timeout(timeout, async {
                let proxy = proxy.instantiate_async(&mut run.store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut run.store, incoming, outparam)
                    .await
            })
            .await;
            let finished = sandbox.finish(&function, run, Trigger::Endpoint, result)?;
            sandbox.metrics.invocation(
                &function.name,
                Trigger::Endpoint,
                Outcome::Ok,
                finished.seconds,
            );
            Ok::<_, InvokeError>(())
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(failed(format!("it answered with the error {code:?}"))),
            Err(_) => match task.await {
                Ok(Err(e)) => Err(e),
                Ok(Ok(())) => Err(failed("it returned without setting a response".into())),
                Err(e) => Err(failed(format!("its task failed: {e}"))),
            },
        }
    }
}
