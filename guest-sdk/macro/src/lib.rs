//! Attribute macros for `edgefn-sdk`; use them through its re-exports
//! (`edgefn_sdk::before_publish` etc.), which are documented there. (The
//! macros below carry `//` comments rather than doc comments because rustdoc
//! appends an inlined item's own docs to those of its re-export.)
//!
//! Each macro keeps the function as written and adds a hidden module that
//! - generates, with `wit_bindgen::generate!`, the bindings of a world that
//!   exports only the macro's interface (so one crate may use several macros,
//!   and the component exports exactly the interfaces it implements). The
//!   interfaces those exports use (`edgefn:functions/types`, `wasi:http/types`
//!   and what it depends on) are mapped with `with:` onto the bindings that
//!   `edgefn-sdk` generated once, so both sides share the same Rust types;
//! - implements the exported interface by calling the runtime half in
//!   `edgefn_sdk::__private`, which converts types and calls the function.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn};

/// The repository's WIT directory (`<repo>/wit`), as an absolute path.
const WIT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit");

// Marks `fn(Message) -> Decision` as the before-publish handler.
#[proc_macro_attribute]
pub fn before_publish(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(&BEFORE_PUBLISH, attr, item)
}

// Marks `fn(Message) -> Result<(), E>` as the after-publish handler.
#[proc_macro_attribute]
pub fn after_publish(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(&AFTER_PUBLISH, attr, item)
}

// Marks `fn(PresenceEvent) -> Result<(), E>` as the after-presence handler.
#[proc_macro_attribute]
pub fn after_presence(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(&AFTER_PRESENCE, attr, item)
}

// Marks `fn() -> Result<(), E>` as the interval job.
#[proc_macro_attribute]
pub fn interval(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(&INTERVAL, attr, item)
}

// Marks `fn(http::Request) -> http::Response` as the HTTP endpoint.
#[proc_macro_attribute]
pub fn endpoint(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(&ENDPOINT, attr, item)
}

/// What differs between the triggers.
struct Trigger {
    /// The macro's name, for error messages.
    name: &'static str,
    /// The exported interface.
    export: &'static str,
    /// How many arguments the handler takes.
    arity: usize,
    /// The signature, for error messages.
    signature: &'static str,
    /// The interfaces the export uses, and where `edgefn-sdk` has their bindings
    /// (below `edgefn_sdk::__private::bindings`).
    shared: &'static [(&'static str, &'static str)],
    /// The `impl Guest` for the export, given the handler's path.
    implementation: fn(handler: TokenStream2) -> TokenStream2,
}

const TYPES: (&str, &str) = ("edgefn:functions/types@0.1.0", "edgefn::functions::types");

const BEFORE_PUBLISH: Trigger = Trigger {
    name: "before_publish",
    export: "edgefn:functions/before-publish@0.1.0",
    arity: 1,
    signature: "fn(Message) -> Decision",
    shared: &[TYPES],
    implementation: |handler| {
        quote! {
            use self::exports::edgefn::functions::before_publish as wit;
            impl wit::Guest for Handler {
                fn handle(msg: wit::Message) -> wit::Decision {
                    use ::edgefn_sdk::__private::RawDecision;
                    match ::edgefn_sdk::__private::before_publish(msg, #handler) {
                        RawDecision::Pass => wit::Decision::Pass,
                        RawDecision::Modify { payload, meta } => {
                            wit::Decision::Modify(wit::Modification { payload, meta })
                        }
                        RawDecision::Reject(reason) => wit::Decision::Reject(reason),
                    }
                }
            }
        }
    },
};

const AFTER_PUBLISH: Trigger = Trigger {
    name: "after_publish",
    export: "edgefn:functions/after-publish@0.1.0",
    arity: 1,
    signature: "fn(Message) -> Result<(), E>",
    shared: &[TYPES],
    implementation: |handler| {
        quote! {
            use self::exports::edgefn::functions::after_publish as wit;
            impl wit::Guest for Handler {
                fn handle(msg: wit::Message) -> ::core::result::Result<(), ::std::string::String> {
                    ::edgefn_sdk::__private::after_publish(msg, #handler)
                }
            }
        }
    },
};

const AFTER_PRESENCE: Trigger = Trigger {
    name: "after_presence",
    export: "edgefn:functions/after-presence@0.1.0",
    arity: 1,
    signature: "fn(PresenceEvent) -> Result<(), E>",
    // The interface defines its own types.
    shared: &[],
    implementation: |handler| {
        quote! {
            use self::exports::edgefn::functions::after_presence as wit;
            impl wit::Guest for Handler {
                fn handle(event: wit::PresenceEvent) -> ::core::result::Result<(), ::std::string::String> {
                    use ::edgefn_sdk::PresenceAction;
                    let action = match event.action {
                        wit::PresenceAction::Join => PresenceAction::Join,
                        wit::PresenceAction::Leave => PresenceAction::Leave,
                        wit::PresenceAction::Timeout => PresenceAction::Timeout,
                        wit::PresenceAction::StateChange => PresenceAction::StateChange,
                    };
                    let raw = ::edgefn_sdk::__private::RawPresenceEvent {
                        action,
                        channel: event.channel,
                        uuid: event.uuid,
                        occupancy: event.occupancy,
                        timestamp: event.timestamp,
                        state: event.state,
                    };
                    ::edgefn_sdk::__private::after_presence(raw, #handler)
                }
            }
        }
    },
};

const INTERVAL: Trigger = Trigger {
    name: "interval",
    export: "edgefn:functions/interval@0.1.0",
    arity: 0,
    signature: "fn() -> Result<(), E>",
    shared: &[],
    implementation: |handler| {
        quote! {
            impl self::exports::edgefn::functions::interval::Guest for Handler {
                fn run() -> ::core::result::Result<(), ::std::string::String> {
                    ::edgefn_sdk::__private::interval(#handler)
                }
            }
        }
    },
};

const ENDPOINT: Trigger = Trigger {
    name: "endpoint",
    export: "wasi:http/incoming-handler@0.2.12",
    arity: 1,
    signature: "fn(edgefn_sdk::http::Request) -> edgefn_sdk::http::Response",
    shared: &[
        ("wasi:http/types@0.2.12", "wasi::http::types"),
        ("wasi:io/poll@0.2.12", "wasi::io::poll"),
        ("wasi:io/error@0.2.12", "wasi::io::error"),
        ("wasi:io/streams@0.2.12", "wasi::io::streams"),
        (
            "wasi:clocks/monotonic-clock@0.2.12",
            "wasi::clocks::monotonic_clock",
        ),
    ],
    implementation: |handler| {
        quote! {
            use self::exports::wasi::http::incoming_handler as wit;
            impl wit::Guest for Handler {
                fn handle(request: wit::IncomingRequest, response_out: wit::ResponseOutparam) {
                    ::edgefn_sdk::__private::endpoint(request, response_out, #handler)
                }
            }
        }
    },
};

fn expand(trigger: &Trigger, attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = TokenStream2::from(attr);
    if !attr.is_empty() {
        let msg = format!("#[{}] takes no arguments", trigger.name);
        return syn::Error::new(attr.span(), msg).to_compile_error().into();
    }
    let func = syn::parse_macro_input!(item as ItemFn);
    if let Err(e) = check_signature(trigger, &func) {
        let func = quote!(#func);
        let e = e.to_compile_error();
        return quote!(#e #func).into();
    }

    // `super::name` with the span of the function's signature, so that a
    // signature mismatch is reported on the user's function.
    let name = &func.sig.ident;
    let handler = quote_spanned!(func.sig.span() => super::#name);
    let implementation = (trigger.implementation)(handler);
    let module = format_ident!("__edgefn_{}", trigger.name);
    let package = format!("edgefn:sdk-{}", trigger.name.replace('_', "-"));
    let world = format!("{}-guest", trigger.name.replace('_', "-"));
    let inline = format!(
        "package {package};\nworld {world} {{\n    export {};\n}}\n",
        trigger.export
    );
    let with = trigger.shared.iter().map(|(interface, module)| {
        let path: syn::Path =
            syn::parse_str(&format!("::edgefn_sdk::__private::bindings::{module}"))
                .expect("a valid module path");
        quote!(#interface: #path)
    });

    quote! {
        #func

        #[doc(hidden)]
        #[allow(missing_docs, unused, clippy::all)]
        mod #module {
            ::edgefn_sdk::__private::wit_bindgen::generate!({
                inline: #inline,
                path: #WIT_DIR,
                world: #world,
                runtime_path: "::edgefn_sdk::__private::wit_bindgen::rt",
                with: { #(#with,)* },
            });

            struct Handler;

            #implementation

            export!(Handler);
        }
    }
    .into()
}

/// Checks the parts of the signature that type checking would report badly.
fn check_signature(trigger: &Trigger, func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    let wrong = |span: Span, problem: &str| {
        let msg = format!(
            "#[{}] {problem}: expected `{}`",
            trigger.name, trigger.signature
        );
        Err(syn::Error::new(span, msg))
    };
    if let Some(token) = &sig.asyncness {
        return wrong(token.span(), "handlers are not async");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return wrong(sig.generics.span(), "handlers cannot be generic");
    }
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        return wrong(receiver.span(), "handlers are free functions, not methods");
    }
    if sig.inputs.len() != trigger.arity {
        let problem = match trigger.arity {
            0 => "handlers take no arguments".to_string(),
            n => format!(
                "handlers take {n} argument{}",
                if n == 1 { "" } else { "s" }
            ),
        };
        return wrong(sig.inputs.span(), &problem);
    }
    Ok(())
}
