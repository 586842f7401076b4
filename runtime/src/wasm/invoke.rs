//! Running one hook or interval invocation: a fresh store and instance, the
//! deadline (epoch interruption for guest code, a timer for time spent in
//! host calls), captured output, and errors that name the function and the
//! limit it hit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpCtx;

use super::bindings::{self, Decision};
use super::caps::Budget;
use super::caps::bus::BusCtx;
use super::caps::kv::KvCtx;
use super::caps::log::{LogCapture, LogCtx, LogSource};
use super::caps::outbound::OutboundCtx;
use super::caps::secrets::SecretsCtx;
use super::caps::tokens::TokensCtx;
use super::limits::InstanceLimits;
use super::state::InvocationState;
use super::{MIB, PreparedFunction, Sandbox};
use crate::bus::{Message, MessageKind, Published};
use crate::metrics::{Outcome, Trigger};

/// Why an invocation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvokeError {
    /// It ran past its deadline and was cut off.
    #[error("function `{function}` exceeded its deadline of {} ms", .after.as_millis())]
    Deadline {
        /// The function.
        function: Arc<str>,
        /// Its deadline.
        after: Duration,
    },
    /// It tried to grow memory past its limit (and then failed).
    #[error(
        "function `{function}` exceeded its memory limit of {limit_mb} MiB (it asked for {asked_mb} MiB)"
    )]
    Memory {
        /// The function.
        function: Arc<str>,
        /// Its limit.
        limit_mb: usize,
        /// What it asked for.
        asked_mb: usize,
    },
    /// It trapped (panic, `unreachable`, stack overflow, ...).
    #[error("function `{function}` trapped: {message}")]
    Trap {
        /// The function.
        function: Arc<str>,
        /// What the trap was.
        message: String,
    },
    /// It returned an error, or a result the host cannot use.
    #[error("function `{function}` failed: {message}")]
    Failed {
        /// The function.
        function: Arc<str>,
        /// Its error.
        message: String,
    },
}

impl InvokeError {
    fn outcome(&self) -> Outcome {
        match self {
            Self::Deadline { .. } => Outcome::Timeout,
            _ => Outcome::Error,
        }
    }
}

/// What a before-publish hook decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookDecision {
    /// Unchanged.
    Pass,
    /// New payload and meta (JSON text, not yet validated).
    Modify {
        /// The new payload.
        payload: String,
        /// The new meta.
        meta: Option<String>,
    },
    /// Refused, with the reason for the publisher.
    Reject(String),
}

/// A successful invocation's result and bookkeeping.
pub(super) struct Finished<T> {
    pub(super) value: T,
    pub(super) seconds: f64,
    pub(super) invocation: u64,
}

/// One invocation in progress: its store and bookkeeping.
pub(super) struct Invocation {
    pub(super) store: Store<InvocationState>,
    pub(super) id: u64,
    pub(super) timeout: Duration,
    started: Instant,
}

impl Sandbox {
    /// Runs `function`'s before-publish hook on `message`.
    ///
    /// # Errors
    /// [`InvokeError`] when it traps, misses its deadline or has no such export.
    pub async fn before_publish(
        &self,
        function: &PreparedFunction,
        message: &Message,
        timeout: Duration,
    ) -> Result<HookDecision, InvokeError> {
        let indices = export(
            function,
            function.component.before_publish.as_ref(),
            "before-publish",
        )?;
        let mut run = self.start(function, timeout, message.depth);
        let arg = wit_message(message, None);
        let result = tokio::time::timeout(timeout, async {
            let instance = function
                .component
                .pre
                .instantiate_async(&mut run.store)
                .await?;
            let guest = indices.load(&mut run.store, &instance)?;
            guest.call_handle(&mut run.store, &arg).await
        })
        .await;
        let finished = self.finish(function, run, Trigger::BeforePublish, result)?;
        let (decision, outcome) = match finished.value {
            Decision::Pass => (HookDecision::Pass, Outcome::Ok),
            Decision::Modify(m) => (
                HookDecision::Modify {
                    payload: m.payload,
                    meta: m.meta,
                },
                Outcome::Ok,
            ),
            Decision::Reject(reason) => (HookDecision::Reject(reason), Outcome::Rejected),
        };
        self.metrics.invocation(
            &function.name,
            Trigger::BeforePublish,
            outcome,
            finished.seconds,
        );
        Ok(decision)
    }

    /// Runs `function`'s after-publish hook on a published message.
    ///
    /// # Errors
    /// [`InvokeError`] when it fails, traps or misses its deadline.
    pub async fn after_publish(
        &self,
        function: &PreparedFunction,
        published: &Published,
        timeout: Duration,
    ) -> Result<(), InvokeError> {
        let indices = export(
            function,
            function.component.after_publish.as_ref(),
            "after-publish",
        )?;
        let mut run = self.start(function, timeout, published.message.depth);
        let arg = wit_message(&published.message, Some(published.timetoken.to_string()));
        let result = tokio::time::timeout(timeout, async {
            let instance = function
                .component
                .pre
                .instantiate_async(&mut run.store)
                .await?;
            let guest = indices.load(&mut run.store, &instance)?;
            guest.call_handle(&mut run.store, &arg).await
        })
        .await;
        let finished = self.finish(function, run, Trigger::AfterPublish, result)?;
        self.guest_result(function, Trigger::AfterPublish, finished)
    }

    /// Runs `function`'s interval handler once.
    ///
    /// # Errors
    /// [`InvokeError`] when it fails, traps or misses its deadline.
    pub async fn interval(
        &self,
        function: &PreparedFunction,
        timeout: Duration,
    ) -> Result<(), InvokeError> {
        let indices = export(function, function.component.interval.as_ref(), "interval")?;
        let mut run = self.start(function, timeout, 0);
        let result = tokio::time::timeout(timeout, async {
            let instance = function
                .component
                .pre
                .instantiate_async(&mut run.store)
                .await?;
            let guest = indices.load(&mut run.store, &instance)?;
            guest.call_run(&mut run.store).await
        })
        .await;
        let finished = self.finish(function, run, Trigger::Interval, result)?;
        self.guest_result(function, Trigger::Interval, finished)
    }

    /// A fresh store for one invocation of `function` with deadline
    /// `timeout`, triggered by a message of chain depth `depth`.
    pub(super) fn start(
        &self,
        function: &PreparedFunction,
        timeout: Duration,
        depth: u8,
    ) -> Invocation {
        let id = self.next_invocation();
        let output = LogCapture::new(self.config.max_log_bytes);
        let wasi = WasiCtx::builder()
            .envs(&function.env)
            .stdout(output.clone())
            .stderr(output.stderr())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let budget = |what, limit| Budget::new(what, limit, Arc::clone(&function.logs), id);
        let services = &self.services;
        let started = Instant::now();
        let state = InvocationState {
            table: Default::default(),
            wasi,
            http: WasiHttpCtx::new(),
            outbound: OutboundCtx {
                rules: Arc::clone(&function.outbound),
                limits: Arc::clone(&self.outbound_limits),
                budget: budget("outbound HTTP", function.budgets.http),
                logs: Arc::clone(&function.logs),
                metrics: Arc::clone(&self.metrics),
                invocation: id,
            },
            kv: KvCtx {
                store: Arc::clone(&services.store),
                budget: budget("KV", function.budgets.kv),
            },
            bus: BusCtx {
                publisher: Arc::clone(&services.publisher),
                budget: budget("bus", function.budgets.bus),
                depth,
                publisher_id: format!("fn:{}", function.name),
            },
            tokens: TokensCtx {
                access: Arc::clone(&services.access),
                may_grant: function.may_grant,
                function: Arc::clone(&function.name),
            },
            secrets: SecretsCtx {
                secrets: Arc::clone(&function.secrets),
            },
            log: LogCtx {
                logs: Arc::clone(&function.logs),
                invocation: id,
            },
            limits: InstanceLimits::new(function.memory_bytes),
            output,
            deadline: started + timeout,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|cx| {
            if Instant::now() >= cx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Invocation {
            store,
            id,
            timeout,
            started,
        }
    }

    /// Ends an invocation: moves its output into the function's log and
    /// turns wasmtime errors into [`InvokeError`]s (counted and logged).
    /// On success, returns the value and the seconds it took; the caller
    /// counts it with the outcome the value means.
    pub(super) fn finish<T>(
        &self,
        function: &PreparedFunction,
        run: Invocation,
        trigger: Trigger,
        result: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<Finished<T>, InvokeError> {
        let state = run.store.data();
        state.output.drain_into(&function.logs, run.id);
        let seconds = run.started.elapsed().as_secs_f64();
        let error = match result {
            Ok(Ok(value)) => {
                return Ok(Finished {
                    value,
                    seconds,
                    invocation: run.id,
                });
            }
            Err(_) => deadline(function, run.timeout),
            Ok(Err(e)) => classify(function, &state.limits, run.timeout, &e),
        };
        function
            .logs
            .push(run.id, LogSource::Host, error.to_string());
        self.metrics
            .invocation(&function.name, trigger, error.outcome(), seconds);
        Err(error)
    }

    /// Counts and logs the `result<_, string>` a handler returned.
    fn guest_result(
        &self,
        function: &PreparedFunction,
        trigger: Trigger,
        finished: Finished<Result<(), String>>,
    ) -> Result<(), InvokeError> {
        let outcome = if finished.value.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Error
        };
        self.metrics
            .invocation(&function.name, trigger, outcome, finished.seconds);
        finished.value.map_err(|message| {
            let error = InvokeError::Failed {
                function: Arc::clone(&function.name),
                message,
            };
            function
                .logs
                .push(finished.invocation, LogSource::Host, error.to_string());
            error
        })
    }
}

fn export<'a, T>(
    function: &PreparedFunction,
    indices: Option<&'a T>,
    export: &str,
) -> Result<&'a T, InvokeError> {
    indices.ok_or_else(|| InvokeError::Failed {
        function: Arc::clone(&function.name),
        message: format!("the component does not export `{export}`"),
    })
}

fn deadline(function: &PreparedFunction, after: Duration) -> InvokeError {
    InvokeError::Deadline {
        function: Arc::clone(&function.name),
        after,
    }
}

fn classify(
    function: &PreparedFunction,
    limits: &InstanceLimits,
    timeout: Duration,
    error: &wasmtime::Error,
) -> InvokeError {
    let name = Arc::clone(&function.name);
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return deadline(function, timeout);
    }
    if let Some(asked) = limits.memory_refused {
        return InvokeError::Memory {
            function: name,
            limit_mb: limits.memory_bytes() / MIB,
            asked_mb: asked.div_ceil(MIB),
        };
    }
    let message = match (error.downcast_ref::<Trap>(), limits.table_refused) {
        (Some(trap), Some(asked)) => {
            format!("{trap} after a table grow to {asked} elements was refused")
        }
        (Some(trap), None) => format!("{trap} (see the function's log for its own output)"),
        (None, _) => format!("{error:#}"),
    };
    InvokeError::Trap {
        function: name,
        message,
    }
}

fn wit_message(message: &Message, timetoken: Option<String>) -> bindings::Message {
    bindings::Message {
        channel: message.channel.to_string(),
        payload: message.payload.get().to_owned(),
        meta: message.meta.as_ref().map(|m| m.get().to_owned()),
        publisher: message.publisher.clone(),
        kind: match message.kind {
            MessageKind::Publish => bindings::MessageKind::Publish,
            MessageKind::Fire => bindings::MessageKind::Fire,
            MessageKind::Signal => bindings::MessageKind::Signal,
        },
        timetoken,
    }
}
