//! The client over TLS against a self-signed loopback server.

mod support;

use brunt_http::{Client, ClientConfig, ErrorCode, HttpVersion, Proto, Request};
use http::Method;

fn client(http_version: HttpVersion, insecure: bool) -> Client {
    Client::new(ClientConfig {
        http_version,
        insecure_skip_verify: insecure,
        ..ClientConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn insecure_skip_verify_accepts_a_self_signed_certificate() {
    let addr = support::serve_tls().await;
    let c = client(HttpVersion::Http1, true);
    let req = Request::new(Method::GET, &format!("https://localhost:{}/", addr.port())).unwrap();
    let r = c.send(&req).await;
    assert_eq!((r.status, r.proto), (200, Proto::Http11), "{r:?}");
    assert_eq!(r.body, "hello");
    assert_eq!(r.tls_version, Some("tls1.3"));
    assert!(r.timings.tls_handshaking > 0.0);
    assert!(r.timings.blocked >= r.timings.connecting + r.timings.tls_handshaking);
    // Wire bytes: the handshake and record overhead are counted too.
    assert!(r.bytes_received > 500, "{}", r.bytes_received);
    let again = c.send(&req).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.timings.tls_handshaking, 0.0);
    assert_eq!(again.timings.connecting, 0.0);
}

#[tokio::test]
async fn https_negotiates_http2_by_alpn_by_default() {
    let addr = support::serve_tls().await;
    let c = client(HttpVersion::Auto, true);
    let req = Request::new(Method::GET, &format!("https://127.0.0.1:{}/", addr.port())).unwrap();
    let r = c.send(&req).await;
    assert_eq!((r.status, r.proto), (200, Proto::Http2), "{r:?}");
    assert_eq!(r.body, "hello");
    let again = c.send(&req).await;
    assert_eq!((again.status, again.timings.tls_handshaking), (200, 0.0));
}

#[tokio::test]
async fn an_untrusted_certificate_is_1310() {
    let addr = support::serve_tls().await;
    let req = Request::new(Method::GET, &format!("https://localhost:{}/", addr.port())).unwrap();
    let r = client(HttpVersion::Auto, false).send(&req).await;
    assert_eq!(r.status, 0);
    assert_eq!(r.error_code, ErrorCode::X509_UNKNOWN_AUTHORITY, "{r:?}");
    assert_eq!(r.error.as_deref(), Some("x509: unknown authority"));
}

/// `openssl req -x509` makes CA certificates: the error says so in words, with k6's code for the
/// same server (Go reports an unknown authority).
#[tokio::test]
async fn a_self_signed_ca_certificate_is_named_as_such() {
    let addr = support::serve_tls_with(|p| {
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    })
    .await;
    let req = Request::new(Method::GET, &format!("https://localhost:{}/", addr.port())).unwrap();
    let r = client(HttpVersion::Auto, false).send(&req).await;
    assert_eq!(r.error_code, ErrorCode::X509_UNKNOWN_AUTHORITY, "{r:?}");
    assert_eq!(
        r.error.as_deref(),
        Some("x509: certificate is a CA certificate, not a server certificate")
    );
}

#[tokio::test]
async fn an_expired_certificate_says_so() {
    let addr = support::serve_tls_with(|p| {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    })
    .await;
    let req = Request::new(Method::GET, &format!("https://localhost:{}/", addr.port())).unwrap();
    let r = client(HttpVersion::Auto, false).send(&req).await;
    assert_eq!(r.error_code, ErrorCode::TLS, "{r:?}");
    assert_eq!(r.error.as_deref(), Some("x509: certificate has expired"));
}

#[tokio::test]
async fn plain_http_on_an_https_url_is_a_tls_error() {
    let addr = support::serve().await;
    let req = Request::new(Method::GET, &format!("https://127.0.0.1:{}/", addr.port())).unwrap();
    let r = client(HttpVersion::Auto, true).send(&req).await;
    assert_eq!(r.status, 0);
    assert_eq!(r.error_code, ErrorCode::TLS_HEADER, "{r:?}");
    assert_eq!(
        r.error.as_deref(),
        Some("tls: first record does not look like a TLS handshake")
    );
}
