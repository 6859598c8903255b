//! k6's REST API over a running test (`brunt run --address HOST:PORT`), with k6's paths, JSON:API
//! bodies, status codes and error texts, so that k6-operator's starter and anything else written
//! against k6's API drive brunt unchanged.
//!
//! - `GET/PATCH /v1/status`: where the run stands ([`brunt_engine::Execution`]); un-pausing
//!   opens the engine's start gate (`--paused`), `stopped: true` stops the run (exit 103).
//! - `GET /v1/metrics`, `/v1/metrics/{id}`: each metric's k6 sink values, from the collector's
//!   totals ([`LiveView`], fed by the run's observer), with `tainted` from the thresholds.
//! - `GET /v1/groups`, `/v1/groups/{id}`: the groups and checks tree (brunt-output's `Group`).
//! - `GET/PUT/POST /v1/setup`, `POST /v1/teardown`: `setup()`'s data, and the hooks run on the
//!   engine's hook VU while the test waits at its start gate.
//!
//! The server runs on a thread of its own with a current-thread runtime, as the dashboard does:
//! the engine's workers and collector are not async.

mod jsonapi;
mod routes;
mod view;

pub use view::LiveView;

use brunt_engine::{server_thread, Execution, RunControl};
use brunt_metrics::{Registry, Thresholds};
use std::net::SocketAddr;
use std::sync::Arc;

/// k6's default REST API address (`--address`).
pub const DEFAULT_ADDRESS: &str = "localhost:6565";

/// What the API needs of the script: `setup()`'s data and the order groups were defined in.
pub trait Script: Send + Sync {
    /// What `setup()` returned, or what was set through `PUT /v1/setup`, as JSON text.
    fn setup_data(&self) -> Option<String>;
    /// Replaces the data the VUs receive (`PUT /v1/setup`; None clears it).
    fn set_setup_data(&self, json: Option<String>);
    /// Group and check paths in the order the script first ran them.
    fn definition_order(&self) -> Vec<String>;
}

/// Everything the API reads and steers.
pub struct ControlSurface {
    pub execution: Execution,
    pub control: RunControl,
    pub registry: Arc<Registry>,
    pub thresholds: Thresholds,
    pub view: LiveView,
    pub script: Arc<dyn Script>,
}

/// Binds `address` (`host:port`; IPv4 addresses of a name first, as k6 binds `localhost`) and
/// serves the API on a thread of its own until the process ends; returns the bound address.
pub fn serve(address: &str, surface: ControlSurface) -> std::io::Result<SocketAddr> {
    let app = routes::router(Arc::new(surface));
    server_thread::spawn(
        "rest-api",
        server_thread::bind(address)?,
        |listener| async move {
            let _ = axum::serve(listener, app).await;
        },
    )
}
