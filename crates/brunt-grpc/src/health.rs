//! The standard health service (`grpc.health.v1.Health/Check`): `client.healthCheck()` asks it,
//! `brunt target` answers it. Its two messages are written out with prost's derive.

use crate::client::Connection;
use crate::codec::{Codec, Typed};
use tonic::Status;

pub const SERVICE: &str = "grpc.health.v1.Health";

#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckRequest {
    #[prost(string, tag = "1")]
    pub service: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckResponse {
    /// A [`ServingStatus`] number.
    #[prost(int32, tag = "1")]
    pub status: i32,
}

/// The serving statuses with the names k6 exports them under (`grpc.HealthCheckServing`, ...;
/// k6 spells the last one `HealthCheckServiceUnkown`).
pub const K6_SERVING_NAMES: [(&str, i32); 4] = [
    ("HealthCheckUnknown", 0),
    ("HealthCheckServing", 1),
    ("HealthCheckNotServing", 2),
    ("HealthCheckServiceUnkown", 3),
];

pub const SERVING: i32 = 1;

/// Asks the server how `service` is (the empty name: the server as a whole).
pub async fn check(conn: &Connection, service: &str) -> Result<i32, Status> {
    let codec = Codec::<CheckRequest, Typed<CheckResponse>>::new(Typed::default(), usize::MAX);
    let (send, requests) = tokio::sync::mpsc::unbounded_channel();
    let _ = send.send(CheckRequest {
        service: service.to_string(),
    });
    drop(send);
    let path = format!("/{SERVICE}/Check");
    let (_, mut answers) = conn.streaming(&path, requests, &[], codec).await?;
    match answers.message().await? {
        Some(r) => Ok(r.status),
        None => Err(Status::internal("the health service sent no answer")),
    }
}
