//! `k6 run` flags that change what a run does, each against a loopback server the test starts:
//! `--throw`, `--blacklist-ip`, `--block-hostnames`, `--rps`, `--min-iteration-duration`,
//! `--local-ips`, `--dns`; logging (`--log-output`, `--log-format`, `--console-output`,
//! `--verbose`); `--http-debug`; `--secret-source` and the redaction of secrets; k6's warnings; `exec.test.fail()` and `test.abort()` in the init context.

mod common;

use common::{brunt, brunt_cmd, fails_with, stderr};
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A listener that must never be connected to: the run's requests are blocked before any dial.
fn untouched_listener() -> TcpListener {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    l
}

fn assert_untouched(l: &TcpListener) {
    assert_eq!(
        l.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "a blocked request connected"
    );
}

/// One request to `URL`, logging its error code and text.
const ONE_REQUEST: &str = r#"
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () {
  const r = http.get(__ENV.URL);
  console.log(`got ${r.error_code} ${r.error}`);
}
"#;

#[test]
fn blacklisted_ranges_and_blocked_hostnames_fail_with_k6s_codes_without_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(dir.path(), "s.js", ONE_REQUEST);
    let s = s.to_str().unwrap();
    let l = untouched_listener();
    let port = l.local_addr().unwrap().port();
    let url = format!("URL=http://127.0.0.1:{port}/");
    let out = brunt(&[
        "run",
        "-q",
        "--blacklist-ip",
        "10.0.0.0/8,127.0.0.0/8",
        "-e",
        &url,
        s,
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("got 1110 ip is blacklisted"), "{err}");
    assert!(
        err.contains("IP (127.0.0.1) is in a blacklisted range (127.0.0.0/8)"),
        "the warning says which range: {err}"
    );
    let url = format!("URL=http://localhost:{port}/");
    let out = brunt_cmd()
        .args(["run", "-q", "-e", &url, s])
        .env("K6_BLOCK_HOSTNAMES", "*host")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(err.contains("got 1111 hostname is blocked"), "{err}");
    assert!(
        err.contains("hostname (localhost) is in a blocked pattern (*host)"),
        "{err}"
    );
    assert_untouched(&l);
    fails_with(
        &["run", "--blacklist-ip", "127.0.0.0/33", s],
        104,
        "--blacklist-ip: '127.0.0.0/33' is not an IP range",
    );
    fails_with(
        &["run", "--block-hostnames", "a.*.com", s],
        104,
        "--block-hostnames: 'a.*.com' is not a host name pattern",
    );
    let opts = write(
        dir.path(),
        "o.js",
        "export const options = { blacklistIPs: 'x' };\nexport default function () {}\n",
    );
    fails_with(
        &["run", opts.to_str().unwrap()],
        104,
        "blacklistIPs: 'x' is not an IP range",
    );
}

#[test]
fn throw_makes_a_failed_request_throw_its_error_instead_of_warning() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "s.js",
        r#"
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () {
  try {
    const r = http.get(__ENV.URL);
    console.log(`returned ${r.error_code}`);
  } catch (e) {
    console.log(`threw ${e.message}`);
  }
}
"#,
    );
    let s = s.to_str().unwrap();
    let url = {
        let l = untouched_listener();
        format!("URL=http://127.0.0.1:{}/", l.local_addr().unwrap().port())
    };
    let out = brunt(&["run", "-q", "--throw", "-e", &url, s]);
    let err = stderr(&out);
    assert!(err.contains(r#"threw Get \"http://127.0.0.1:"#), "{err}");
    assert!(
        !err.contains("Request Failed"),
        "throw replaces the warning: {err}"
    );
    let out = brunt(&["run", "-q", "-e", &url, s]);
    let err = stderr(&out);
    assert!(err.contains("returned 1212"), "without --throw: {err}");
    assert!(err.contains("Request Failed"), "{err}");
    let out = brunt_cmd()
        .args(["run", "-q", "-e", &url, s])
        .env("K6_THROW", "true")
        .output()
        .unwrap();
    assert!(stderr(&out).contains("threw Get"), "{}", stderr(&out));
}

/// The messages of the `--log-format json` lines in `stderr` whose `source` is `source`.
fn json_log_messages(stderr: &str, source: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["source"] == source)
        .map(|v| v["msg"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn http_debug_logs_the_request_as_sent_and_the_response_and_takes_its_level_after_an_equals_sign() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("URL=http://{}/anything?q=1", target.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "s.js",
        "import http from 'k6/http';\nexport default function () { http.post(__ENV.URL, 'the-body', { headers: { 'x-script': 'yes' } }); }\n",
    );
    let s = s.to_str().unwrap();
    // The two messages of the one request, from JSON log lines with k6's `source=http-debug`.
    let messages = |args: &[&str]| -> (String, String) {
        let out = brunt(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let msgs = json_log_messages(&err, "http-debug");
        assert_eq!(msgs.len(), 2, "a request and a response line: {err}");
        (msgs[0].clone(), msgs[1].clone())
    };
    // As in k6, `--http-debug` takes no value after a space: the script after it is the script.
    let (request, response) = messages(&[
        "run",
        "-q",
        "--log-format",
        "json",
        "--http-debug",
        s,
        "-i",
        "1",
        "-e",
        &url,
    ]);
    let host = format!("Host: {}\n", target.local_addr());
    for line in [
        "Request:\nPOST /anything?q=1 HTTP/1.1\n",
        host.as_str(),
        "User-Agent: brunt/",
        "X-Script: yes\n",
        "Content-Length: 8\n",
    ] {
        assert!(request.contains(line), "no {line:?} in:\n{request}");
    }
    assert!(
        response.starts_with("Response:\nHTTP/1.1 200 OK\n"),
        "{response}"
    );
    assert!(
        response.contains("Content-Type: application/json\n"),
        "{response}"
    );
    assert!(
        !request.contains("the-body"),
        "bodies only with full: {request}"
    );
    let (request, response) = messages(&[
        "run",
        "-q",
        "--log-format",
        "json",
        "--http-debug=full",
        "-i",
        "1",
        "-e",
        &url,
        s,
    ]);
    assert!(
        request.ends_with("Content-Length: 8\n\nthe-body\n"),
        "{request}"
    );
    assert!(response.contains("\"data\": \"the-body\""), "{response}");
}

/// `console.log`'s arguments as k6 prints them: strings as they are, values as JSON, and what
/// JSON cannot write (a BigInt, a Symbol) as k6 writes it; an Error by its message.
#[test]
fn console_prints_values_as_k6_does() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "s.js",
        r#"export default function () {
  console.log('text', 1, true, null, undefined, { a: [1, 'b'] });
  console.log(12345678901234567890n);
  console.log(Symbol('described'));
  console.log(new Error('boom'));
}
"#,
    );
    let out = brunt(&[
        "run",
        "-q",
        "--address",
        "",
        "--log-format",
        "json",
        "-i",
        "1",
        s.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let msgs = json_log_messages(&err, "console");
    assert_eq!(
        msgs,
        [
            r#"text 1 true null undefined {"a":[1,"b"]}"#,
            "12345678901234567890",
            "described",
            "Error: boom",
        ],
        "{err}"
    );
}

fn export(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn rps_caps_requests_across_vus_and_min_iteration_duration_pads_iterations() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("URL=http://{}/get", target.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "s.js",
        "import http from 'k6/http';\nexport default function () { http.get(__ENV.URL); }\n",
    );
    let s = s.to_str().unwrap();
    let sum = dir.path().join("sum.json");
    // Four VUs that would send thousands of requests in a second send at most 10 in it (+1 at
    // t=0), and each VU's iteration waiting for its turn at the end finishes in gracefulStop.
    let out = brunt(&[
        "run",
        "-q",
        "--vus",
        "4",
        "--duration",
        "1s",
        "--rps",
        "10",
        "-e",
        &url,
        "--summary-export",
        sum.to_str().unwrap(),
        s,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reqs = export(&sum)["metrics"]["http_reqs"]["count"]
        .as_f64()
        .unwrap();
    assert!((1.0..=15.0).contains(&reqs), "--rps 10 for 1s sent {reqs}");
    fails_with(
        &["run", "--rps", "ten", s],
        104,
        "--rps: 'ten' is not a whole number",
    );

    // One VU for 1 s with iterations padded to 300 ms starts at most 4 (k6 does not count
    // the padding in iteration_duration, so the count is what shows it).
    let out = brunt(&[
        "run",
        "-q",
        "--vus",
        "1",
        "--duration",
        "1s",
        "--min-iteration-duration",
        "300ms",
        "-e",
        &url,
        "--summary-export",
        sum.to_str().unwrap(),
        s,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let n = export(&sum)["metrics"]["iterations"]["count"]
        .as_f64()
        .unwrap();
    assert!(
        (1.0..=4.0).contains(&n),
        "iterations padded to 300 ms in 1 s: {n}"
    );
    fails_with(
        &["run", "--min-iteration-duration", "soon", s],
        104,
        "--min-iteration-duration",
    );
}

/// Logs a line at each console level and marks the test failed with a reason.
const LOGS: &str = r#"
import exec from 'k6/execution';
export const options = { iterations: 1 };
export default function () {
  console.debug('a debug line');
  console.log('a log line', { n: 1 });
  console.error('an error line');
  exec.test.fail('bad data');
  console.log('still running');
}
"#;

#[test]
fn logs_go_where_and_as_log_output_and_log_format_say() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(dir.path(), "s.js", LOGS);
    let s = s.to_str().unwrap();

    let out = brunt(&["run", "-q", "--no-summary", s]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(110), "test.fail() exits 110: {err}");
    assert!(
        err.contains(r#"level=info msg="a log line {\"n\":1}" source=console"#),
        "logfmt off a terminal, as k6: {err}"
    );
    assert!(
        !err.contains("a debug line"),
        "console.debug needs -v: {err}"
    );
    assert!(
        err.contains(r#"level=error msg="test marked as failed: bad data""#),
        "{err}"
    );
    assert!(err.contains("still running"), "the run goes on: {err}");
    assert!(
        err.contains(r#"msg="test run was marked as failed""#),
        "{err}"
    );

    let out = brunt(&["run", "-q", "--no-summary", "-v", "--log-format", "raw", s]);
    let err = stderr(&out);
    assert!(
        err.contains("\na debug line\n"),
        "-v shows debug, raw is the message: {err}"
    );
    assert!(err.contains("\nstill running\n"), "{err}");

    let out = brunt(&["run", "-q", "--no-summary", "--log-format", "json", s]);
    // The script's lines (a warning that k6's REST API port is taken by a parallel run may come
    // first, as with k6).
    let lines: Vec<Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .skip_while(|l| l["source"] != "console")
        .collect();
    assert_eq!(lines[0]["msg"], "a log line {\"n\":1}");
    assert_eq!(lines[0]["source"], "console");
    assert_eq!(lines[1]["level"], "error");
    assert!(lines[0]["time"].is_string());

    let out = brunt(&["run", "-q", "--no-summary", "--log-output", "stdout", s]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("a log line"));
    let out = brunt(&["run", "-q", "--no-summary", "--log-output", "none", s]);
    assert_eq!(out.status.code(), Some(110));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));

    let file = dir.path().join("run.log");
    let spec = format!("file={},level=error", file.display());
    let out = brunt(&["run", "-q", "--no-summary", "--log-output", &spec, s]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let logged = std::fs::read_to_string(&file).unwrap();
    assert!(logged.contains("an error line"), "{logged}");
    assert!(
        !logged.contains("a log line"),
        "level=error drops info: {logged}"
    );

    let console = dir.path().join("console.log");
    let out = brunt_cmd()
        .args(["run", "-q", "--no-summary", s])
        .env("K6_CONSOLE_OUTPUT", &console)
        .output()
        .unwrap();
    let err = stderr(&out);
    let printed = std::fs::read_to_string(&console).unwrap();
    assert!(
        printed.contains(r#"msg="a log line {\"n\":1}""#),
        "{printed}"
    );
    assert!(
        !printed.contains("source=console"),
        "k6 writes no source there: {printed}"
    );
    assert!(
        !err.contains("a log line"),
        "console lines left the logs: {err}"
    );
    assert!(
        err.contains("test marked as failed"),
        "other logs stay: {err}"
    );

    fails_with(
        &["run", "--log-output", "loki=http://x", s],
        104,
        "does not push logs to Loki",
    );
    fails_with(
        &["run", "--log-output", "syslog", s],
        104,
        "--log-output: unsupported log output 'syslog'",
    );
    fails_with(
        &["run", "--log-format", "xml", s],
        104,
        "--log-format: 'xml' is not a log format",
    );
    fails_with(
        &["run", "--console-output", "/nonexistent/dir/c.log", s],
        104,
        "--console-output /nonexistent/dir/c.log",
    );
}

#[test]
fn k6s_warnings_and_exit_codes_for_vus_thresholds_fail_and_abort() {
    let dir = tempfile::tempdir().unwrap();
    // Two VUs for 20 iterations a second that each take 300 ms: k6 warns once.
    let s = write(
        dir.path(),
        "rate.js",
        r#"
import { sleep } from 'k6';
export const options = {
  scenarios: { a: { executor: 'constant-arrival-rate', rate: 20, timeUnit: '1s', duration: '1s',
                    preAllocatedVUs: 1, maxVUs: 2 } },
  thresholds: { iterations: ['count<0'] },
};
export default function () { sleep(0.3); }
"#,
    );
    let out = brunt(&["run", "-q", "--no-summary", s.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(99), "{err}");
    assert_eq!(
        err.matches(r#"msg="Insufficient VUs, reached 2 active VUs and cannot initialize more" executor=constant-arrival-rate scenario=a"#).count(),
        1,
        "{err}"
    );
    assert!(
        err.contains(r#"msg="thresholds on metrics 'iterations' have been crossed""#),
        "{err}"
    );

    let s = write(
        dir.path(),
        "abort.js",
        "import exec from 'k6/execution';\nexec.test.abort('no data');\nexport default function () {}\n",
    );
    let out = brunt(&["run", "-q", s.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(108), "{err}");
    assert!(
        err.contains("could not initialize '") && err.contains("test aborted: no data"),
        "{err}"
    );

    let s = write(
        dir.path(),
        "fail.js",
        "import exec from 'k6/execution';\nexport const options = { iterations: 1, thresholds: { iterations: ['count<0'] } };\nexport default function () { exec.test.fail(); }\n",
    );
    let out = brunt(&["run", "-q", "--no-summary", s.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(110),
        "110 beats 99, as in k6: {err}"
    );
    assert!(err.contains(r#"msg="test marked as failed""#), "{err}");
}

#[test]
fn local_ips_give_each_vu_its_source_address_round_robin() {
    use std::io::{Read, Write};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("URL=http://{}/", l.local_addr().unwrap());
    // Four VUs, one request each: the server answers and records who connected.
    let server = std::thread::spawn(move || {
        let mut peers = Vec::new();
        for _ in 0..4 {
            let (mut c, peer) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            peers.push(peer.ip().to_string());
        }
        peers.sort();
        peers
    });
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "s.js",
        r#"
import http from 'k6/http';
export const options = { scenarios: { a: { executor: 'per-vu-iterations', vus: 4, iterations: 1 } } };
export default function () { http.get(__ENV.URL); }
"#,
    );
    let s = s.to_str().unwrap();
    let out = brunt(&[
        "run",
        "-q",
        "--local-ips",
        "127.0.0.2-127.0.0.3,127.0.0.9/32",
        "-e",
        &url,
        s,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        server.join().unwrap(),
        ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.9"],
        "VU n takes the pool's address n-1, wrapping"
    );
    fails_with(
        &["run", "--local-ips", "127.0.0.9-127.0.0.1", s],
        104,
        "--local-ips: '127.0.0.9-127.0.0.1'",
    );
}

#[test]
fn dns_policy_decides_which_family_localhost_connects_over() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("URL=http://localhost:{}/get", target.local_addr().port());
    let dir = tempfile::tempdir().unwrap();
    let s = write(dir.path(), "s.js", ONE_REQUEST);
    let s = s.to_str().unwrap();
    let out = brunt(&[
        "run",
        "-q",
        "--dns",
        "ttl=0,select=first,policy=onlyIPv4",
        "-e",
        &url,
        s,
    ]);
    assert!(stderr(&out).contains("got 0 "), "{}", stderr(&out));
    // The target listens on IPv4 only: without IPv4 answers localhost is unreachable.
    let out = brunt_cmd()
        .args(["run", "-q", "-e", &url, s])
        .env("K6_DNS", "policy=onlyIPv6")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!err.contains("got 0 "), "{err}");
    assert!(err.contains("Request Failed"), "{err}");
    let opts = write(
        dir.path(),
        "o.js",
        "export const options = { dns: { select: 'sometimes' } };\nexport default function () {}\n",
    );
    fails_with(
        &["run", opts.to_str().unwrap()],
        104,
        "dns: select 'sometimes'",
    );
    fails_with(
        &["run", "--dns", "ttl=soon", s],
        104,
        "--dns: invalid DNS TTL 'soon'",
    );
    fails_with(
        &["run", "--dns", "cache=1", s],
        104,
        "--dns: unknown DNS setting 'cache'",
    );
}

/// Logs a secret in the message, in a field's worth of JSON and in an exception.
const SECRETS: &str = r#"
import secrets from 'k6/secrets';
export const options = { iterations: 1 };
export default async function () {
  const token = await secrets.get('token');
  console.log(`token is ${token}`, { t: token });
  console.log(await secrets.source('other').get('token'));
  throw new Error(`failed with ${token}`);
}
"#;

#[test]
fn secrets_come_from_their_sources_and_are_redacted_from_every_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(dir.path(), "s.js", SECRETS);
    let s = s.to_str().unwrap();
    let file = write(dir.path(), "secrets.env", "token=hunter2\n");
    let file_spec = format!("file=default,filename={}", file.display());
    let out = brunt(&[
        "run",
        "-q",
        "--no-summary",
        "--secret-source",
        &file_spec,
        "--secret-source",
        "mock=name=other,token=swordfish",
        s,
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(r#"msg="token is ***SECRET_REDACTED*** {\"t\":\"***SECRET_REDACTED***\"}""#),
        "{err}"
    );
    assert!(err.contains("failed with ***SECRET_REDACTED***"), "{err}");
    assert!(
        !err.contains("hunter2") && !err.contains("swordfish"),
        "{err}"
    );

    // K6_SECRET_SOURCE is one source, replaced by the flag when both are given.
    let out = brunt_cmd()
        .args(["run", "-q", "--no-summary", "--log-format", "json", s])
        .env("K6_SECRET_SOURCE", "mock=token=from-env")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains(r#""msg":"token is ***SECRET_REDACTED***"#),
        "{err}"
    );
    assert!(!err.contains("from-env"), "{err}");
    assert!(
        err.contains("no secret source with name") && err.contains("other"),
        "{err}"
    );

    // brunt's env source: variables with the prefix, keyed without it, redacted like the rest.
    let out = brunt_cmd()
        .args([
            "run",
            "-q",
            "--no-summary",
            "--secret-source",
            "env=prefix=CI_SECRET_",
            s,
        ])
        .env("CI_SECRET_token", "from-ci")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(err.contains("token is ***SECRET_REDACTED***"), "{err}");
    assert!(!err.contains("from-ci"), "{err}");

    fails_with(
        &["run", "--secret-source", "file=missing.env", s],
        104,
        "--secret-source: secret source file missing.env:",
    );
    fails_with(
        &["run", "--secret-source", "vault=addr=x", s],
        104,
        r#"no secret source for type \"vault\""#,
    );
    let out = brunt_cmd()
        .args(["run", s])
        .env("K6_SECRET_SOURCE", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(104));
    assert!(
        stderr(&out).contains("couldn't parse secret source configuration"),
        "{}",
        stderr(&out)
    );
}
