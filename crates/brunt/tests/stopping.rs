//! Runs stop when they should, whatever the script does: a CPU-bound iteration is interrupted when
//! its graceful stop runs out, the first Ctrl-C or SIGTERM interrupts running JavaScript (in an
//! iteration, in `setup()`, in the init context) and still writes the summary, and `brunt quick`
//! cuts requests a silent server never answers, counting and naming them.

mod common;

use common::{brunt_cmd, output_within};
use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

/// Long enough for any run here to have ended; the bug is a run that does not end.
const LIMIT: Duration = Duration::from_secs(30);

/// A script file of its own for this test, removed with the directory.
fn script(dir: &tempfile::TempDir, source: &str) -> PathBuf {
    let path = dir.path().join("script.js");
    std::fs::write(&path, source).unwrap();
    path
}

fn spawn(args: &[&str]) -> Child {
    brunt_cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `brunt args`, sends `signal` after `after`, and returns its output.
fn signalled(args: &[&str], signal: i32, after: Duration) -> Output {
    let child = spawn(args);
    std::thread::sleep(after);
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, signal) };
    output_within(child, LIMIT)
}

/// `brunt run js --summary-export`, sent `signal` once it runs; its output and the export's path.
fn run_signalled(dir: &tempfile::TempDir, js: &Path, signal: i32) -> (Output, PathBuf) {
    let summary = dir.path().join("summary.json");
    let args = [
        "run",
        js.to_str().unwrap(),
        "--summary-export",
        summary.to_str().unwrap(),
    ];
    let out = signalled(&args, signal, Duration::from_millis(1500));
    (out, summary)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn export(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_cpu_bound_iteration_is_interrupted_when_graceful_stop_runs_out() {
    let dir = tempfile::tempdir().unwrap();
    let js = script(
        &dir,
        "export const options = { scenarios: { busy: { executor: 'constant-vus', vus: 1,
           duration: '1s', gracefulStop: '500ms' } } };
         export default function () { const t = Date.now(); while (Date.now() - t < 60000) {} }",
    );
    let out = output_within(spawn(&["run", js.to_str().unwrap()]), LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("0 complete and 1 interrupted iterations"),
        "{stdout}"
    );
}

#[test]
fn ctrl_c_interrupts_an_endless_iteration_and_writes_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let js = script(
        &dir,
        "export const options = { vus: 2, duration: '1m' };
         export default function () { while (true) {} }",
    );
    let (out, summary) = run_signalled(&dir, &js, libc::SIGINT);
    assert_eq!(out.status.code(), Some(105), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("0 complete and 2 interrupted iterations"),
        "{stdout}"
    );
    assert_eq!(export(&summary)["metrics"]["vus_max"]["value"], 2.0);
}

#[test]
fn ctrl_c_interrupts_an_endless_init_context() {
    let dir = tempfile::tempdir().unwrap();
    let js = script(&dir, "while (true) {}\nexport default function () {}");
    let out = signalled(
        &["run", js.to_str().unwrap()],
        libc::SIGINT,
        Duration::from_millis(1000),
    );
    assert_eq!(out.status.code(), Some(105));
    assert!(
        text(&out.stderr).contains("interrupted while the init context ran"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sigterm_interrupts_an_endless_setup_and_skips_the_test_and_teardown() {
    let dir = tempfile::tempdir().unwrap();
    let js = script(
        &dir,
        "export function setup() { while (true) {} }
         export default function () { console.log('ITERATION'); }
         export function teardown() { console.log('TEARDOWN'); }",
    );
    let (out, summary) = run_signalled(&dir, &js, libc::SIGTERM);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(105), "{stderr}");
    assert!(
        !stderr.contains("ITERATION") && !stderr.contains("TEARDOWN"),
        "{stderr}"
    );
    assert!(export(&summary)["metrics"].is_object());
}

/// A server that accepts connections and never answers.
fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for tcp in listener.incoming().flatten() {
            held.push(tcp);
        }
    });
    addr
}

#[test]
fn quick_cuts_unanswered_requests_at_the_graceful_stop_and_says_so() {
    let addr = silent_server();
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let out = output_within(
        spawn(&[
            "quick",
            &format!("http://{addr}/"),
            "--duration",
            "1s",
            "--vus",
            "2",
            "--graceful-stop",
            "0s",
            "--summary-export",
            summary.to_str().unwrap(),
        ]),
        LIMIT,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("0 complete and 2 interrupted iterations"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 × 1000 request interrupted: the test ended before the response came"),
        "{stdout}"
    );
    let metrics = &export(&summary)["metrics"];
    assert_eq!(metrics["http_reqs"]["count"], 2.0);
    assert_eq!(metrics["http_req_failed"]["passes"], 2.0, "{metrics}");
}
