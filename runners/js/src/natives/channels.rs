//! The native side of `pubnub.channelGroups` and of `pubnub`'s file calls
//! (listFiles, getFileUrl, deleteFile, publishFile).

use edgefn_sdk::serde_json::{Value, json};
use edgefn_sdk::{bus, files, groups};
use rquickjs::function::Func;
use rquickjs::{Ctx, Object, Result};

use super::{check, host, keeping_of, parsed, whole};

/// Adds the channel-group and file functions to `native`.
pub fn register(native: &Object<'_>) -> Result<()> {
    native.set("changeGroup", Func::from(change_group))?;
    native.set("listChannels", Func::from(list_channels))?;
    native.set("listGroups", Func::from(list_groups))?;
    native.set("deleteGroup", Func::from(delete_group))?;
    native.set("listFiles", Func::from(list_files))?;
    native.set("fileUrl", Func::from(file_url))?;
    native.set("deleteFile", Func::from(delete_file))?;
    native.set("publishFile", Func::from(publish_file))?;
    Ok(())
}

/// Adds `add` to and removes `remove` from `group` (one of the two is
/// empty: PubNub's addChannels and removeChannels).
fn change_group(ctx: Ctx<'_>, group: String, add: Vec<String>, remove: Vec<String>) -> Result<()> {
    host(&ctx, "pubnub.channelGroups")?;
    let changed = if remove.is_empty() {
        groups::add_channels(&group, &add)
    } else {
        groups::remove_channels(&group, &remove)
    };
    check(&ctx, changed)
}

fn list_channels(ctx: Ctx<'_>, group: String) -> Result<Vec<String>> {
    host(&ctx, "pubnub.channelGroups")?;
    check(&ctx, groups::list_channels(&group))
}

fn list_groups(ctx: Ctx<'_>) -> Result<Vec<String>> {
    host(&ctx, "pubnub.channelGroups")?;
    check(&ctx, groups::list_groups())
}

fn delete_group(ctx: Ctx<'_>, group: String) -> Result<()> {
    host(&ctx, "pubnub.channelGroups")?;
    check(&ctx, groups::delete_group(&group))
}

/// A page of `channel`'s files as JSON: `{data: [{name, id, size,
/// created}], next}` (`next` null on the last page).
fn list_files(
    ctx: Ctx<'_>,
    channel: String,
    limit: Option<f64>,
    next: Option<String>,
) -> Result<String> {
    host(&ctx, "pubnub.listFiles")?;
    let page = check(&ctx, files::list(&channel, whole(limit), next.as_deref()))?;
    let data: Vec<Value> = page
        .files
        .into_iter()
        .map(|f| json!({"name": f.name, "id": f.id, "size": f.size, "created": f.created}))
        .collect();
    Ok(json!({"data": data, "next": page.next}).to_string())
}

fn file_url(ctx: Ctx<'_>, channel: String, id: String, name: String) -> Result<String> {
    host(&ctx, "pubnub.getFileUrl")?;
    check(&ctx, files::url(&channel, &id, &name))
}

/// Deletes a file; whether there was one.
fn delete_file(ctx: Ctx<'_>, channel: String, id: String, name: String) -> Result<bool> {
    host(&ctx, "pubnub.deleteFile")?;
    check(&ctx, files::delete(&channel, &id, &name))
}

/// Publishes the message sharing a file (`message` and `meta` JSON text,
/// null when absent), kept in history as `keeping` says; its timetoken.
fn publish_file<'js>(
    ctx: Ctx<'js>,
    channel: String,
    id: String,
    name: String,
    message: Option<String>,
    meta: Option<String>,
    keeping: Object<'js>,
) -> Result<String> {
    host(&ctx, "pubnub.publishFile")?;
    let message = message.as_deref().map_or(Value::Null, parsed);
    let meta = meta.as_deref().map_or(Value::Null, parsed);
    let keeping = keeping_of(&keeping)?;
    let sent = bus::publish_file_kept(&channel, (&id, &name), &message, &meta, keeping);
    check(&ctx, sent)
}
