//! A proxy: its listener, the accept loop, and the two links of each connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::link::{Conn, Halves, Link};
use crate::listen;
use crate::metrics::ProxyCounters;
use crate::model::{Chain, ProxyView, ToxicEntry};
use crate::seed::rng_for;
use crate::toxics::{Direction, Scope};

/// What a running proxy's connections need to know.
pub(crate) struct ProxyCtx {
    pub name: String,
    pub upstream: String,
    pub seed: u64,
    pub counters: Arc<ProxyCounters>,
    chain: watch::Receiver<Chain>,
    next_seq: Arc<AtomicU64>,
}

struct Running {
    token: CancellationToken,
    accept: JoinHandle<()>,
}

pub(crate) struct Proxy {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
    /// Toxics per direction (upstream, downstream), each in the order added.
    toxics: [Vec<Arc<ToxicEntry>>; 2],
    chain_tx: watch::Sender<Chain>,
    running: Option<Running>,
    pub counters: Arc<ProxyCounters>,
    /// Connection numbering continues across restarts so seeded runs stay distinct.
    next_seq: Arc<AtomicU64>,
}

fn slot(d: Direction) -> usize {
    match d {
        Direction::Upstream => 0,
        Direction::Downstream => 1,
    }
}

impl Proxy {
    pub fn new(name: String, listen: String, upstream: String) -> Self {
        Self {
            name,
            listen,
            upstream,
            enabled: false,
            toxics: [Vec::new(), Vec::new()],
            chain_tx: watch::Sender::new(Arc::new(Vec::new())),
            running: None,
            counters: Arc::default(),
            next_seq: Arc::default(),
        }
    }

    /// Starts listening; fails with Toxiproxy's 500 when the address is unusable.
    /// Starting a started proxy does nothing.
    pub async fn start(&mut self, seed: u64) -> Result<(), ApiError> {
        if self.enabled {
            return Ok(());
        }
        let listener = listen::resolve(&self.listen).await?.bind().await?;
        if let Ok(local) = listener.local_addr() {
            self.listen = local.to_string();
        }
        let token = CancellationToken::new();
        let ctx = Arc::new(ProxyCtx {
            name: self.name.clone(),
            upstream: self.upstream.clone(),
            seed,
            counters: self.counters.clone(),
            chain: self.chain_tx.subscribe(),
            next_seq: self.next_seq.clone(),
        });
        let accept = tokio::spawn(accept_loop(listener, ctx, token.clone()));
        self.running = Some(Running { token, accept });
        self.enabled = true;
        tracing::info!(proxy = %self.name, listen = %self.listen, upstream = %self.upstream, "started proxy");
        Ok(())
    }

    /// Stops listening and cuts every connection; returns once the listener is closed.
    pub async fn stop(&mut self) {
        self.enabled = false;
        if let Some(running) = self.running.take() {
            running.token.cancel();
            let _ = running.accept.await;
            tracing::info!(proxy = %self.name, "terminated proxy");
        }
    }

    pub fn toxics(&self) -> impl Iterator<Item = &Arc<ToxicEntry>> {
        self.toxics.iter().flatten()
    }

    pub fn find_toxic(&self, name: &str) -> Option<&Arc<ToxicEntry>> {
        self.toxics().find(|t| t.toxic.name == name)
    }

    pub fn add_toxic(&mut self, entry: ToxicEntry) {
        self.toxics[slot(entry.toxic.direction)].push(Arc::new(entry));
        self.publish();
    }

    /// Replaces the toxic with the same uid in place, keeping its position.
    pub fn replace_toxic(&mut self, entry: ToxicEntry) {
        for list in &mut self.toxics {
            if let Some(t) = list.iter_mut().find(|t| t.uid == entry.uid) {
                *t = Arc::new(entry);
                break;
            }
        }
        self.publish();
    }

    pub fn remove_toxic(&mut self, name: &str) -> bool {
        let before = self.toxics().count();
        for list in &mut self.toxics {
            list.retain(|t| t.toxic.name != name);
        }
        let removed = self.toxics().count() != before;
        if removed {
            self.publish();
        }
        removed
    }

    pub fn clear_toxics(&mut self) {
        self.toxics = [Vec::new(), Vec::new()];
        self.publish();
    }

    fn publish(&self) {
        self.chain_tx
            .send_replace(Arc::new(self.toxics().cloned().collect()));
    }

    pub fn view(&self) -> ProxyView<'_> {
        ProxyView {
            name: &self.name,
            listen: &self.listen,
            upstream: &self.upstream,
            enabled: self.enabled,
            toxics: self.toxics().map(|t| t.toxic.view()).collect(),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            running.token.cancel();
        }
    }
}

async fn accept_loop(listener: TcpListener, ctx: Arc<ProxyCtx>, token: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = token.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((client, _)) => {
                tokio::spawn(serve(client, ctx.clone(), token.child_token()));
            }
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(proxy = %ctx.name, error = %e, "error while accepting client");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Dials the upstream for one client and runs both directions until they end.
async fn serve(client: TcpStream, ctx: Arc<ProxyCtx>, token: CancellationToken) {
    let seq = ctx.next_seq.fetch_add(1, Ordering::Relaxed);
    ctx.counters.connection();
    let delay = connect_delay(&ctx, seq);
    if !delay.is_zero() {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    let upstream = tokio::select! {
        _ = token.cancelled() => return,
        dialed = TcpStream::connect(ctx.upstream.as_str()) => dialed,
    };
    let upstream = match upstream {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(proxy = %ctx.name, upstream = %ctx.upstream, error = %e, "unable to open connection to upstream");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let conn = Arc::new(Conn::new(token, seq));
    let halves = Halves { client, upstream };
    let (up, down) = Link::pair(halves, conn, &ctx, &ctx.chain);
    // Separate tasks: a wake-up in one direction does not poll the other.
    tokio::spawn(down.run());
    up.run().await;
}

/// Total delay of the `slow_connect` toxics this connection rolled.
fn connect_delay(ctx: &ProxyCtx, seq: u64) -> Duration {
    let chain = ctx.chain.borrow().clone();
    chain
        .iter()
        .filter(|t| t.toxic.kind.scope() == Scope::Connect)
        .map(|t| {
            let mut rng = rng_for(ctx.seed, &ctx.name, seq, &t.toxic.name);
            if rng.random::<f32>() < t.toxic.toxicity {
                t.toxic.kind.connect_delay(&mut rng)
            } else {
                Duration::ZERO
            }
        })
        .sum()
}
