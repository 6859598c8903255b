//! Placeholder until the runner lands (next commit).
use crate::{Plan, RunError, RunOptions, RunOutcome, VuFactory};
use brunt_metrics::Registry;
use std::sync::Arc;

pub(crate) fn run<F: VuFactory>(
    _plan: &Plan,
    _factory: Arc<F>,
    _registry: Arc<Registry>,
    _opts: RunOptions,
) -> Result<RunOutcome, RunError> {
    Err(RunError::Worker("the runner is not implemented yet".into()))
}
