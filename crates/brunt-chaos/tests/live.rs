//! Changes on live connections: toxics added, updated and removed mid-stream,
//! proxies taken down and brought back.

mod common;

use std::time::{Duration, Instant};

use brunt_chaos::client::{ProxyChanges, ToxicChanges};
use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const MS: Duration = Duration::from_millis(1);

#[tokio::test]
async fn toxic_changes_mid_stream_lose_and_reorder_nothing() {
    let (server, client, listen) = start_proxy(3, "p", echo_server().await).await;
    let s = TcpStream::connect(listen).await.unwrap();
    let (mut r, mut w) = s.into_split();
    let data = pattern(2 << 20);
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        for chunk in sent.chunks(8 * 1024) {
            w.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        w
    });
    let changer = {
        let client = client.clone();
        tokio::spawn(async move {
            for round in 0..4 {
                toxic(
                    &client,
                    "p",
                    "latency",
                    "upstream",
                    json!({"latency": 20, "jitter": 10}),
                )
                .await;
                toxic(
                    &client,
                    "p",
                    "bandwidth",
                    "downstream",
                    json!({"rate": 4000}),
                )
                .await;
                toxic(
                    &client,
                    "p",
                    "slicer",
                    "downstream",
                    json!({"average_size": 512, "size_variation": 100}),
                )
                .await;
                tokio::time::sleep(40 * MS).await;
                let changes = ToxicChanges {
                    toxicity: None,
                    attributes: json!({"latency": 5 + round}),
                };
                client
                    .update_toxic("p", "latency_upstream", &changes)
                    .await
                    .unwrap();
                tokio::time::sleep(40 * MS).await;
                client.remove_toxic("p", "latency_upstream").await.unwrap();
                client.remove_toxic("p", "slicer_downstream").await.unwrap();
                tokio::time::sleep(20 * MS).await;
                client
                    .remove_toxic("p", "bandwidth_downstream")
                    .await
                    .unwrap();
            }
        })
    };
    let back = read_n(&mut r, data.len()).await;
    changer.await.unwrap();
    drop(writer.await.unwrap());
    assert!(
        back == data,
        "every byte back, in order, across toxic changes"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn removing_latency_releases_held_data_at_once() {
    let (server, client, listen) = start_proxy(1, "p", echo_server().await).await;
    toxic(
        &client,
        "p",
        "latency",
        "upstream",
        json!({"latency": 3000}),
    )
    .await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let start = Instant::now();
    s.write_all(b"held").await.unwrap();
    tokio::time::sleep(100 * MS).await;
    client.remove_toxic("p", "latency_upstream").await.unwrap();
    let back = read_n(&mut s, 4).await;
    assert_eq!(back, b"held");
    assert!(
        start.elapsed() < 2000 * MS,
        "released after {:?}",
        start.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_toxic_added_to_a_live_connection_applies_to_later_data() {
    let (server, client, listen) = start_proxy(1, "p", echo_server().await).await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    assert!(round_trip(&mut s, b"before").await < 100 * MS);
    toxic(
        &client,
        "p",
        "latency",
        "downstream",
        json!({"latency": 200}),
    )
    .await;
    assert!(round_trip(&mut s, b"after").await >= 200 * MS);
    server.shutdown().await;
}

#[tokio::test]
async fn disabling_cuts_connections_and_refuses_new_ones_until_enabled() {
    let (server, client, listen) = start_proxy(1, "p", echo_server().await).await;
    let mut live = TcpStream::connect(listen).await.unwrap();
    round_trip(&mut live, b"x").await;

    let off = ProxyChanges {
        enabled: Some(false),
        ..Default::default()
    };
    client.update_proxy("p", &off).await.unwrap();
    assert_eq!(read_once(&mut live).await, 0, "live connection is closed");
    assert!(
        TcpStream::connect(listen).await.is_err(),
        "new connections refused"
    );

    let on = ProxyChanges {
        enabled: Some(true),
        ..Default::default()
    };
    client.update_proxy("p", &on).await.unwrap();
    let mut again = TcpStream::connect(listen).await.unwrap();
    round_trip(&mut again, b"back").await;
    server.shutdown().await;
}

#[tokio::test]
async fn deleting_a_proxy_cuts_its_connections() {
    let (server, client, listen) = start_proxy(1, "p", echo_server().await).await;
    let mut live = TcpStream::connect(listen).await.unwrap();
    round_trip(&mut live, b"x").await;
    client.delete_proxy("p").await.unwrap();
    assert_eq!(read_once(&mut live).await, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn changing_the_upstream_moves_new_connections() {
    let (server, client, listen) = start_proxy(1, "p", echo_server().await).await;
    let other = source_server(5).await;
    let change = ProxyChanges {
        upstream: Some(other.to_string()),
        ..Default::default()
    };
    let p = client.update_proxy("p", &change).await.unwrap();
    assert_eq!(p.upstream, other.to_string());
    assert_eq!(p.listen, listen.to_string());
    let mut s = TcpStream::connect(listen).await.unwrap();
    let mut got = Vec::new();
    timeout(LIMIT, s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, pattern(5));
    server.shutdown().await;
}

#[tokio::test]
async fn unreachable_upstream_closes_the_client() {
    let (server, client) = start_api(1).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let listen = proxy(&client, "p", dead).await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    assert_eq!(read_once(&mut s).await, 0);
    server.shutdown().await;
}

/// An upstream that streams the repeating pattern without pause until the client goes away.
async fn endless_source() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                // 251 * 256 bytes: every chunk starts the pattern over.
                let chunk = pattern(251 * 256);
                while s.write_all(&chunk).await.is_ok() {}
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_toxic_added_while_data_keeps_flowing_takes_over_mid_stream() {
    // With no toxics the link is on its fast path, relaying chunk after chunk;
    // the source never pauses, so the new toxic has to take over between two
    // chunks of a busy stream.
    let (server, client, listen) = start_proxy(1, "p", endless_source().await).await;
    let mut s = TcpStream::connect(listen).await.unwrap();
    let first = read_n(&mut s, 4 << 20).await;
    let reader = tokio::spawn(async move {
        let mut rest = Vec::new();
        let read = timeout(LIMIT, s.read_to_end(&mut rest)).await;
        (read.is_ok(), rest)
    });
    toxic(
        &client,
        "p",
        "limit_data",
        "downstream",
        json!({"bytes": 100_000}),
    )
    .await;
    let (closed, rest) = reader.await.unwrap();
    assert!(closed, "limit_data closed the streaming connection");
    let got = [first, rest].concat();
    assert!(
        got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8),
        "what arrived is the stream's prefix: nothing lost or reordered at the switch"
    );
    server.shutdown().await;
}
