//! Precision of the timing toxics, for docs/benchmarks.md. Ignored by default
//! (they take ~25 s); run with
//! `cargo test -p brunt-chaos --test accuracy -- --ignored --nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

async fn p50_round_trip(listen: std::net::SocketAddr, n: usize) -> Duration {
    let mut s = TcpStream::connect(listen).await.unwrap();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        times.push(round_trip(&mut s, b"ping").await);
    }
    times.sort();
    times[n / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow precision measurement"]
async fn latency_100ms_adds_100ms_at_p50() {
    let (server, client, listen) = start_proxy(1, "p", echo_server().await).await;
    let base = p50_round_trip(listen, 100).await;
    toxic(
        &client,
        "p",
        "latency",
        "downstream",
        json!({"latency": 100}),
    )
    .await;
    let with = p50_round_trip(listen, 100).await;
    let added = with.saturating_sub(base);
    println!("latency 100 ms: p50 round trip {base:?} without, {with:?} with, added {added:?}");
    assert!(
        added >= Duration::from_millis(98) && added <= Duration::from_millis(102),
        "added {added:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow precision measurement"]
async fn bandwidth_100kbs_moves_1mb_in_10s() {
    let (server, client, listen) = start_proxy(1, "p", source_server(1_000_000).await).await;
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
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let took = start.elapsed();
    println!("bandwidth 100 KB/s: 1 MB in {took:?}");
    assert_eq!(got.len(), 1_000_000);
    assert!(
        took >= Duration::from_millis(9500) && took <= Duration::from_millis(10500),
        "{took:?}"
    );
    server.shutdown().await;
}
