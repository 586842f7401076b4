//! A guest that grows its function table (`__indirect_function_table`) by
//! 1,000 `ref.null` elements at a time until `table.grow` fails.
//!
//! - Endpoint: answers `{"grew_to": N, "refused": true}` (N = the table's
//!   size when growth was refused), or `{"unsupported": "..."}` when built
//!   without inline asm (see build.rs).
//! - Before-publish: grows the same way, then traps (`unreachable`), as a
//!   guest whose allocator gave up would.

#![cfg_attr(table_asm, feature(asm_experimental_arch))]

use edgefn_sdk::http::{Request, Response};
use edgefn_sdk::serde_json::json;
use edgefn_sdk::{Decision, Message, before_publish, endpoint};

/// Grows the table by `delta` null entries: the old size, or -1.
#[cfg(table_asm)]
fn table_grow(delta: i32) -> i32 {
    let result: i32;
    // SAFETY: table.grow only appends null references to the table.
    unsafe {
        core::arch::asm!(
            "ref.null_func",
            "local.get {delta}",
            "table.grow __indirect_function_table",
            "local.set {result}",
            delta = in(local) delta,
            result = out(local) result,
        );
    }
    result
}

/// Grows until refused; the size at that point, or why it cannot try.
fn grow_until_refused() -> Result<i64, &'static str> {
    #[cfg(table_asm)]
    {
        let mut size = 0i64;
        for _ in 0..100_000 {
            let old = table_grow(1_000);
            if old < 0 {
                return Ok(size);
            }
            size = i64::from(old) + 1_000;
        }
        Ok(-size)
    }
    #[cfg(not(table_asm))]
    {
        Err("built without inline asm (needs a compiler that accepts unstable features)")
    }
}

#[endpoint]
fn serve(_req: Request) -> Response {
    match grow_until_refused() {
        Ok(size) => Response::json(200, &json!({"grew_to": size, "refused": size >= 0})),
        Err(why) => Response::json(200, &json!({"unsupported": why})),
    }
}

#[before_publish]
fn before(msg: Message) -> Decision {
    edgefn_sdk::log::info(&format!("hostile table growth on {}", msg.channel), &[]);
    match grow_until_refused() {
        Ok(_) => core::arch::wasm32::unreachable(),
        Err(why) => Decision::reject(why),
    }
}
