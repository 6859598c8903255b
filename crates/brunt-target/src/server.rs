//! Accepting connections and running the server, in the caller's runtime
//! (`serve`) or on a runtime of its own (`spawn`, the CLI).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;

use crate::llm::MockLlm;
use crate::routes::{self, State};

/// How long [`serve`] lets requests in flight finish after shutdown.
const DRAIN: Duration = Duration::from_secs(5);
/// Pending connections the kernel queues before `accept`; load tests open many at once.
const BACKLOG: u32 = 4096;

/// Serves the target's routes over HTTP/1.1 and HTTP/2 (cleartext, prior
/// knowledge) on `listener` until `shutdown` completes; then stops accepting,
/// gives requests in flight up to 5 s to finish, and returns.
///
/// Each call has its own state: a stall or an order on one server is not seen
/// by another. Fails only if the listener itself becomes unusable; a failed
/// connection never stops the server.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    serve_draining(listener, shutdown, DRAIN, MockLlm::default(), None).await
}

async fn serve_draining(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
    llm: MockLlm,
    capacity: Option<u32>,
) -> io::Result<()> {
    let state = Arc::new(State::new(llm, capacity));
    let builder = auto::Builder::new(TokioExecutor::new());
    let connections = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if listener_is_broken(&e) => return Err(e),
            Err(e) => {
                // A client gave up while queued, or the process is out of
                // descriptors or memory: pause so the failure cannot spin,
                // and serve the connections that remain.
                if !is_per_connection(&e) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                continue;
            }
        };
        // Small responses must leave at once, not wait for Nagle's timer. A
        // peer that already reset makes this fail; its connection ends on its own.
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let service = service_fn(move |req| routes::handle(req, state.clone(), peer));
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // A client that resets or sends garbage only ends its own connection.
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(drain, connections.shutdown()).await;
    Ok(())
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Errors after which accepting can never succeed again.
fn listener_is_broken(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            e.raw_os_error(),
            Some(libc::EBADF | libc::EINVAL | libc::ENOTSOCK | libc::EOPNOTSUPP)
        )
    }
    #[cfg(not(unix))]
    {
        e.kind() == io::ErrorKind::InvalidInput
    }
}

/// Binds `addr` with a deep accept queue; the error names the address.
/// Must run inside a runtime context (the listener registers with its reactor).
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(named)?;
    // Lets a restarted target reuse its port while old connections linger in
    // TIME_WAIT; a port another server listens on still fails.
    socket.set_reuseaddr(true).map_err(named)?;
    socket.bind(addr).map_err(named)?;
    socket.listen(BACKLOG).map_err(named)
}

/// Builds the server's runtime and binds its listener.
fn open(
    addr: SocketAddr,
    threads: Option<usize>,
) -> io::Result<(tokio::runtime::Runtime, TcpListener, SocketAddr)> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("brunt-target");
    if let Some(threads) = threads {
        builder.worker_threads(threads);
    }
    let runtime = builder.build()?;
    let listener = {
        let _context = runtime.enter();
        bind(addr)?
    };
    let addr = listener.local_addr()?;
    Ok((runtime, listener, addr))
}

/// Starts the target on `addr` (port 0 picks a free one) on a multi-thread
/// runtime of its own, one worker per core, so tests and `brunt demo` can run
/// it in-process. Dropping the returned handle stops it at once.
pub fn spawn(addr: SocketAddr) -> io::Result<Target> {
    spawn_with(addr, MockLlm::default())
}

/// As [`spawn`], with the mock LLM's defaults set (tests that need their own).
pub fn spawn_with(addr: SocketAddr, llm: MockLlm) -> io::Result<Target> {
    Target::start(addr, None, Duration::ZERO, llm, None)
}

/// A running target; dropping it stops the server and waits for its threads.
#[derive(Debug)]
pub struct Target {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Target {
    /// Binds and starts serving; `threads` workers (default one per core);
    /// on drop, requests in flight get `drain` to finish; `capacity` caps the requests started
    /// per second (`--capacity`).
    pub(crate) fn start(
        addr: SocketAddr,
        threads: Option<usize>,
        drain: Duration,
        llm: MockLlm,
        capacity: Option<u32>,
    ) -> io::Result<Target> {
        // The runtime lives and dies on its own thread: it may not be built
        // or dropped from inside another runtime, such as an async test's.
        let (ready, started) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("brunt-target".into())
            .spawn(move || {
                let (runtime, listener, addr) = match open(addr, threads) {
                    Ok(opened) => opened,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let _ = ready.send(Ok(addr));
                let server = serve_draining(
                    listener,
                    async {
                        // A dropped sender means the same as a sent stop.
                        let _ = stopped.await;
                    },
                    drain,
                    llm,
                    capacity,
                );
                // Run the accept loop on a worker, not on this thread, so that
                // `threads` is the number of threads that do work.
                match runtime.block_on(runtime.spawn(server)) {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("brunt target on {addr} stopped: {e}"),
                    Err(e) => eprintln!("brunt target on {addr} failed: {e}"),
                }
            })?;
        let started = started
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the target's thread ended while starting")));
        let target = Target {
            addr: started.as_ref().map_or(addr, |addr| *addr),
            stop: Some(stop),
            thread: Some(thread),
        };
        // On failure, dropping `target` joins the thread that already gave up.
        started.map(|_| target)
    }

    /// The address the target listens on, with the real port when 0 was asked for.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of `path` (which starts with `/`) on this target, e.g. `http://127.0.0.1:41234/json`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
