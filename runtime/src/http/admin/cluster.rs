//! `GET /v1/admin/cluster`: the nodes of the cluster and what each runs,
//! and each after-publish function's work queue (`edgefn cluster status`).
//! A node running alone lists itself.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::cluster::nodes;
use crate::http::error::ApiError;
use crate::node::Node;

/// `GET /v1/admin/cluster`.
pub async fn status(State(node): State<Arc<Node>>) -> Result<Json<Value>, ApiError> {
    let this = node.status().await;
    let Some(cluster) = &node.cluster else {
        return Ok(Json(
            json!({ "cluster": false, "node": this.node, "nodes": [this] }),
        ));
    };
    let nodes = nodes::list(cluster).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )
    })?;
    let mut after_publish = serde_json::Map::new();
    for function in node.functions.snapshot().iter() {
        if let Some(backlog) = node.functions.after_publish_backlog(function.name()).await {
            after_publish.insert(function.name().to_owned(), json!(backlog));
        }
    }
    Ok(Json(json!({
        "cluster": true,
        "node": this.node,
        "nodes": nodes,
        "after_publish": after_publish,
    })))
}
