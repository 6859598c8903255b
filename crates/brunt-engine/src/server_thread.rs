//! A side server (the dashboard, k6's REST API, the coordinator) on a thread of its own with a
//! current-thread runtime: the engine's workers and collector are not async, so nothing else
//! would drive it.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

/// Binds `address` (`host:port`), a name's IPv4 addresses first, as k6 binds `localhost`.
pub fn bind(address: &str) -> io::Result<TcpListener> {
    let mut addrs: Vec<SocketAddr> = address.to_socket_addrs()?.collect();
    addrs.sort_by_key(|a| !a.is_ipv4());
    TcpListener::bind(&addrs[..])
}

/// Runs `serve` on `listener` on a thread named `name` until the process ends; returns the
/// bound address. Errors (the runtime, the thread) come back here, before anything is served.
pub fn spawn<F, Fut>(name: &str, listener: TcpListener, serve: F) -> io::Result<SocketAddr>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            rt.block_on(async move {
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    serve(listener).await;
                }
            })
        })?;
    Ok(bound)
}
