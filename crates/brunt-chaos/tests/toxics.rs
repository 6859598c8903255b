//! Each toxic's effect on loopback connections through the proxy. Timing checks
//! use wide tolerances: they tell an effect from its absence, not precision.

mod common;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const MS: Duration = Duration::from_millis(1);

/// Reads until EOF or error; returns the bytes and whether it ended in a reset.
async fn read_all(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match timeout(LIMIT, s.read(&mut buf))
            .await
            .expect("read timed out")
        {
            Ok(0) => return (out, false),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (out, true),
            Err(e) => panic!("read error {e}"),
        }
    }
}

#[tokio::test]
async fn no_toxics_pass_bytes_unchanged_both_ways() {
    let (server, _client, listen) = start_proxy(1, "p", echo_server().await).await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let data = pattern(1 << 20);
    let (mut r, mut w) = s.split();
    let (_, back) = tokio::join!(
        async {
            w.write_all(&data).await.unwrap();
        },
        read_n(&mut r, data.len())
    );
    assert!(back == data, "echo through the proxy must be byte-exact");
    server.shutdown().await;
}

#[tokio::test]
async fn latency_adds_per_direction_and_toxicity_zero_does_nothing() {
    let (server, client, listen) = start_proxy(1, "p", echo_server().await).await;
    toxic(
        &client,
        "p",
        "latency",
        "downstream",
        json!({"latency": 100}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let rt = round_trip(&mut s, b"ping").await;
    assert!(
        rt >= 100 * MS && rt < 400 * MS,
        "downstream latency 100 ms: round trip {rt:?}"
    );

    client.reset().await.unwrap();
    toxic(&client, "p", "latency", "upstream", json!({"latency": 100})).await;
    toxic(
        &client,
        "p",
        "latency",
        "downstream",
        json!({"latency": 100}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let rt = round_trip(&mut s, b"ping").await;
    assert!(
        rt >= 200 * MS && rt < 600 * MS,
        "both directions: round trip {rt:?}"
    );

    client.reset().await.unwrap();
    toxic_at(
        &client,
        "p",
        "latency",
        "downstream",
        0.0,
        json!({"latency": 2000}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let rt = round_trip(&mut s, b"ping").await;
    assert!(rt < 1000 * MS, "toxicity 0 must have no effect: {rt:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn latency_keeps_throughput_of_a_stream() {
    // Chunks read 10 ms apart each leave 100 ms later: the delay is not cumulative.
    let (server, client, listen) = start_proxy(1, "p", echo_server().await).await;
    toxic(&client, "p", "latency", "upstream", json!({"latency": 100})).await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let start = Instant::now();
    for _ in 0..20 {
        s.write_all(b"x").await.unwrap();
        tokio::time::sleep(10 * MS).await;
    }
    read_n(&mut s, 20).await;
    let took = start.elapsed();
    assert!(
        took < 1000 * MS,
        "20 x 10 ms writes plus 100 ms latency took {took:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bandwidth_limits_rate() {
    let (server, client, listen) = start_proxy(1, "p", source_server(200_000).await).await;
    toxic(
        &client,
        "p",
        "bandwidth",
        "downstream",
        json!({"rate": 100}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let start = Instant::now();
    let (data, _) = read_all(&mut s).await;
    let took = start.elapsed();
    assert_eq!(data, pattern(200_000));
    assert!(
        took >= 1500 * MS && took < 3000 * MS,
        "200 KB at 100 KB/s took {took:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn slow_close_delays_the_close() {
    let (server, client, listen) = start_proxy(1, "p", source_server(10).await).await;
    toxic(
        &client,
        "p",
        "slow_close",
        "downstream",
        json!({"delay": 300}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let start = Instant::now();
    let mut first = [0u8; 10];
    s.read_exact(&mut first).await.unwrap();
    assert!(start.elapsed() < 250 * MS, "data itself is not delayed");
    let (rest, _) = read_all(&mut s).await;
    assert!(rest.is_empty());
    assert!(
        start.elapsed() >= 300 * MS,
        "close came after {:?}",
        start.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn timeout_swallows_data_then_closes() {
    let (server, client, listen) = start_proxy(1, "p", echo_server().await).await;
    toxic(&client, "p", "timeout", "upstream", json!({"timeout": 200})).await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let start = Instant::now();
    s.write_all(b"hello").await.unwrap();
    let (data, _) = read_all(&mut s).await;
    assert!(data.is_empty(), "timeout must drop data");
    assert!(
        start.elapsed() >= 200 * MS,
        "closed after {:?}",
        start.elapsed()
    );

    // timeout 0 holds the connection open; removing the toxic closes it.
    client.reset().await.unwrap();
    toxic(&client, "p", "timeout", "upstream", json!({"timeout": 0})).await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    s.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 8];
    assert!(
        timeout(300 * MS, s.read(&mut buf)).await.is_err(),
        "held open, no data"
    );
    client.remove_toxic("p", "timeout_upstream").await.unwrap();
    let (data, _) = read_all(&mut s).await;
    assert!(data.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn reset_peer_resets() {
    let (server, client, listen) = start_proxy(1, "p", echo_server().await).await;
    toxic(
        &client,
        "p",
        "reset_peer",
        "upstream",
        json!({"timeout": 100}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let start = Instant::now();
    s.write_all(b"hello").await.unwrap();
    let (data, reset) = read_all(&mut s).await;
    assert!(data.is_empty());
    assert!(reset, "client must see a connection reset");
    assert!(start.elapsed() >= 100 * MS);
    server.shutdown().await;
}

#[tokio::test]
async fn slicer_splits_into_small_writes_without_changing_bytes() {
    let (server, client, listen) = start_proxy(1, "p", source_server(2000).await).await;
    toxic(
        &client,
        "p",
        "slicer",
        "downstream",
        json!({"average_size": 100, "size_variation": 50, "delay": 5000}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let mut reads = 0;
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = timeout(LIMIT, s.read(&mut buf)).await.unwrap().unwrap();
        if n == 0 {
            break;
        }
        reads += 1;
        assert!(n <= 400, "slices stay small, got {n}");
        data.extend_from_slice(&buf[..n]);
    }
    assert_eq!(data, pattern(2000));
    assert!(
        reads >= 10,
        "2000 bytes in ~100-byte slices 5 ms apart came in {reads} reads"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn limit_data_closes_after_the_limit() {
    let (server, client, listen) = start_proxy(1, "p", source_server(1000).await).await;
    toxic(
        &client,
        "p",
        "limit_data",
        "downstream",
        json!({"bytes": 100}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let (data, _) = read_all(&mut s).await;
    assert_eq!(data, pattern(100));
    server.shutdown().await;
}

#[tokio::test]
async fn loss_rate_drops_chunks() {
    let (server, client, listen) = start_proxy(1, "p", source_server(1000).await).await;
    toxic(
        &client,
        "p",
        "loss_rate",
        "downstream",
        json!({"rate": 1.0}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let (data, _) = read_all(&mut s).await;
    assert!(data.is_empty(), "rate 1 drops everything");
    client
        .update_toxic(
            "p",
            "loss_rate_downstream",
            &brunt_chaos::client::ToxicChanges {
                toxicity: None,
                attributes: json!({"rate": 0.0}),
            },
        )
        .await
        .unwrap();
    let mut s = TcpStream::connect(listen).await.unwrap();
    let (data, _) = read_all(&mut s).await;
    assert_eq!(data, pattern(1000), "rate 0 drops nothing");
    server.shutdown().await;
}

#[tokio::test]
async fn slow_connect_delays_the_upstream_dial() {
    let (server, client, listen) = start_proxy(1, "p", echo_server().await).await;
    toxic(
        &client,
        "p",
        "slow_connect",
        "upstream",
        json!({"delay": 300}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let rt = round_trip(&mut s, b"x").await;
    assert!(rt >= 300 * MS, "first byte after {rt:?}");
    let rt = round_trip(&mut s, b"y").await;
    assert!(rt < 250 * MS, "later traffic is not delayed: {rt:?}");
    server.shutdown().await;
}

/// Which of `n` connections a 50% latency toxic hit.
async fn delayed_pattern(seed: u64, n: usize) -> Vec<bool> {
    let (server, client, listen) = start_proxy(seed, "p", echo_server().await).await;
    toxic_at(
        &client,
        "p",
        "latency",
        "downstream",
        0.5,
        json!({"latency": 150}),
    )
    .await;
    let mut hits = Vec::new();
    for _ in 0..n {
        let mut s = TcpStream::connect(listen).await.unwrap();
        hits.push(round_trip(&mut s, b"x").await >= 150 * MS);
    }
    server.shutdown().await;
    hits
}

#[tokio::test]
async fn seed_makes_toxicity_reproducible() {
    let a = delayed_pattern(42, 12).await;
    let b = delayed_pattern(42, 12).await;
    assert_eq!(a, b, "same seed, same connections hit");
    assert!(
        a.contains(&true) && a.contains(&false),
        "toxicity 0.5 hits some: {a:?}"
    );
}

#[tokio::test]
async fn http_status_answers_matching_requests_without_upstream() {
    let (upstream, seen) = http_server().await;
    let (server, client, listen) = start_proxy(1, "web", upstream).await;
    toxic(
        &client,
        "web",
        "http_status",
        "downstream",
        json!({"status": 429, "retry_after": 7, "path": "/limited*"}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let (status, head, _) = http_get(&mut s, "/limited/a").await.unwrap();
    assert_eq!(status, 429);
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 7"),
        "{head}"
    );
    // Same keep-alive connection: other paths still reach the upstream, in order.
    let (status, _, body) = http_get(&mut s, "/ok").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "path=/ok"));
    let (status, _, _) = http_get(&mut s, "/limited/b").await.unwrap();
    assert_eq!(status, 429);
    assert_eq!(*seen.lock().unwrap(), ["/ok"]);
    server.shutdown().await;
}

#[tokio::test]
async fn http_status_added_to_a_live_keep_alive_connection() {
    let (upstream, _) = http_server().await;
    let (server, client, listen) = start_proxy(1, "web", upstream).await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    assert_eq!(http_get(&mut s, "/a").await.unwrap().0, 200);
    toxic(
        &client,
        "web",
        "http_status",
        "upstream",
        json!({"status": 503}),
    )
    .await;
    assert_eq!(http_get(&mut s, "/b").await.unwrap().0, 503);
    client
        .remove_toxic("web", "http_status_upstream")
        .await
        .unwrap();
    assert_eq!(http_get(&mut s, "/c").await.unwrap().0, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn http_latency_delays_matching_paths_only() {
    let (upstream, _) = http_server().await;
    let (server, client, listen) = start_proxy(1, "web", upstream).await;
    toxic(
        &client,
        "web",
        "http_latency",
        "upstream",
        json!({"latency": 300, "path": "/slow"}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let start = Instant::now();
    assert_eq!(http_get(&mut s, "/slow").await.unwrap().0, 200);
    assert!(
        start.elapsed() >= 300 * MS,
        "/slow took {:?}",
        start.elapsed()
    );
    let start = Instant::now();
    assert_eq!(http_get(&mut s, "/fast").await.unwrap().0, 200);
    assert!(
        start.elapsed() < 250 * MS,
        "/fast took {:?}",
        start.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn http_reset_cuts_the_response() {
    let (upstream, _) = http_server().await;
    let (server, client, listen) = start_proxy(1, "web", upstream).await;
    toxic(
        &client,
        "web",
        "http_reset",
        "upstream",
        json!({"after_bytes": 10, "path": "/boom"}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    assert_eq!(http_get(&mut s, "/fine").await.unwrap().0, 200);
    s.write_all(b"GET /boom HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let (data, reset) = read_all(&mut s).await;
    assert!(
        data.len() <= 10,
        "at most 10 bytes of the response: {}",
        data.len()
    );
    assert!(reset, "the cut is a reset");
    server.shutdown().await;
}
