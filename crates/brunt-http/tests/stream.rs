//! Streaming bodies: pieces handed over as they arrive, with their arrival stamps, over HTTP/1.1
//! (chunked, Content-Length, close-delimited) and HTTP/2; a cut stream is a failure.

mod support;

use brunt_http::{BodySink, Client, ClientConfig, HttpVersion, Request, SseParser};
use http::{HeaderMap, Method};
use std::ops::ControlFlow;
use std::time::Instant;

#[derive(Default)]
struct Collect {
    status: u16,
    pieces: Vec<(Instant, Vec<u8>)>,
    stop_after: Option<usize>,
}

impl BodySink for Collect {
    fn head(&mut self, status: u16, _: &HeaderMap) {
        self.status = status;
    }
    fn data(&mut self, at: Instant, bytes: &[u8]) -> ControlFlow<()> {
        self.pieces.push((at, bytes.to_vec()));
        match self.stop_after {
            Some(n) if self.pieces.len() >= n => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        }
    }
}

impl Collect {
    fn body(&self) -> Vec<u8> {
        self.pieces.iter().flat_map(|(_, b)| b.clone()).collect()
    }
}

fn get(url: String) -> Request {
    Request::new(Method::GET, &url).unwrap()
}

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
10\r\ndata: {\"n\": 1}\n\n\r\n10\r\ndata: {\"n\": 2}\n\n\r\n0\r\n\r\n";

#[tokio::test]
async fn chunked_bodies_arrive_in_stamped_pieces_and_the_connection_is_reused() {
    let addr = support::serve_raw_in_pieces(CHUNKED, false, 20).await;
    let c = Client::new(ClientConfig::default()).unwrap();
    let started = Instant::now();
    let mut sink = Collect::default();
    let r = c
        .send_streaming(&get(format!("http://{addr}/")), &mut sink)
        .await;
    assert_eq!((r.status, sink.status), (200, 200), "{:?}", r.error);
    assert!(r.body.is_empty());
    assert_eq!(
        sink.body(),
        b"data: {\"n\": 1}\n\ndata: {\"n\": 2}\n\n".to_vec()
    );
    assert!(sink.pieces.len() >= 2, "{} pieces", sink.pieces.len());
    assert!(sink.pieces.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(sink.pieces[0].0 >= started);

    let mut events = Vec::new();
    let mut parser = SseParser::new();
    for (_, piece) in &sink.pieces {
        let _ = parser.feed(piece, |e| {
            events.push(e.data);
            ControlFlow::Continue(())
        });
    }
    assert_eq!(events, ["{\"n\": 1}", "{\"n\": 2}"]);

    let mut again = Collect::default();
    let r = c
        .send_streaming(&get(format!("http://{addr}/")), &mut again)
        .await;
    assert_eq!(r.timings.connecting, 0.0, "the connection was kept");
    assert_eq!(again.body(), sink.body());
}

#[tokio::test]
async fn close_delimited_and_sized_bodies_stream_too() {
    let close =
        support::serve_raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabcdef", true).await;
    let sized = support::serve_raw_in_pieces(
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef",
        false,
        40,
    )
    .await;
    let c = Client::new(ClientConfig::default()).unwrap();
    for addr in [close, sized] {
        let mut sink = Collect::default();
        let r = c
            .send_streaming(&get(format!("http://{addr}/")), &mut sink)
            .await;
        assert_eq!(r.status, 200, "{:?}", r.error);
        assert_eq!(sink.body(), b"abcdef");
    }
}

#[tokio::test]
async fn a_stream_cut_mid_chunk_is_a_failure_after_its_start() {
    let addr = support::serve_raw(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\ndata: {\"n\"",
        true,
    )
    .await;
    let c = Client::new(ClientConfig::default()).unwrap();
    let mut sink = Collect::default();
    let r = c
        .send_streaming(&get(format!("http://{addr}/")), &mut sink)
        .await;
    assert_eq!(r.status, 0);
    assert_eq!(r.error.as_deref(), Some("unexpected EOF"));
    assert_eq!(sink.status, 200);
    assert_eq!(sink.body(), b"data: {\"n\"");
}

#[tokio::test]
async fn a_sink_may_stop_early_and_http2_streams_frames() {
    let addr = support::serve().await;
    let c = Client::new(ClientConfig {
        http_version: HttpVersion::Http2,
        ..ClientConfig::default()
    })
    .unwrap();
    let mut sink = Collect::default();
    let r = c
        .send_streaming(&get(format!("http://{addr}/big")), &mut sink)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.error);
    assert_eq!(sink.body().len(), 100_000);

    let mut sink = Collect {
        stop_after: Some(1),
        ..Collect::default()
    };
    let r = c
        .send_streaming(&get(format!("http://{addr}/big")), &mut sink)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(sink.pieces.len(), 1);
}
