//! Running one hook or interval invocation: a fresh store and instance, the
//! deadline (epoch interruption for guest code, a timer for time spent in
//! host calls), captured output, and errors that name the function and the
//! limit it hit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::component::Instance;
use wasmtime::{PoolConcurrencyLimitError, Store, Trap};

use super::bindings::{self, Decision};
use super::caps::log::LogSource;
use super::limits::InstanceLimits;
use super::state::{self, InvocationState};
use super::{MIB, PreparedFunction, Sandbox};
use crate::bus::{Message, MessageKind, Published};
use crate::metrics::{Outcome, Trigger};
use crate::presence::{PresenceAction, PresenceEvent};

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
    /// It is at its concurrency limit, or the node's instance pool is full.
    #[error("function `{function}` is busy: {reason}; try again later")]
    Busy {
        /// The function.
        function: Arc<str>,
        /// Which limit.
        reason: String,
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
            Self::Busy { .. } => Outcome::Busy,
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
    /// Held for as long as the invocation runs.
    _slot: OwnedSemaphorePermit,
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
        let arg = wit_message(message, None);
        let finished = self
            .call(
                function,
                Trigger::BeforePublish,
                timeout,
                message.depth,
                async |store, instance| {
                    let guest = indices.load(&mut *store, instance)?;
                    guest.call_handle(store, &arg).await
                },
            )
            .await?;
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
        let arg = wit_message(&published.message, Some(published.timetoken.to_string()));
        let finished = self
            .call(
                function,
                Trigger::AfterPublish,
                timeout,
                published.message.depth,
                async |store, instance| {
                    let guest = indices.load(&mut *store, instance)?;
                    guest.call_handle(store, &arg).await
                },
            )
            .await?;
        self.guest_result(function, Trigger::AfterPublish, finished)
    }

    /// Runs `function`'s after-presence hook on a presence change.
    ///
    /// # Errors
    /// [`InvokeError`] when it fails, traps or misses its deadline.
    pub async fn after_presence(
        &self,
        function: &PreparedFunction,
        event: &PresenceEvent,
        timeout: Duration,
    ) -> Result<(), InvokeError> {
        let indices = export(
            function,
            function.component.after_presence.as_ref(),
            "after-presence",
        )?;
        let arg = wit_presence_event(event);
        let finished = self
            .call(
                function,
                Trigger::AfterPresence,
                timeout,
                0,
                async |store, instance| {
                    let guest = indices.load(&mut *store, instance)?;
                    guest.call_handle(store, &arg).await
                },
            )
            .await?;
        self.guest_result(function, Trigger::AfterPresence, finished)
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
        let finished = self
            .call(
                function,
                Trigger::Interval,
                timeout,
                0,
                async |store, instance| indices.load(&mut *store, instance)?.call_run(store).await,
            )
            .await?;
        self.guest_result(function, Trigger::Interval, finished)
    }

    /// One invocation of `function` (trigger, deadline, chain depth of the
    /// message that triggered it): a fresh store and instance, then `call`
    /// on them, all within the deadline.
    ///
    /// # Errors
    /// As [`Sandbox::start`] and [`Sandbox::finish`].
    async fn call<T>(
        &self,
        function: &PreparedFunction,
        trigger: Trigger,
        timeout: Duration,
        depth: u8,
        call: impl AsyncFnOnce(&mut Store<InvocationState>, &Instance) -> wasmtime::Result<T>,
    ) -> Result<Finished<T>, InvokeError> {
        let mut run = self.start(function, trigger, timeout, depth)?;
        let result = tokio::time::timeout(timeout, async {
            let pre = &function.component.pre;
            let instance = pre.instantiate_async(&mut run.store).await?;
            call(&mut run.store, &instance).await
        })
        .await;
        self.finish(function, run, trigger, result)
    }

    /// A fresh store for one invocation of `function` with deadline
    /// `timeout`, triggered by a message of chain depth `depth`, once the
    /// function has a free slot.
    ///
    /// # Errors
    /// [`InvokeError::Busy`] when the function already runs as many
    /// invocations as its concurrency limit allows.
    pub(super) fn start(
        &self,
        function: &PreparedFunction,
        trigger: Trigger,
        timeout: Duration,
        depth: u8,
    ) -> Result<Invocation, InvokeError> {
        let started = Instant::now();
        let slot = Arc::clone(&function.slots)
            .try_acquire_owned()
            .map_err(|_| {
                let error = InvokeError::Busy {
                    function: Arc::clone(&function.name),
                    reason: format!(
                        "it already runs {} invocations, its concurrency limit",
                        function.max_concurrency
                    ),
                };
                function.logs.push(0, LogSource::Host, error.to_string());
                self.metrics
                    .invocation(&function.name, trigger, Outcome::Busy, 0.0);
                error
            })?;
        let id = self.next_invocation();
        let store = state::new_store(self, function, id, started + timeout, depth);
        Ok(Invocation {
            store,
            id,
            timeout,
            started,
            _slot: slot,
        })
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
    if error.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
        return InvokeError::Busy {
            function: name,
            reason: "the node's instance pool is full".into(),
        };
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
            format!(
                "{trap} after a table grow to {asked} elements was refused (the limit is {} elements per table)",
                super::limits::MAX_TABLE_ELEMENTS
            )
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
            // Message-action and object events never reach functions.
            MessageKind::Publish
            | MessageKind::File
            | MessageKind::Action
            | MessageKind::Delete
            | MessageKind::Object => bindings::MessageKind::Publish,
            MessageKind::Fire => bindings::MessageKind::Fire,
            MessageKind::Signal => bindings::MessageKind::Signal,
        },
        timetoken,
    }
}

fn wit_presence_event(event: &PresenceEvent) -> bindings::PresenceEvent {
    bindings::PresenceEvent {
        action: match event.action {
            PresenceAction::Join => bindings::PresenceAction::Join,
            PresenceAction::Leave => bindings::PresenceAction::Leave,
            PresenceAction::Timeout => bindings::PresenceAction::Timeout,
            PresenceAction::StateChange => bindings::PresenceAction::StateChange,
        },
        channel: event.channel.to_string(),
        uuid: event.uuid.clone(),
        occupancy: u32::try_from(event.occupancy).unwrap_or(u32::MAX),
        timestamp: event.timestamp,
        state: event
            .state
            .as_ref()
            .map(|state| serde_json::to_string(state).expect("a JSON object always serializes")),
    }
}
