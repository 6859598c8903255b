//! Failures that say why: the summary's error breakdown and TLS hint for `brunt quick` and
//! `brunt run`, k6's `Request Failed` warning, and `test.abort()`'s message.

mod common;

use common::{brunt, fails_with, stderr};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Serves each connection on its own thread with `handle`, for the life of the test process.
fn serve(handle: impl Fn(std::net::TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let handle = handle.clone();
            std::thread::spawn(move || handle(tcp));
        }
    });
    addr
}

/// A server that answers every request with bytes that are not HTTP.
fn serve_garbage() -> SocketAddr {
    serve(|mut tcp| {
        let mut buf = [0u8; 4096];
        while matches!(tcp.read(&mut buf), Ok(n) if n > 0) {
            let _ = tcp.write_all(b"garbage garbage\r\n\r\n");
        }
    })
}

/// A TLS server with a self-signed CA certificate for `localhost`, as `openssl req -x509` makes.
fn serve_self_signed_ca() -> SocketAddr {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key_pair).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .unwrap();
    let config = Arc::new(config);
    serve(move |mut tcp| {
        let mut tls = rustls::ServerConnection::new(config.clone()).unwrap();
        // The client rejects the certificate: the handshake is all that happens.
        while tls.is_handshaking() && tls.complete_io(&mut tcp).is_ok() {}
    })
}

fn script(dir: &Path, body: &str) -> String {
    let path = dir.join("script.js");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn quick_names_an_untrusted_certificate_and_hints_the_flag() {
    let addr = serve_self_signed_ca();
    let url = format!("https://localhost:{}/", addr.port());
    let out = brunt(&["quick", &url, "--vus", "1", "--iterations", "4", "-q"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(text.contains("request errors (4):"), "{text}");
    assert!(
        text.contains("4 × 1310 x509: certificate is a CA certificate, not a server certificate"),
        "{text}"
    );
    assert!(text.contains("--insecure-skip-tls-verify"), "{text}");
}

#[test]
fn quick_names_a_response_that_is_not_http() {
    let addr = serve_garbage();
    let url = format!("http://{addr}/");
    let out = brunt(&["quick", &url, "--vus", "2", "--iterations", "6", "-q"]);
    let text = stdout(&out);
    assert!(text.contains("request errors (6):"), "{text}");
    assert!(text.contains("6 × 1000 malformed HTTP response"), "{text}");
    assert!(!text.contains("hint:"), "{text}");
}

#[test]
fn a_script_warns_of_failed_requests_as_k6_but_not_of_every_one() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there.
    let js = script(
        dir.path(),
        "import http from 'k6/http';\n\
         export const options = { vus: 1, iterations: 200 };\n\
         export default function () { http.get('http://127.0.0.1:1/'); }\n",
    );
    let out = brunt(&["run", "-q", &js]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let warnings = err.lines().filter(|l| l.contains("Request Failed")).count();
    assert!((1..200).contains(&warnings), "{warnings} warnings:\n{err}");
    assert!(
        err.contains(r#"level=warning msg="Request Failed" error="Get \"http://127.0.0.1:1/\": dial: connection refused""#),
        "{err}"
    );
    assert!(
        stdout(&out).contains("200 × 1212 dial: connection refused"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn test_abort_logs_its_reason_and_where_it_was_called() {
    let dir = tempfile::tempdir().unwrap();
    let js = script(
        dir.path(),
        "import exec from 'k6/execution';\n\
         export const options = { vus: 1, iterations: 5 };\n\
         export default function () { exec.test.abort('enough'); }\n",
    );
    let out = brunt(&["run", "-q", &js]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(108), "{err}");
    assert!(err.contains("test aborted: enough at default ("), "{err}");
    assert_eq!(err.matches("test aborted").count(), 1, "{err}");
}

#[test]
fn test_abort_in_setup_exits_108_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let js = script(
        dir.path(),
        "import exec from 'k6/execution';\n\
         export function setup() { exec.test.abort('no data'); }\n\
         export default function () {}\n",
    );
    let out = brunt(&["run", "-q", &js]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(108), "{err}");
    assert!(err.contains("test aborted: no data at setup ("), "{err}");
}

/// Runs `brunt` with `args`; it must exit with `code` and say `needle` on stderr exactly once
/// (no message repeated by its context) and no `Error: Error:`.
fn fails_once_with(args: &[&str], code: i32, needle: &str) {
    let err = stderr(&fails_with(args, code, needle));
    assert_eq!(err.matches(needle).count(), 1, "{args:?}: {err}");
    assert!(!err.contains("Error: Error:"), "{args:?}: {err}");
}

#[test]
fn error_messages_say_each_thing_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().unwrap();
    fails_once_with(&["report", missing], 1, "No such file or directory");
    let js = script(
        dir.path(),
        "import x from './nope.js';\nexport default function () {}\n",
    );
    fails_once_with(&["run", "-q", &js], 107, "cannot read module");
    let js = script(dir.path(), "export default function () {}\n");
    let out = format!("json={}/no/such/dir/out.json", dir.path().display());
    fails_once_with(
        &["run", "-q", "-o", &out, &js],
        104,
        "No such file or directory",
    );
    let url = format!("http://{}/", serve_garbage());
    fails_once_with(
        &["quick", &url, "--threshold", "http_req_duration{a: p(95)<1"],
        1,
        "unmatched",
    );
}

#[test]
fn a_gate_on_an_unknown_stat_is_an_error_that_lists_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.json");
    std::fs::write(
        &export,
        r#"{"metrics": {"http_req_duration": {"avg": 1, "p(95)": 2}}}"#,
    )
    .unwrap();
    let export = export.to_str().unwrap();
    let gate = |g: &str| ["compare", export, export, "--max-regression", g].map(String::from);
    let args = gate("http_req_duration p95=10%");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = stderr(&fails_with(&args, 1, "unknown stat 'p95'"));
    assert!(err.contains("p(N)") && err.contains("avg"), "{err}");
    let args = gate("http_req_duration max=10%");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = stderr(&fails_with(&args, 1, "has no stat 'max'"));
    assert!(err.contains("avg, p(95)"), "{err}");
}
