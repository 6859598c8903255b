//! `brunt experiment`: runs Chaos Toolkit experiments unchanged.
//!
//! [`format`] reads and validates the file (JSON or YAML) into activities, each with its
//! [`provider`] (one file per provider: http, process, the toxiproxy extension) and
//! [`tolerance`]; [`runner`] plays them in Chaos Toolkit's order and writes a [`journal`] in
//! Chaos Toolkit's format. docs/experiments.md describes it for users.

pub mod activity;
pub mod cli;
pub mod fault_phase;
pub mod format;
pub mod journal;
pub mod live_load;
pub mod monitors;
pub mod provider;
pub mod runner;
pub mod started;
pub mod substitute;
pub mod tolerance;

pub use cli::{run, ExperimentArgs};
pub use format::{load, Experiment, FormatError};
