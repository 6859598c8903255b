//! The client over plain TCP (HTTP/1.1 and prior-knowledge HTTP/2) against loopback servers:
//! keep-alive, timings, bodies, redirects, errors.

mod support;

use brunt_http::{Client, ClientConfig, ErrorCode, HttpVersion, Proto, Request};
use http::Method;
use std::time::Duration;

fn client() -> Client {
    Client::new(ClientConfig::default()).unwrap()
}

fn get(url: &str) -> Request {
    Request::new(Method::GET, url).unwrap()
}

#[tokio::test]
async fn status_body_and_timings_that_sum_to_duration() {
    let addr = support::serve().await;
    let c = client();
    let r = c.send(&get(&format!("http://{addr}/"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "hello");
    assert_eq!(r.proto, Proto::Http11);
    assert!(r.error.is_none() && r.error_code.is_none());
    assert_eq!(r.remote, Some(addr));
    let t = r.timings;
    assert!((t.sending + t.waiting + t.receiving - t.duration).abs() < 1e-9);
    assert!(t.connecting > 0.0, "a new connection was opened: {t:?}");
    assert!(t.blocked >= t.connecting);
    assert!(r.bytes_sent > 30 && r.bytes_received > 40, "{r:?}");

    let r = c.send(&get(&format!("http://{addr}/status/404"))).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code, ErrorCode(1404));
    assert!(r.error.is_none());
}

#[tokio::test]
async fn keep_alive_reuses_the_connection() {
    let addr = support::serve().await;
    let c = client();
    let req = get(&format!("http://{addr}/"));
    let first = c.send(&req).await;
    assert!(first.timings.connecting > 0.0);
    for _ in 0..3 {
        let again = c.send(&req).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.timings.connecting, 0.0);
        assert_eq!(again.timings.tls_handshaking, 0.0);
    }
}

#[tokio::test]
async fn no_reuse_opens_a_connection_per_request() {
    let addr = support::serve().await;
    let c = Client::new(ClientConfig {
        reuse_connections: false,
        ..ClientConfig::default()
    })
    .unwrap();
    let req = get(&format!("http://{addr}/"));
    for _ in 0..2 {
        assert!(c.send(&req).await.timings.connecting > 0.0);
    }
}

#[tokio::test]
async fn bodies_are_sent_and_large_bodies_read_or_discarded() {
    let addr = support::serve().await;
    let c = client();
    let mut post = Request::new(Method::POST, &format!("http://{addr}/echo")).unwrap();
    post.set_body("ping pong");
    let r = c.send(&post).await;
    assert_eq!(r.body, "ping pong");
    // A body too large to ride with the head goes in its own write.
    post.set_body(vec![b'y'; 200_000]);
    let r = c.send(&post).await;
    assert_eq!((r.status, r.body.len()), (200, 200_000));
    assert!(r.bytes_sent > 200_000);

    let mut big = get(&format!("http://{addr}/big"));
    assert_eq!(c.send(&big).await.body.len(), 100_000);
    big.discard_body = true;
    let r = c.send(&big).await;
    assert!(r.body.is_empty());
    assert!(r.bytes_received >= 100_000, "bytes still counted");
}

#[tokio::test]
async fn server_closing_the_connection_is_survived() {
    let addr = support::serve().await;
    let c = client();
    // Connection: close from the server, then a fresh connection for the next request.
    let r = c.send(&get(&format!("http://{addr}/close"))).await;
    assert_eq!(r.status, 200);
    let r = c.send(&get(&format!("http://{addr}/"))).await;
    assert_eq!(r.status, 200);
    assert!(r.timings.connecting > 0.0);

    // A server that closes kept-alive connections after one response.
    let addr = support::serve_raw(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", true).await;
    let req = get(&format!("http://{addr}/"));
    for _ in 0..5 {
        let r = c.send(&req).await;
        assert_eq!((r.status, r.error.as_deref()), (200, None));
        assert_eq!(r.body, "ok");
    }
}

#[tokio::test]
async fn chunked_interim_and_close_delimited_bodies() {
    let c = client();
    let chunked = support::serve_raw(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n",
        false,
    )
    .await;
    let req = get(&format!("http://{chunked}/"));
    for i in 0..2 {
        let r = c.send(&req).await;
        assert_eq!(
            (r.status, &r.body[..]),
            (200, &b"hello, world"[..]),
            "{r:?}"
        );
        assert_eq!(
            r.timings.connecting == 0.0,
            i == 1,
            "kept alive after a chunked body"
        );
    }

    let http10 = support::serve_raw(b"HTTP/1.0 200 OK\r\n\r\nuntil close", true).await;
    let req = get(&format!("http://{http10}/"));
    for _ in 0..2 {
        let r = c.send(&req).await;
        assert_eq!((r.status, r.proto), (200, Proto::Http10));
        assert_eq!(r.body, "until close");
        assert!(
            r.timings.connecting > 0.0,
            "a close-delimited body ends the connection"
        );
    }

    let garbage = support::serve_raw(b"SMTP ready\r\n\r\n", false).await;
    let r = c.send(&get(&format!("http://{garbage}/"))).await;
    assert_eq!((r.status, r.error_code), (0, ErrorCode::GENERIC));
    assert!(r.error.unwrap().starts_with("malformed HTTP response"));
}

/// Headers are parsed into a map only when read, but a head is checked whole when it arrives:
/// what is read is every header in order, duplicates kept, and a bad header fails the request
/// though nothing reads the headers.
#[tokio::test]
async fn headers_read_late_are_all_there_and_bad_ones_fail_at_once() {
    let c = client();
    let addr = support::serve_raw(
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Dup: 1\r\ncontent-length: 2\r\nx-dup: 2\r\n\r\nok",
        false,
    )
    .await;
    let r = c.send(&get(&format!("http://{addr}/"))).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
    assert!(r.has_set_cookie());
    let names: Vec<_> = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("set-cookie", "a=1"),
            ("x-dup", "1"),
            ("x-dup", "2"),
            ("content-length", "2")
        ]
    );
    let addr = support::serve_raw(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false).await;
    assert!(!c
        .send(&get(&format!("http://{addr}/")))
        .await
        .has_set_cookie());

    // A name longer than `http` takes (64 KiB), the one header error httparse does not find.
    let mut long = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n".to_vec();
    long.extend(std::iter::repeat_n(b'n', 1 << 16));
    long.extend_from_slice(b": v\r\n\r\nok");
    let addr = support::serve_raw(long.leak(), false).await;
    let r = c.send(&get(&format!("http://{addr}/"))).await;
    assert_eq!((r.status, r.error_code), (0, ErrorCode::GENERIC));
    assert_eq!(
        r.error.as_deref(),
        Some("malformed HTTP response: header name")
    );
}

#[tokio::test]
async fn responses_in_many_reads_are_whole_and_counted_exactly() {
    let c = client();
    const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\nx-a: b\r\n\r\nhello, world";
    let dribbled = support::serve_raw_in_pieces(REPLY, false, 5).await;
    let mut req = get(&format!("http://{dribbled}/"));
    for discard in [false, true] {
        req.discard_body = discard;
        let r = c.send(&req).await;
        assert_eq!((r.status, r.error.as_deref()), (200, None));
        assert_eq!(r.headers()["x-a"], "b");
        assert_eq!(r.body, if discard { "" } else { "hello, world" });
        assert_eq!(r.bytes_received, REPLY.len() as u64, "data_received");
        assert!(r.timings.receiving > 0.0, "{:?}", r.timings);
        assert_eq!(r.timings.connecting == 0.0, discard, "kept alive");
    }

    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
        5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
    let chunked = support::serve_raw_in_pieces(CHUNKED, false, 3).await;
    let r = c.send(&get(&format!("http://{chunked}/"))).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"hello, world"[..]));
    assert_eq!(r.bytes_received, CHUNKED.len() as u64);

    // A head larger than any one read.
    let mut big = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 200_000));
    big.extend_from_slice(b"\r\n\r\nok");
    let big: &'static [u8] = big.leak();
    let addr = support::serve_raw(big, false).await;
    let r = c.send(&get(&format!("http://{addr}/"))).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
    assert_eq!(r.headers()["x-big"].len(), 200_000);
    assert_eq!(r.bytes_received, big.len() as u64);
}

/// `brunt quick`'s request, which keeps neither headers nor body: a response read whole in one
/// read is parsed where it landed, anything else as usual; either way the same status, byte
/// counts, keep-alive and redirects.
#[tokio::test]
async fn responses_kept_by_neither_headers_nor_body_read_every_way() {
    let c = client();
    let quick = |url: String| {
        let mut r = get(&url);
        (r.discard_headers, r.discard_body) = (true, true);
        r
    };
    const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: b\r\n\r\nhello";
    let whole = support::serve_raw(REPLY, false).await;
    let dribbled = support::serve_raw_in_pieces(REPLY, false, 7).await;
    for addr in [whole, dribbled] {
        let req = quick(format!("http://{addr}/"));
        for i in 0..3 {
            let r = c.send(&req).await;
            assert_eq!((r.status, r.error.as_deref()), (200, None), "{addr} {i}");
            assert!(r.body.is_empty() && r.headers().is_empty());
            assert_eq!(r.bytes_received, REPLY.len() as u64, "data_received");
            assert_eq!(
                r.timings.connecting == 0.0,
                i > 0,
                "kept alive: {:?}",
                r.timings
            );
        }
    }
    // An interim response before the final one, and bytes after the body (not reused).
    let interim = support::serve_raw(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        false,
    )
    .await;
    assert_eq!(
        c.send(&quick(format!("http://{interim}/"))).await.status,
        204
    );
    let junk =
        support::serve_raw(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokJUNK", false).await;
    for _ in 0..2 {
        let r = c.send(&quick(format!("http://{junk}/"))).await;
        assert_eq!(r.status, 200);
        assert!(r.timings.connecting > 0.0, "not reused: {:?}", r.timings);
    }
    // A close before any byte, and redirects (their Location is kept).
    let silent_close = support::serve_raw(b"", true).await;
    let r = c.send(&quick(format!("http://{silent_close}/"))).await;
    assert_eq!(r.status, 0);
    assert!(
        r.error.as_deref().unwrap_or_default().contains("EOF"),
        "{:?}",
        r.error
    );
    let addr = support::serve().await;
    let r = c.send(&quick(format!("http://{addr}/redirect/2"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(&*r.url, format!("http://{addr}/redirect/0"));
}

#[tokio::test]
async fn bytes_after_the_body_end_the_connection() {
    let c = client();
    let addr =
        support::serve_raw(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokJUNK", false).await;
    let req = get(&format!("http://{addr}/"));
    for _ in 0..2 {
        let r = c.send(&req).await;
        assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
        assert!(r.timings.connecting > 0.0, "not reused: {:?}", r.timings);
    }
}

#[tokio::test]
async fn head_responses_have_no_body() {
    let addr = support::serve().await;
    let c = client();
    let head = Request::new(Method::HEAD, &format!("http://{addr}/big")).unwrap();
    let r = c.send(&head).await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.headers().get("content-length").unwrap(), "100000");
    // The connection is still in step for the next request.
    let r = c.send(&get(&format!("http://{addr}/"))).await;
    assert_eq!((r.status, r.timings.connecting), (200, 0.0));
}

#[tokio::test]
async fn ipv6_loopback_urls_connect() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let r = client().send(&get(&format!("http://[::1]:{port}/"))).await;
    // Nothing listens any more: the dial itself must reach ::1 and be refused.
    assert_eq!(r.error_code, ErrorCode::DIAL_REFUSED, "{r:?}");
}

#[tokio::test]
async fn connection_refused_is_1212() {
    let addr = support::closed_port().await;
    let r = client().send(&get(&format!("http://{addr}/"))).await;
    assert_eq!(r.status, 0);
    assert_eq!(r.error_code, ErrorCode::DIAL_REFUSED);
    assert_eq!(r.error.as_deref(), Some("dial: connection refused"));
    assert_eq!(r.proto, Proto::None);
}

#[tokio::test]
async fn a_silent_server_times_out_with_1050() {
    let addr = support::serve_silent().await;
    let mut req = get(&format!("http://{addr}/"));
    req.timeout = Some(Duration::from_millis(200));
    let r = client().send(&req).await;
    assert_eq!(r.status, 0);
    assert_eq!(r.error_code, ErrorCode::REQUEST_TIMEOUT);
    assert_eq!(r.error.as_deref(), Some("request timeout"));
    // The request was written; waiting runs until the timeout, as in k6.
    assert!(r.timings.waiting > 0.0, "{:?}", r.timings);
}

#[tokio::test]
async fn a_slow_response_times_out_and_the_next_request_reconnects() {
    let addr = support::serve().await;
    let c = client();
    let mut slow = get(&format!("http://{addr}/slow"));
    slow.timeout = Some(Duration::from_millis(150));
    let r = c.send(&slow).await;
    assert_eq!(r.error_code, ErrorCode::REQUEST_TIMEOUT);
    let r = c.send(&get(&format!("http://{addr}/"))).await;
    assert_eq!(r.status, 200);
}

/// The client keeps one timer across requests, left at an earlier request's deadline until it
/// fires: each request must still time out at its own deadline, neither earlier (the last
/// request's, shorter) nor later (the last request's, longer).
#[tokio::test]
async fn each_request_times_out_at_its_own_deadline() {
    let addr = support::serve().await;
    let c = client();
    let mut quick = get(&format!("http://{addr}/"));
    quick.timeout = Some(Duration::from_millis(100));
    assert_eq!(c.send(&quick).await.status, 200);
    // The timer still points at the first request's deadline, 100 ms after it began.
    let mut slow = get(&format!("http://{addr}/slow"));
    slow.timeout = Some(Duration::from_millis(400));
    let r = c.send(&slow).await;
    assert_eq!(r.error_code, ErrorCode::REQUEST_TIMEOUT);
    assert!(r.elapsed >= Duration::from_millis(400), "{:?}", r.elapsed);
    // A request with the default (60 s) timeout, then a shorter one: the timer moves back.
    assert_eq!(c.send(&get(&format!("http://{addr}/"))).await.status, 200);
    slow.timeout = Some(Duration::from_millis(150));
    let r = c.send(&slow).await;
    assert_eq!(r.error_code, ErrorCode::REQUEST_TIMEOUT);
    assert!(r.elapsed < Duration::from_secs(4), "{:?}", r.elapsed);
}

#[tokio::test]
async fn a_connect_that_hangs_times_out_with_1211() {
    let (addr, _listener, fillers) = support::unaccepting().await;
    if fillers.len() == 4 {
        eprintln!("the kernel kept accepting: a hanging connect cannot be provoked here");
        return;
    }
    let c = Client::new(ClientConfig {
        timeout: Duration::from_millis(300),
        ..ClientConfig::default()
    })
    .unwrap();
    let r = c.send(&get(&format!("http://{addr}/"))).await;
    assert_eq!(r.status, 0);
    assert_eq!(r.error_code, ErrorCode::DIAL_TIMEOUT);
    assert_eq!(r.error.as_deref(), Some("dial: i/o timeout"));
}

#[tokio::test]
async fn unknown_hosts_and_bad_urls_get_k6_codes() {
    let r = client().send(&get("http://no-such-host.invalid/")).await;
    assert_eq!(r.status, 0);
    assert!(matches!(r.error_code.0, 1100 | 1101), "{r:?}");
    assert_eq!(
        Request::new(Method::GET, "http://").unwrap_err().code,
        ErrorCode::INVALID_URL
    );
}

#[tokio::test]
async fn redirects_are_followed_with_a_callback_per_hop() {
    let addr = support::serve().await;
    let c = client();
    let mut hops = Vec::new();
    let r = c
        .send_with(&get(&format!("http://{addr}/redirect/3")), |hop, _next| {
            hops.push((hop.status, hop.url.to_string()))
        })
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "done");
    assert_eq!(&*r.url, format!("http://{addr}/redirect/0"));
    assert_eq!(hops.len(), 3);
    assert_eq!(hops[0], (302, format!("http://{addr}/redirect/3")));

    // The next hop's request can be changed, e.g. with cookies the redirect set.
    let mut to_cookie = get(&format!("http://{addr}/redirect/1"));
    to_cookie.max_redirects = Some(1);
    let r = c
        .send_with(&to_cookie, |_, next| {
            *next = Request::new(Method::GET, &format!("http://{addr}/cookie")).unwrap();
            next.set_header("Cookie", "session=abc").unwrap();
        })
        .await;
    assert_eq!(r.body, "session=abc");

    // Past the limit the redirect itself comes back, as in k6.
    let mut req = get(&format!("http://{addr}/redirect/5"));
    req.max_redirects = Some(2);
    let r = c.send(&req).await;
    assert_eq!(r.status, 302);
    assert_eq!(&*r.url, format!("http://{addr}/redirect/3"));
}

#[tokio::test]
async fn http2_prior_knowledge() {
    let addr = support::serve().await;
    let c = Client::new(ClientConfig {
        http_version: HttpVersion::Http2,
        ..ClientConfig::default()
    })
    .unwrap();
    let req = get(&format!("http://{addr}/"));
    let first = c.send(&req).await;
    assert_eq!(
        (first.status, first.proto),
        (200, Proto::Http2),
        "{first:?}"
    );
    assert_eq!(first.body, "hello");
    assert!(first.timings.connecting > 0.0);
    let second = c.send(&req).await;
    assert_eq!(second.proto, Proto::Http2);
    assert_eq!(second.timings.connecting, 0.0, "one connection per host");
    let mut post = Request::new(Method::POST, &format!("http://{addr}/echo")).unwrap();
    post.set_body("over h2");
    assert_eq!(c.send(&post).await.body, "over h2");
}

#[tokio::test]
async fn http2_stream_resets_get_k6_16xx_codes() {
    let c = Client::new(ClientConfig {
        http_version: HttpVersion::Http2,
        ..ClientConfig::default()
    })
    .unwrap();
    let reset = support::serve_h2_refusing(h2::Reason::REFUSED_STREAM).await;
    let r = c.send(&get(&format!("http://{reset}/"))).await;
    assert_eq!(r.status, 0);
    assert_eq!(r.error_code, ErrorCode(1638), "{r:?}");
    assert_eq!(
        r.error.as_deref(),
        Some("http2: stream error with http2 ErrCode REFUSED_STREAM")
    );
}

#[tokio::test]
async fn concurrent_sends_share_one_client() {
    let addr = support::serve().await;
    let c = client();
    let req = get(&format!("http://{addr}/"));
    let (a, b, d) = tokio::join!(c.send(&req), c.send(&req), c.send(&req));
    assert!([a, b, d].iter().all(|r| r.status == 200));
}
