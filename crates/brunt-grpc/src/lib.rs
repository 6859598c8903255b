//! gRPC with messages described at run time, for `k6/net/grpc` scripts and `brunt target`.
//!
//! - [`protos`]: services and messages from .proto files (parsed in Rust by protox: no protoc),
//!   protosets or reflection; [`json`]: messages to and from JSON as k6 maps them (protojson).
//! - [`client::Connection`]: HTTP/2 on a stream the caller dialed, unary calls ([`Reply`]) and
//!   streams ([`client::CallStream`], events through a callback), size limits and statuses in
//!   grpc-go's words ([`status`]); [`reflection::reflect`] and [`health::check`] on it.
//! - [`server::Server`]: methods served by handlers, with reflection and health built in.

pub mod client;
pub mod codec;
pub mod health;
pub mod json;
pub mod protos;
pub mod reflection;
pub mod server;
pub mod status;

pub use client::{CallStream, ConnectOptions, Connection, Metadata, Reply, StreamEvent};
pub use codec::DEFAULT_MAX_RECEIVE;
pub use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor};
pub use prost_types::FileDescriptorProto;
pub use protos::{MethodInfo, Protos};
pub use tonic::{Code, Status};
