//! `GET /v1/admin/cluster`: the nodes of the cluster and what each runs
//! (`edgefn cluster status`). A node running alone lists itself.

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
    Ok(Json(
        json!({ "cluster": true, "node": this.node, "nodes": nodes }),
    ))
}
