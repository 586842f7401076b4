//! The PubNub-compatible REST API, so apps written against PubNub's SDKs work
//! against an edgefn node by changing only their origin. It shares the bus,
//! the hooks and access control with the native `/v1/` API: a message
//! published through one is received through the other.
//!
//! Keys are the node's `pubnub.publish_key` / `pubnub.subscribe_key`
//! (`demo` / `demo` unless configured); requests naming others are refused
//! as PubNub refuses them. Answers use PubNub's shapes and its
//! `text/javascript` content type.
//!
//! # Layout
//! - [`request`]: the common query parameters, keys and authorization;
//! - [`reply`]: PubNub's answer and error shapes;
//! - [`signature`]: secret-key request signatures;
//! - [`publish`]: publish, fire (`store=0&norep=true`), signal, time;
//! - [`subscribe`]: `/v2/subscribe` long-polls and their envelopes;
//! - [`filter`]: subscribe filter expressions;
//! - [`groups`]: channel groups;
//! - [`history`]: history, `/v3/history`, `/v3/history-with-actions`;
//! - [`storage`]: message counts, delete messages, `/v2/history`;
//! - [`actions`]: message actions (add, get, remove);
//! - [`objects`]: App Context uuid and channel metadata;
//! - [`memberships`]: App Context memberships and channel members;
//! - [`files`]: the Files API (upload URLs, uploads, file messages, list,
//!   download, delete);
//! - [`pam`]: Access Manager v3 grant and revoke;
//! - [`presence`]: here now, heartbeat, leave, where now, state;
//! - [`blocks`]: `/v1/blocks/sub-key/{sub}/{path}`, the On Request functions.

pub mod actions;
pub mod blocks;
pub mod files;
pub mod filter;
pub mod groups;
pub mod history;
pub mod memberships;
pub mod objects;
pub mod pam;
pub mod presence;
pub mod publish;
pub mod reply;
pub mod request;
pub mod signature;
pub mod storage;
pub mod subscribe;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, delete, get, post};

use crate::node::Node;

/// The PubNub routes.
pub fn router() -> Router<Arc<Node>> {
    Router::new()
        .route("/time/0", get(publish::time))
        .route(
            "/publish/{pub_key}/{sub_key}/{sig}/{channel}/{callback}/{*message}",
            get(publish::publish_get),
        )
        .route(
            "/publish/{pub_key}/{sub_key}/{sig}/{channel}/{callback}",
            post(publish::publish_post),
        )
        .route(
            "/signal/{pub_key}/{sub_key}/{sig}/{channel}/{callback}/{*message}",
            get(publish::signal),
        )
        .route(
            "/v2/subscribe/{sub_key}/{channels}/{callback}",
            get(subscribe::subscribe),
        )
        .route(
            "/v3/history/sub-key/{sub_key}/channel/{channels}",
            get(history::fetch).delete(storage::delete_messages),
        )
        .route(
            "/v3/history/sub-key/{sub_key}/message-counts/{channels}",
            get(storage::message_counts),
        )
        .route(
            "/v2/history/sub-key/{sub_key}/channel/{channel}",
            get(storage::history_v2),
        )
        .route(
            "/v3/history-with-actions/sub-key/{sub_key}/channel/{channels}",
            get(history::fetch),
        )
        .route(
            "/v1/message-actions/{sub_key}/channel/{channel}",
            get(actions::get),
        )
        .route(
            "/v1/message-actions/{sub_key}/channel/{channel}/message/{message}",
            post(actions::add),
        )
        .route(
            "/v1/message-actions/{sub_key}/channel/{channel}/message/{message}/action/{action}",
            delete(actions::remove),
        )
        .route("/v2/objects/{sub_key}/uuids", get(objects::get_all_uuids))
        .route(
            "/v2/objects/{sub_key}/uuids/{uuid}",
            get(objects::get_uuid)
                .patch(objects::set_uuid)
                .delete(objects::remove_uuid),
        )
        .route(
            "/v2/objects/{sub_key}/channels",
            get(objects::get_all_channels),
        )
        .route(
            "/v2/objects/{sub_key}/channels/{channel}",
            get(objects::get_channel)
                .patch(objects::set_channel)
                .delete(objects::remove_channel),
        )
        .route(
            "/v2/objects/{sub_key}/uuids/{uuid}/channels",
            get(memberships::get_memberships).patch(memberships::set_memberships),
        )
        .route(
            "/v2/objects/{sub_key}/channels/{channel}/uuids",
            get(memberships::get_members).patch(memberships::set_members),
        )
        .route(
            "/v1/files/{sub_key}/channels/{channel}/generate-upload-url",
            post(files::generate_upload_url),
        )
        .route(
            "/v1/files/upload",
            post(files::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/files/publish-file/{pub_key}/{sub_key}/{sig}/{channel}/{callback}/{*message}",
            get(files::publish_file),
        )
        .route(
            "/v1/files/{sub_key}/channels/{channel}/files",
            get(files::list),
        )
        .route(
            "/v1/files/{sub_key}/channels/{channel}/files/{id}/{name}",
            get(files::file_url).delete(files::delete),
        )
        .route(
            "/v1/files/download/{channel}/{id}/{name}",
            get(files::download),
        )
        .route("/v3/pam/{sub_key}/grant", post(pam::grant))
        .route("/v3/pam/{sub_key}/grant/{token}", delete(pam::revoke))
        .route("/v1/blocks/sub-key/{sub_key}/{*path}", any(blocks::call))
        .route(
            "/v2/presence/sub-key/{sub_key}",
            get(presence::global_here_now),
        )
        .route(
            "/v2/presence/sub-key/{sub_key}/channel/{channels}",
            get(presence::here_now),
        )
        .route(
            "/v2/presence/sub-key/{sub_key}/channel/{channels}/heartbeat",
            get(presence::heartbeat),
        )
        .route(
            "/v2/presence/sub-key/{sub_key}/channel/{channels}/leave",
            get(presence::leave),
        )
        .route(
            "/v2/presence/sub-key/{sub_key}/channel/{channels}/uuid/{uuid}",
            get(presence::get_state),
        )
        .route(
            "/v2/presence/sub-key/{sub_key}/channel/{channels}/uuid/{uuid}/data",
            get(presence::set_state),
        )
        .route(
            "/v2/presence/sub-key/{sub_key}/uuid/{uuid}",
            get(presence::where_now),
        )
        .route(
            "/v1/channel-registration/sub-key/{sub_key}/channel-group",
            get(groups::list),
        )
        .route(
            "/v1/channel-registration/sub-key/{sub_key}/channel-group/{group}",
            get(groups::group),
        )
        .route(
            "/v1/channel-registration/sub-key/{sub_key}/channel-group/{group}/remove",
            get(groups::delete),
        )
}
