//! Starting and stopping the target, as tests, `brunt demo` and `brunt target` do.

use std::net::SocketAddr;

use http::StatusCode;

use crate::client::get;
use tokio::sync::oneshot;

#[tokio::test]
async fn spawn_picks_a_free_port_and_drop_stops_the_server() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = target.local_addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(
        target.url("/json"),
        format!("http://127.0.0.1:{}/json", addr.port())
    );
    assert_eq!(get(addr, "/").await.status, StatusCode::OK);
    drop(target);
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "still accepting after drop");
}

#[test]
fn spawn_works_outside_any_runtime() {
    let target = brunt_target::spawn("[::1]:0".parse().unwrap())
        .or_else(|_| brunt_target::spawn("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let mut stream = std::net::TcpStream::connect(target.local_addr()).unwrap();
    use std::io::{Read, Write};
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("hello world\n"), "{answer}");
}

#[tokio::test]
async fn an_address_in_use_is_an_error_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = taken.local_addr().unwrap();
    let error = brunt_target::spawn(addr).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    assert!(error.to_string().contains(&addr.to_string()), "{error}");
}

#[tokio::test]
async fn serve_runs_on_the_callers_runtime_until_shutdown() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(brunt_target::serve(listener, async {
        let _ = stopped.await;
    }));
    assert_eq!(get(addr, "/json").await.status, StatusCode::OK);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[test]
fn drop_closes_connections_a_client_keeps_open() {
    use std::io::{Read, Write};
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut held = std::net::TcpStream::connect(target.local_addr()).unwrap();
    held.write_all(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 17];
    held.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK\r\n");
    drop(target);
    held.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    // The rest of the response, then end of stream: the server side is gone.
    held.read_to_end(&mut rest).unwrap();
    assert!(rest.ends_with(b"hello world\n"));
}
