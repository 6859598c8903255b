//! A coordinated run across brunt instances (`brunt coordinator`, `brunt agent`, `brunt run
//! --coordinator`): one coordinator holds the test, instances run its execution segments on
//! the engine as `brunt run` does, and the coordinator judges and reports the whole.
//!
//! - [`Coordinator`] serves instances over HTTP (axum, under `/v1/coordinator/`, token
//!   checked): it hands out segments ([`Segments`]) and the archive, starts every instance
//!   together (a delay from when each receives it, never a wall-clock instant, so clock skew
//!   does not matter), and hands each merged second to the run's own observer (brunt-output's
//!   reporter: thresholds on the whole with `abortOnFail`, outputs). Histograms travel exactly
//!   (brunt-output's results records: HDR V2, deflated) and add up, so percentiles of the whole
//!   are exact; lost instances are named and handled per [`OnLoss`].
//! - [`Instance`] is the instance's side: join, archive, ready, start, an engine observer that
//!   sends each second, and the wait before `teardown()`.
//!
//! No second scheduler or reporter: instances run the engine, the coordinator feeds the
//! reporter `brunt run` uses.

#[cfg(test)]
mod bench;
mod client;
mod coordinator;
mod merge;
pub mod proto;
mod segments;
mod server;

pub use client::{ClientError, Instance, Sender};
pub use coordinator::{new_token, Config, Coordinated, Coordinator, CoordinatorError, OnLoss};
pub use segments::Segments;
