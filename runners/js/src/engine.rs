//! The QuickJS engine: built once by [`init`] (at deploy, before the
//! snapshot), then used by every trigger. Each trigger calls its entry point
//! in `js/prelude.js` and runs QuickJS's job queue until the returned
//! Promise settles: host calls are synchronous, so a Promise that is still
//! pending when no job is left can never settle, and is an error.

use std::cell::RefCell;

use edgefn_sdk::__private::bindings::edgefn::functions::types::Message;
use edgefn_sdk::http::{Request, Response};
use rquickjs::context::EvalOptions;
use rquickjs::{Context, Ctx, Error, Function, Module, Object, Persistent, Runtime, Value};

use crate::exports::edgefn::functions::after_presence::PresenceEvent;

const PRELUDE: &str = include_str!("../js/prelude.js");
/// The name the user's module is evaluated under, as errors show it.
const HANDLER_FILE: &str = "handler.js";

/// The modules `require` offers, by name.
const MODULES: &[(&str, &str)] = &[
    (
        "advanced_math",
        include_str!("../js/modules/advanced_math.js"),
    ),
    ("codec/auth", include_str!("../js/modules/codec/auth.js")),
    (
        "codec/base64",
        include_str!("../js/modules/codec/base64.js"),
    ),
    (
        "codec/query_string",
        include_str!("../js/modules/codec/query_string.js"),
    ),
    ("crypto", include_str!("../js/modules/crypto.js")),
    ("jsonpath", include_str!("../js/modules/jsonpath.js")),
    ("jwt", include_str!("../js/modules/jwt.js")),
    ("kvstore", include_str!("../js/modules/kvstore.js")),
    ("pubnub", include_str!("../js/modules/pubnub.js")),
    ("utils", include_str!("../js/modules/utils.js")),
    ("uuid", include_str!("../js/modules/uuid.js")),
    ("vault", include_str!("../js/modules/vault.js")),
    ("xhr", include_str!("../js/modules/xhr.js")),
];

struct Engine {
    // Declared before the runtime so that it is dropped first.
    context: Context,
    dispatch: Persistent<Object<'static>>,
    _runtime: Runtime,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// What a before-publish handler decided.
pub enum Outcome {
    /// `request.ok()` with the message unchanged.
    Pass,
    /// `request.ok()` with a changed message or meta.
    Modify {
        /// The message, as JSON text.
        payload: String,
        /// The meta, as JSON text.
        meta: Option<String>,
    },
    /// `request.abort(reason)`.
    Abort(String),
}

/// Builds the engine and evaluates the user's module `source`.
///
/// # Errors
/// A syntax error (`handler.js:LINE:COLUMN: SyntaxError: ...`), an exception
/// thrown by the module's top-level code, or a default export that is not a
/// function.
pub fn init(source: &str) -> Result<(), String> {
    let runtime = Runtime::new().map_err(|e| format!("cannot start QuickJS: {e}"))?;
    let context = Context::full(&runtime).map_err(|e| format!("cannot start QuickJS: {e}"))?;
    crate::natives::set_loading(true);
    let loaded = context.with(|ctx| {
        let dispatch = load_prelude(&ctx).map_err(|e| describe(&ctx, e))?;
        let handler = evaluate(&ctx, source).map_err(|e| located(describe(&ctx, e)))?;
        let install: Function = dispatch.get("install").map_err(|e| describe(&ctx, e))?;
        install
            .call::<_, ()>((handler,))
            .map_err(|e| describe(&ctx, e))?;
        Ok::<_, String>(Persistent::save(&ctx, dispatch))
    });
    crate::natives::set_loading(false);
    let dispatch = loaded?;
    ENGINE.with(|engine| {
        *engine.borrow_mut() = Some(Engine {
            context,
            dispatch,
            _runtime: runtime,
        })
    });
    Ok(())
}

/// Runs `request.message` through the handler.
pub fn before_publish(msg: &Message) -> Outcome {
    let decided = call(
        "beforePublish",
        |entry| {
            entry.call((
                msg.channel.as_str(),
                msg.payload.as_str(),
                msg.meta.as_deref(),
                msg.publisher.as_deref(),
                crate::verb(msg.kind),
            ))
        },
        |_, value| {
            let Some(object) = value.into_object() else {
                return Ok(Outcome::Pass);
            };
            if let Some(reason) = object.get::<_, Option<String>>("abort")? {
                return Ok(Outcome::Abort(reason));
            }
            Ok(Outcome::Modify {
                payload: object.get("payload")?,
                meta: object.get("meta")?,
            })
        },
    );
    // A thrown exception is a failed invocation: the node's `on_error`
    // decides what becomes of the message, and the log shows why.
    decided.unwrap_or_else(|error| {
        eprintln!("{error}");
        std::process::abort()
    })
}

/// Shows the handler a published message.
pub fn after_publish(msg: &Message) -> Result<(), String> {
    call(
        "afterPublish",
        |entry| {
            entry.call((
                msg.channel.as_str(),
                msg.payload.as_str(),
                msg.meta.as_deref(),
                msg.publisher.as_deref(),
                crate::verb(msg.kind),
                msg.timetoken.as_deref(),
            ))
        },
        |_, _| Ok(()),
    )
}

/// Shows the handler a presence change.
pub fn after_presence(event: &PresenceEvent) -> Result<(), String> {
    call(
        "afterPresence",
        |entry| {
            entry.call((
                crate::action(event.action),
                event.channel.as_str(),
                event.uuid.as_str(),
                event.occupancy,
                event.timestamp as f64,
                event.state.as_deref(),
            ))
        },
        |_, _| Ok(()),
    )
}

/// Runs an interval handler.
pub fn interval() -> Result<(), String> {
    call("interval", |entry| entry.call(()), |_, _| Ok(()))
}

/// Answers an HTTP request with an On Request handler. A thrown exception
/// answers 502, with the error in the function's log.
pub fn on_request(request: Request) -> Response {
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let headers: Vec<Vec<String>> = request
        .headers
        .iter()
        .map(|(name, value)| vec![name.clone(), value.clone()])
        .collect();
    let answered = call(
        "onRequest",
        |entry| {
            entry.call((
                request.method.as_str(),
                request.path.as_str(),
                request.query.as_str(),
                headers,
                body,
            ))
        },
        |ctx, value| {
            let value = value.into_object().ok_or_else(|| {
                rquickjs::Exception::throw_type(ctx, "onRequest settled without a response")
            })?;
            let status: u16 = value.get::<_, i32>("status")?.try_into().unwrap_or(500);
            let mut response = Response::new(status, value.get::<_, String>("body")?);
            response.headers = value
                .get::<_, Vec<Vec<String>>>("headers")?
                .into_iter()
                .filter_map(|pair| match <[String; 2]>::try_from(pair) {
                    Ok([name, value]) => Some((name, value)),
                    Err(_) => None,
                })
                .collect();
            Ok(response)
        },
    );
    answered.unwrap_or_else(|error| {
        eprintln!("{error}");
        let message = error.lines().next().unwrap_or_default();
        Response::json(
            502,
            &edgefn_sdk::serde_json::json!({"error": "function_failed", "message": message}),
        )
    })
}

/// Calls the prelude's entry point `name` with `arguments`, waits for the
/// Promise it returns, and reads the settled value with `read`.
fn call<T>(
    name: &str,
    arguments: impl for<'js> FnOnce(Function<'js>) -> rquickjs::Result<Value<'js>>,
    read: impl for<'js> FnOnce(&Ctx<'js>, Value<'js>) -> rquickjs::Result<T>,
) -> Result<T, String> {
    ENGINE.with(|engine| {
        let engine = engine.borrow();
        let engine = engine.as_ref().expect(
            "the JavaScript runner was not initialised (deploy the .js file, not the runner)",
        );
        engine.context.with(|ctx| {
            let run = || -> rquickjs::Result<T> {
                let dispatch = engine.dispatch.clone().restore(&ctx)?;
                let entry: Function = dispatch.get(name)?;
                let returned = arguments(entry)?;
                read(&ctx, settle(&ctx, returned)?)
            };
            run().map_err(|e| describe(&ctx, e))
        })
    })
}

/// Waits for `value` if it is a Promise: runs the job queue until it settles.
fn settle<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<Value<'js>> {
    let Some(promise) = value.as_promise().cloned() else {
        return Ok(value);
    };
    match promise.finish::<Value>() {
        Err(Error::WouldBlock) => Err(rquickjs::Exception::throw_message(
            ctx,
            "the handler's Promise never settled: it waits for something that cannot happen inside a function (timers and events do not run); return request.ok() or request.abort()",
        )),
        settled => settled,
    }
}

fn load_prelude<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = true;
    let factory: Function = ctx.eval_with_options(PRELUDE, options)?;
    let modules = Object::new(ctx.clone())?;
    for (name, body) in MODULES {
        let wrapped = format!("(function (module, exports, require, native) {{\n{body}\n}})");
        let factory: Function = ctx.eval(wrapped)?;
        modules.set(*name, factory)?;
    }
    factory.call((crate::natives::object(ctx)?, modules))
}

/// Evaluates the user's module (running its top-level code, awaiting a
/// top-level `await`) and returns its default export.
fn evaluate<'js>(ctx: &Ctx<'js>, source: &str) -> rquickjs::Result<Value<'js>> {
    let (module, evaluated) = Module::declare(ctx.clone(), HANDLER_FILE, source)?.eval()?;
    settle(ctx, evaluated.into_value())?;
    module.get("default")
}

/// The pending exception behind `error`, as `Name: message` and its stack.
fn describe(ctx: &Ctx<'_>, error: Error) -> String {
    if !matches!(error, Error::Exception) {
        return error.to_string();
    }
    let thrown = ctx.catch();
    match thrown.as_exception() {
        Some(exception) => {
            let name: Option<String> = exception.get("name").ok().flatten();
            let mut text = format!(
                "{}: {}",
                name.as_deref().unwrap_or("Error"),
                exception.message().unwrap_or_default()
            );
            // The user's frames: the runner's own (its prelude and modules,
            // evaluated as scripts) say nothing to the function's author.
            let stack = exception.stack().unwrap_or_default();
            for frame in stack
                .lines()
                .filter(|f| !f.contains("eval_script") && !f.trim().is_empty())
            {
                text.push('\n');
                text.push_str(frame.trim_end());
            }
            text
        }
        None => {
            let shown = ctx
                .json_stringify(thrown.clone())
                .ok()
                .flatten()
                .and_then(|s| s.to_string().ok());
            format!(
                "Uncaught {}",
                shown.unwrap_or_else(|| format!("{:?}", thrown.type_of()))
            )
        }
    }
}

/// `handler.js:LINE:COLUMN: ` in front of an error from the user's module,
/// taken from the first frame of its stack that is in that file.
fn located(description: String) -> String {
    let position = description.lines().skip(1).find_map(|line| {
        let at = line.find(HANDLER_FILE)?;
        let rest = &line[at..];
        let end = rest.find(|c: char| {
            !(c.is_ascii_digit() || c == ':' || c == '.' || c.is_alphanumeric() || c == '_')
        });
        Some(
            rest[..end.unwrap_or(rest.len())]
                .trim_end_matches(':')
                .to_owned(),
        )
    });
    match position {
        Some(position) if position.contains(':') => format!("{position}: {description}"),
        _ => format!("{HANDLER_FILE}: {description}"),
    }
}
