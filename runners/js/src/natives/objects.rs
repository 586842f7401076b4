//! `pubnub.objects`' native side: App Context uuid and channel metadata,
//! and the memberships that link them. Requests and answers cross as JSON
//! text; answers carry PubNub's page fields (`data`, `totalCount`, `next`,
//! `prev`; null when absent).

use edgefn_sdk::memberships::{self, Membership};
use edgefn_sdk::objects::{self, ListOptions, Page};
use edgefn_sdk::serde_json::{Value, json};
use rquickjs::function::Func;
use rquickjs::{Ctx, Object, Result};

use super::{check, host, parsed, throw, whole};

/// Adds the App Context functions to `native`.
pub fn register(native: &Object<'_>) -> Result<()> {
    native.set("getMetadata", Func::from(get_metadata))?;
    native.set("setMetadata", Func::from(set_metadata))?;
    native.set("removeMetadata", Func::from(remove_metadata))?;
    native.set("getAllMetadata", Func::from(get_all_metadata))?;
    native.set("getMemberships", Func::from(get_memberships))?;
    native.set("setMemberships", Func::from(set_memberships))?;
    native.set("removeMemberships", Func::from(remove_memberships))?;
    Ok(())
}

/// The kind of metadata `pubnub.objects` names: `uuid` or `channel`.
fn metadata_kind(ctx: &Ctx<'_>, kind: &str) -> Result<objects::Kind> {
    match kind {
        "uuid" => Ok(objects::Kind::Uuid),
        "channel" => Ok(objects::Kind::Channel),
        other => throw(ctx, format!("unknown kind of metadata `{other}`")),
    }
}

/// What `pubnub.objects` answers carry: `status` and `type` always (PubNub's
/// SDK asks for them), `custom` when asked for.
fn included(custom: bool) -> objects::Include {
    objects::Include {
        custom,
        ..objects::Include::ALL
    }
}

/// The metadata `id` of `kind` as JSON text, or null when there is none.
fn get_metadata(ctx: Ctx<'_>, kind: String, id: String, custom: bool) -> Result<Option<String>> {
    host(&ctx, "pubnub.objects")?;
    let kind = metadata_kind(&ctx, &kind)?;
    let found = check(&ctx, objects::get(kind, &id, included(custom)))?;
    Ok(found.map(|object| Value::Object(object).to_string()))
}

/// Sets the fields `fields` (JSON text of an object) names on metadata `id`
/// of `kind`; the object as it is now, as JSON text.
fn set_metadata(
    ctx: Ctx<'_>,
    kind: String,
    id: String,
    fields: String,
    if_match: Option<String>,
    custom: bool,
) -> Result<String> {
    host(&ctx, "pubnub.objects")?;
    let kind = metadata_kind(&ctx, &kind)?;
    let fields = parsed(&fields);
    let set = objects::set(kind, &id, &fields, if_match.as_deref(), included(custom));
    Ok(Value::Object(check(&ctx, set)?).to_string())
}

/// Removes metadata `id` of `kind`; whether there was one.
fn remove_metadata(
    ctx: Ctx<'_>,
    kind: String,
    id: String,
    if_match: Option<String>,
) -> Result<bool> {
    host(&ctx, "pubnub.objects")?;
    let kind = metadata_kind(&ctx, &kind)?;
    check(&ctx, objects::remove(kind, &id, if_match.as_deref()))
}

/// A listing's options as `pubnub.js` sends them: `{filter, sort: [...],
/// limit, next, prev, totalCount}`.
fn list_options(options: &Value) -> ListOptions {
    let text = |name: &str| options[name].as_str().map(str::to_owned);
    ListOptions {
        filter: text("filter"),
        sort: options["sort"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        limit: whole(options["limit"].as_f64()),
        next: text("next"),
        prev: text("prev"),
        total_count: options["totalCount"] == true,
    }
}

/// A page as JSON text: `{data: [...], totalCount, next, prev}`.
fn page_json(page: Page) -> String {
    let data: Vec<Value> = page.objects.into_iter().map(Value::Object).collect();
    let answer = json!({
        "data": data,
        "totalCount": page.total_count,
        "next": page.next,
        "prev": page.prev,
    });
    answer.to_string()
}

/// A page of the metadata of `kind` that `options` (JSON, see
/// [`list_options`]) selects, as [`page_json`].
fn get_all_metadata(ctx: Ctx<'_>, kind: String, options: String, custom: bool) -> Result<String> {
    host(&ctx, "pubnub.objects")?;
    let kind = metadata_kind(&ctx, &kind)?;
    let list = list_options(&parsed(&options));
    let page = check(&ctx, objects::get_all(kind, &list, included(custom)))?;
    Ok(page_json(page))
}

/// A membership request as `pubnub.js` sends it (JSON): `{options` (see
/// [`list_options`]), `include: {custom, status, type, other, otherCustom,
/// otherStatus, otherType}`, and for changes `ifMatch`, `set: [{id,
/// fields}]` or `remove: [id]`}.
struct MembershipRequest {
    request: Value,
    options: ListOptions,
    include: memberships::Include,
}

impl MembershipRequest {
    fn parse(text: &str) -> Self {
        let request = parsed(text);
        let flag = |name: &str| request["include"][name] == true;
        let include = memberships::Include {
            custom: flag("custom"),
            status: flag("status"),
            kind: flag("type"),
            other: flag("other"),
            other_custom: flag("otherCustom"),
            other_status: flag("otherStatus"),
            other_kind: flag("otherType"),
        };
        Self {
            options: list_options(&request["options"]),
            include,
            request,
        }
    }

    fn if_match(&self) -> Option<&str> {
        self.request["ifMatch"].as_str()
    }

    fn list(&self, name: &str) -> impl Iterator<Item = &Value> {
        self.request[name].as_array().into_iter().flatten()
    }
}

/// A page of the memberships of `id` (of `kind`), as [`page_json`].
fn get_memberships(ctx: Ctx<'_>, kind: String, id: String, request: String) -> Result<String> {
    host(&ctx, "pubnub.objects")?;
    let kind = metadata_kind(&ctx, &kind)?;
    let r = MembershipRequest::parse(&request);
    let page = check(&ctx, memberships::get(kind, &id, &r.options, r.include))?;
    Ok(page_json(page))
}

/// Sets the memberships `set` names (`[{id, fields}]`, `fields` an object
/// or null); the listing after, as [`page_json`].
fn set_memberships(ctx: Ctx<'_>, kind: String, id: String, request: String) -> Result<String> {
    host(&ctx, "pubnub.objects")?;
    let kind = metadata_kind(&ctx, &kind)?;
    let r = MembershipRequest::parse(&request);
    let set: Vec<Membership> = r
        .list("set")
        .map(|m| Membership {
            id: m["id"].as_str().unwrap_or_default().to_owned(),
            fields: m["fields"].is_object().then(|| m["fields"].to_string()),
        })
        .collect();
    let page = memberships::set(kind, &id, &set, r.if_match(), &r.options, r.include);
    Ok(page_json(check(&ctx, page)?))
}

/// Removes the memberships `remove` names (`[id]`); the listing after, as
/// [`page_json`].
fn remove_memberships(ctx: Ctx<'_>, kind: String, id: String, request: String) -> Result<String> {
    host(&ctx, "pubnub.objects")?;
    let kind = metadata_kind(&ctx, &kind)?;
    let r = MembershipRequest::parse(&request);
    let others: Vec<&str> = r.list("remove").filter_map(Value::as_str).collect();
    let page = memberships::remove(kind, &id, &others, r.if_match(), &r.options, r.include);
    Ok(page_json(check(&ctx, page)?))
}
