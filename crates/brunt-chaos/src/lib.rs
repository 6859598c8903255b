//! Toxiproxy-compatible fault proxy.
//!
//! [`start`] serves the Toxiproxy 2.x REST API on a listener; proxies created
//! through it forward TCP connections to their upstream through a chain of
//! toxics per direction ([`TOXIC_TYPES`] lists them; docs/chaos.md describes them).
//! [`client::Client`] speaks the same API over HTTP, for `brunt chaos` and the
//! scripting module; [`cli`] holds the `brunt proxy` and `brunt chaos` commands.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

mod api;
pub mod cli;
pub mod client;
mod collection;
mod config;
mod error;
mod http_frame;
mod link;
mod listen;
mod metrics;
mod model;
mod process;
mod proxy;
mod request_id;
mod seed;
mod toxics;

pub use config::ConfigError;
pub use error::ApiError;
pub use toxics::{Direction, TOXIC_TYPES};

/// Reported by `GET /version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Options of a fault-proxy server.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Seed for every random choice (toxicity, jitter, slicing, losses); random when `None`.
    pub seed: Option<u64>,
}

/// A running API server and its proxies.
pub struct Server {
    addr: SocketAddr,
    seed: u64,
    collection: Arc<collection::Collection>,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

/// Serves the API on `listener` until [`Server::shutdown`].
pub async fn start(listener: TcpListener, options: ServerOptions) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    let seed = options.seed.unwrap_or_else(seed::random_seed);
    let collection = Arc::new(collection::Collection::new(seed));
    let shutdown = CancellationToken::new();
    let app = api::router(collection.clone());
    let signal = shutdown.clone().cancelled_owned();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
    });
    Ok(Server {
        addr,
        seed,
        collection,
        shutdown,
        task,
    })
}

impl Server {
    /// The address the API listens on.
    pub fn api_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The seed in use (given or drawn), to reproduce a run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Applies a Toxiproxy config file (JSON array of proxies, with their toxics).
    pub async fn load_config(&self, path: &Path) -> Result<usize, ConfigError> {
        config::load(&self.collection, path).await
    }

    /// Stops the API and every proxy, cutting their connections.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.collection.shutdown().await;
        let _ = self.task.await;
    }
}
