//! An HTTP endpoint function (served at `/v1/fn/token-issuer/...`) that
//! keeps users in the KV store and gives them access tokens for the chat
//! channels when they log in.
//!
//! - `POST /users` with the header `X-Setup-Key` (equal to the function's
//!   secret `SETUP_KEY`) and `{"user": "alice", "password": "..."}` creates
//!   or replaces the user: the KV key `user:alice` gets
//!   `{"salt": hex, "hash": hex, "iterations": N}`, a PBKDF2-HMAC-SHA256
//!   hash with 16 random bytes of salt and N iterations (config key
//!   `pbkdf2_iterations`, default 10,000). Answers 201 `{"user": "alice"}`;
//!   403 without the right setup key; 400 for a malformed body, an empty
//!   password or a user name that is not 1 to 64 of `a-z 0-9 _ -`.
//! - `POST /login` with `{"user": "alice", "password": "..."}` answers 200
//!   `{"token": "...", "user": "alice", "ttl_minutes": 60, "channels":
//!   ["chat.alice", "chat.public"]}`: a token for client id `alice` with
//!   read and write on `chat.alice` and read on `chat.public`, for 60
//!   minutes. An unknown user or a wrong password both get 401
//!   `{"error": "invalid user or password"}`, after the same amount of
//!   hashing; a malformed body gets 400.
//! - Anything else: 404.
//!
//! Errors are JSON `{"error": "..."}`. Logins and user changes are logged
//! (never the passwords). Deploy it with `--endpoint --allow-token-grant
//! --secret SETUP_KEY=...` on a node started with a secret key (without one
//! the node cannot sign tokens, and logins fail with 500).

mod password;

use edgefn_sdk::http::{Request, Response};
use edgefn_sdk::serde_json::json;
use edgefn_sdk::tokens::{Grant, Permissions};
use edgefn_sdk::{Error, endpoint, kv, log, secrets};
use serde::Deserialize;

use password::{DEFAULT_ITERATIONS, MAX_ITERATIONS, UserRecord};

/// How long a login's token lasts.
const TOKEN_TTL_MINUTES: u32 = 60;
/// The channel everyone may read.
const PUBLIC_CHANNEL: &str = "chat.public";
/// Longest user name.
const MAX_USER_LEN: usize = 64;

/// The body of both requests.
#[derive(Deserialize)]
struct Credentials {
    user: String,
    password: String,
}

/// A response that ends a request early: a status and an error message.
struct Failure(u16, String);

impl Failure {
    fn new(status: u16, message: impl Into<String>) -> Self {
        Failure(status, message.into())
    }

    /// A host capability failed: 503 when trying again may help, 500 otherwise.
    fn host(what: &str, e: &Error) -> Self {
        log::error(what, &[("error", e), ("kind", &e.kind())]);
        let status = match e {
            Error::Unavailable(_) | Error::BudgetExhausted(_) => 503,
            _ => 500,
        };
        Failure(status, format!("{what}: {e}"))
    }
}

#[endpoint]
fn serve(req: Request) -> Response {
    let outcome = match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/users") => create_user(&req),
        ("POST", "/login") => login(&req),
        _ => Err(Failure::new(
            404,
            format!(
                "no such route: {} {} (try POST /users or POST /login)",
                req.method, req.path
            ),
        )),
    };
    outcome.unwrap_or_else(|Failure(status, message)| {
        Response::json(status, &json!({ "error": message }))
    })
}

/// `POST /users`.
fn create_user(req: &Request) -> Result<Response, Failure> {
    let Some(setup_key) = secrets::get("SETUP_KEY") else {
        return Err(Failure::new(
            403,
            "creating users is disabled: the SETUP_KEY secret is not set",
        ));
    };
    match req.header("x-setup-key") {
        Some(given) if password::same_secret(given, &setup_key) => {}
        Some(_) => return Err(Failure::new(403, "wrong X-Setup-Key")),
        None => return Err(Failure::new(403, "missing X-Setup-Key header")),
    }
    let credentials = credentials(req)?;
    let user = credentials.user;
    if !valid_user_name(&user) {
        return Err(Failure::new(
            400,
            format!("invalid user name {user:?}: use 1 to {MAX_USER_LEN} of a-z, 0-9, `_` and `-`"),
        ));
    }
    if credentials.password.is_empty() {
        return Err(Failure::new(400, "the password is empty"));
    }
    let iterations = iterations()?;
    let record = UserRecord::new(&credentials.password, iterations)
        .map_err(|why| Failure::new(500, format!("could not hash the password: {why}")))?;
    kv::set_json(&user_key(&user), &record, None)
        .map_err(|e| Failure::host("could not store the user", &e))?;
    log::info(
        "user saved",
        &[("user", &user), ("iterations", &iterations)],
    );
    Ok(Response::json(201, &json!({ "user": user })))
}

/// `POST /login`.
fn login(req: &Request) -> Result<Response, Failure> {
    let Credentials { user, password } = credentials(req)?;
    let record = if valid_user_name(&user) {
        kv::get_json::<UserRecord>(&user_key(&user))
            .map_err(|e| Failure::host("could not read the user", &e))?
    } else {
        None
    };
    let verified = match &record {
        Some(record) => record.verify(&password).map_err(|why| {
            log::error("damaged user record", &[("user", &user), ("error", &why)]);
            Failure::new(500, format!("the record of user {user:?} is damaged"))
        })?,
        None => {
            // As long as a wrong password for a user created now.
            password::waste_time(&password, iterations().unwrap_or(DEFAULT_ITERATIONS));
            false
        }
    };
    if !verified {
        let reason = if record.is_some() {
            "wrong password"
        } else {
            "unknown user"
        };
        // Any text may come in as a user name: log it escaped, on one line.
        let user = format!("{user:?}");
        log::warn("login refused", &[("user", &user), ("reason", &reason)]);
        return Err(Failure::new(401, "invalid user or password"));
    }

    let own_channel = format!("chat.{user}");
    let token = Grant::new(TOKEN_TTL_MINUTES)
        .user(&user)
        .channel(&own_channel, Permissions::READ | Permissions::WRITE)
        .channel(PUBLIC_CHANNEL, Permissions::READ)
        .issue()
        .map_err(|e| Failure::host("could not issue a token", &e))?;
    log::info(
        "login",
        &[("user", &user), ("ttl_minutes", &TOKEN_TTL_MINUTES)],
    );
    Ok(Response::json(
        200,
        &json!({
            "token": token,
            "user": user,
            "ttl_minutes": TOKEN_TTL_MINUTES,
            "channels": [own_channel, PUBLIC_CHANNEL],
        }),
    ))
}

/// The JSON body `{"user": "...", "password": "..."}`.
fn credentials(req: &Request) -> Result<Credentials, Failure> {
    req.json().map_err(|e| {
        Failure::new(
            400,
            format!(r#"the body must be JSON {{"user": "...", "password": "..."}}: {e}"#),
        )
    })
}

/// The configured PBKDF2 iterations for new users.
fn iterations() -> Result<u32, Failure> {
    let Some(text) = edgefn_sdk::config("pbkdf2_iterations") else {
        return Ok(DEFAULT_ITERATIONS);
    };
    match text.trim().parse() {
        Ok(n) if (1..=MAX_ITERATIONS).contains(&n) => Ok(n),
        _ => Err(Failure::new(
            500,
            format!("config pbkdf2_iterations must be 1 to {MAX_ITERATIONS}, not {text:?}"),
        )),
    }
}

/// 1 to 64 of `a-z`, `0-9`, `_` and `-`.
fn valid_user_name(name: &str) -> bool {
    (1..=MAX_USER_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Where the user's record lives in the KV store.
fn user_key(user: &str) -> String {
    format!("user:{user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        assert!(valid_user_name("alice"));
        assert!(valid_user_name("a_b-9"));
        assert!(valid_user_name(&"x".repeat(64)));
        assert!(!valid_user_name(&"x".repeat(65)));
        assert!(!valid_user_name(""));
        assert!(!valid_user_name("Alice"));
        assert!(!valid_user_name("al ice"));
        assert!(!valid_user_name("a.b"));
        assert!(!valid_user_name("é"));
    }

    #[test]
    fn malformed_bodies_are_400() {
        for body in [
            "",
            "{",
            r#"{"user": "a"}"#,
            r#"{"user": 1, "password": "x"}"#,
        ] {
            let req = Request {
                body: body.into(),
                ..Default::default()
            };
            assert!(matches!(credentials(&req), Err(Failure(400, _))), "{body}");
        }
    }
}
