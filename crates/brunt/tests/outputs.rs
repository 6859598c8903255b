//! No lost output: every path a run writes is checked before its first request, and a write that
//! fails during or at the end of the run (a full disk: `/dev/full`) is said, naming the file, and
//! fails the exit code (74) while the other outputs are still written.

mod common;

use common::{brunt, brunt_cmd, fails_with, stderr};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const OUTPUT_FAILED: i32 = 74;

/// An HTTP server that answers every request with an empty 200 and counts the requests.
fn counting_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let count = counted.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(tcp.try_clone().unwrap());
                let mut tcp = tcp;
                let mut line = String::new();
                while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                    if line == "\r\n" {
                        count.fetch_add(1, Ordering::SeqCst);
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if tcp.write_all(ok).is_err() {
                            return;
                        }
                    }
                    line.clear();
                }
            });
        }
    });
    (addr, count)
}

/// `brunt quick` of 5 requests to `url`, then `extra`.
fn quick_args<'a>(url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["quick", url, "--vus", "1", "--iterations", "5", "-q"];
    args.extend(extra);
    args
}

/// Runs `brunt` with its stdout on a full device.
fn brunt_to_full_stdout(args: &[&str]) -> Output {
    let full = File::options().write(true).open("/dev/full").unwrap();
    brunt_cmd()
        .args(args)
        .stdout(Stdio::from(full))
        .output()
        .unwrap()
}

fn script(dir: &Path, body: &str) -> String {
    let path = dir.join("script.js");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

/// Checks that `out` exited with `code` and said `needle` on stderr.
fn check(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "stderr lacks '{needle}':\n{err}");
}

#[test]
fn unwritable_paths_are_refused_before_the_first_request() {
    let (addr, requests) = counting_server();
    let url = format!("http://{addr}/");
    for (flag, value) in [
        ("--summary-export", "/nonexistent-dir/s.json"),
        ("--report", "/nonexistent-dir/r.html"),
        ("--out", "csv=/nonexistent-dir/x.csv"),
        ("--out", "json=/nonexistent-dir/x.json"),
        ("--out", "results=/nonexistent-dir/x.json"),
    ] {
        let out = fails_with(
            &quick_args(&url, &[flag, value]),
            1,
            &format!("cannot write {flag} {value}: No such file or directory"),
        );
        assert!(out.stdout.is_empty(), "no summary: there was no run");
    }
    let dir = tempfile::tempdir().unwrap();
    let js = script(
        dir.path(),
        &format!(
            "import http from 'k6/http';\nexport default function () {{ http.get('{url}'); }}\n"
        ),
    );
    let out = brunt(&[
        "run",
        "-q",
        "--iterations",
        "5",
        "--summary-export",
        "/nonexistent-dir/s.json",
        &js,
    ]);
    check(
        &out,
        104,
        "cannot write --summary-export /nonexistent-dir/s.json",
    );
    assert_eq!(requests.load(Ordering::SeqCst), 0, "no request was sent");
    // The server does count: a run with writable outputs sends its 5 requests.
    check(&brunt(&quick_args(&url, &[])), 0, "");
    assert_eq!(requests.load(Ordering::SeqCst), 5);
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_fails_a_passing_run_and_names_the_file_while_other_outputs_are_written() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/", target.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("s.json");
    let export = export.to_str().unwrap();
    for (flag, value) in [
        ("--out", "csv=/dev/full"),
        ("--out", "json=/dev/full"),
        ("--summary-export", "/dev/full"),
        ("--report", "/dev/full"),
    ] {
        let json = format!("json={export}");
        let out = brunt(&quick_args(&url, &[flag, value, "--out", &json]));
        check(
            &out,
            OUTPUT_FAILED,
            &format!("error: cannot write {flag} {value}: No space left on device"),
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("http_reqs"),
            "the summary is printed"
        );
        let written = std::fs::read_to_string(export).unwrap();
        assert!(written.contains("http_reqs"), "the other output is written");
    }

    // Many samples: the CSV fills the device during the run; the run goes on and counts all.
    let args = [
        "quick",
        &url,
        "--iterations",
        "2000",
        "-q",
        "--out",
        "csv=/dev/full",
    ];
    let out = brunt(&[&args[..], &["--summary-export", export]].concat());
    check(
        &out,
        OUTPUT_FAILED,
        "cannot write --out csv=/dev/full: No space left on device",
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(export).unwrap()).unwrap();
    assert_eq!(summary["metrics"]["http_reqs"]["count"], 2000);

    // A failed threshold keeps its code (99): the run's own verdict comes first.
    let args = quick_args(
        &url,
        &[
            "--out",
            "csv=/dev/full",
            "--threshold",
            "http_reqs: count<1",
        ],
    );
    check(&brunt(&args), 99, "cannot write --out csv=/dev/full");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/", target.local_addr());
    let out = brunt_to_full_stdout(&quick_args(&url, &[]));
    check(
        &out,
        OUTPUT_FAILED,
        "cannot write the summary to stdout: No space left on device",
    );
    let out = brunt_to_full_stdout(&quick_args(&url, &["--out", "json"]));
    check(
        &out,
        OUTPUT_FAILED,
        "cannot write --out json (stdout): No space left on device",
    );
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[cfg(target_os = "linux")]
#[test]
fn run_fails_on_a_full_output_and_on_handle_summary_files_it_cannot_write() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/", target.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let js = script(
        dir.path(),
        &format!(
            "import http from 'k6/http';\nexport default function () {{ http.get('{url}'); }}\n"
        ),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "-q", "--iterations", "5"];
        args.extend(extra);
        args.push(&js);
        brunt(&args)
    };
    check(
        &run(&["--out", "csv=/dev/full"]),
        OUTPUT_FAILED,
        "error: cannot write --out csv=/dev/full: No space left on device",
    );
    check(
        &run(&["--summary-export", "/dev/full"]),
        OUTPUT_FAILED,
        "error: cannot write --summary-export /dev/full: No space left on device",
    );

    // handleSummary(): every key is written, as k6 does, and the one that failed is named.
    let good = dir.path().join("good.txt");
    let js = script(
        dir.path(),
        &format!(
            "export const options = {{ iterations: 1 }};\nexport default function () {{}}\nexport function handleSummary() {{ return {{ '/nonexistent-dir/h.txt': 'lost', '{}': 'kept', stdout: 'printed' }}; }}\n",
            good.display()
        ),
    );
    let out = brunt(&["run", "-q", &js]);
    check(
        &out,
        OUTPUT_FAILED,
        "cannot write handleSummary()'s file /nonexistent-dir/h.txt: No such file or directory",
    );
    assert_eq!(std::fs::read_to_string(&good).unwrap(), "kept");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "printed");
}
