//! `brunt experiment run|validate` end to end: against a `brunt target` and a `brunt proxy` this
//! test starts as child processes, the journal and exit code a CI job reads, validation errors
//! that name the activity and field, and an interrupted run whose rollbacks still undo the fault.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{brunt, brunt_cmd, fails_with, output_within, stderr};
use serde_json::{json, Value};

/// A run that does not end within this is a bug.
const LIMIT: Duration = Duration::from_secs(30);

/// A child process killed when the test ends, pass or fail.
struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `brunt ARGS` listening on `port` and waits until it accepts connections.
fn helper(args: &[&str], port: u16) -> Helper {
    let child = brunt_cmd()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let helper = Helper(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{args:?} never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    helper
}

/// A target and a fault proxy with an `orders` proxy in front of it, as a user sets them up
/// before a game day: (orders proxy port, proxy API port, helpers).
fn target_and_proxy(dir: &Path) -> (u16, u16, [Helper; 2]) {
    let (target, api, listen) = (free_port(), free_port(), free_port());
    let t = helper(
        &["target", "--listen", &format!("127.0.0.1:{target}")],
        target,
    );
    let config = write(
        dir,
        "proxies.json",
        &json!([{"name": "orders", "listen": format!("127.0.0.1:{listen}"),
                 "upstream": format!("127.0.0.1:{target}"), "enabled": true}]),
    );
    let p = helper(
        &[
            "proxy",
            "--listen",
            &format!("127.0.0.1:{api}"),
            "--config",
            config.to_str().unwrap(),
        ],
        api,
    );
    (listen, api, [t, p])
}

fn write(dir: &Path, name: &str, experiment: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(experiment).unwrap()).unwrap();
    path
}

fn journal(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// An experiment that probes the target through the `orders` proxy, adds latency there, and
/// removes it in its rollbacks; `tolerance` is the probe's allowed status.
fn through_proxy(listen: u16, api: u16, method_tail: Value, tolerance: Value) -> Value {
    let mut method = vec![json!({
        "type": "action", "name": "slow-orders",
        "provider": {"type": "python", "module": "chaostoxi.toxic.actions",
                     "func": "create_latency_toxic",
                     "arguments": {"for_proxy": "orders", "toxic_name": "slow", "latency": 50}}
    })];
    if let Value::Array(tail) = method_tail {
        method.extend(tail);
    }
    json!({
        "title": "orders answer through a slow proxy",
        "description": "50 ms of latency on the orders proxy",
        "configuration": {"toxiproxy_host": "127.0.0.1", "toxiproxy_port": api},
        "steady-state-hypothesis": {
            "title": "orders answer",
            "probes": [
                {"type": "probe", "name": "orders-answer", "tolerance": tolerance,
                 "provider": {"type": "http", "url": format!("http://127.0.0.1:{listen}/status/200"),
                              "timeout": 5}}
            ]
        },
        "method": method,
        "rollbacks": [
            {"type": "action", "name": "fast-orders",
             "provider": {"type": "python", "module": "chaostoxi.toxic.actions",
                          "func": "delete_toxic",
                          "arguments": {"for_proxy": "orders", "toxic_name": "slow"}}},
            {"type": "action", "name": "restore-orders",
             "provider": {"type": "python", "module": "chaostoxi.proxy.actions",
                          "func": "enable_proxy", "arguments": {"proxy_name": "orders"}}}
        ]
    })
}

/// The names of a journal section's activities, with their status.
fn names(journal: &Value, section: &str) -> Vec<(String, String)> {
    journal[section]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["activity"]["name"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The proxies the fault proxy holds now.
fn proxies(api: u16) -> Value {
    let mut s = TcpStream::connect(("127.0.0.1", api)).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "GET /proxies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap();
    serde_json::from_str(body).unwrap()
}

/// The rollbacks left the `orders` proxy as it was: enabled, without toxics.
fn assert_undone(api: u16) {
    let orders = &proxies(api)["orders"];
    assert_eq!(orders["enabled"], true, "{orders}");
    assert_eq!(orders["toxics"], json!([]), "{orders}");
}

#[test]
fn a_holding_hypothesis_exits_0_with_a_completed_journal_and_the_proxy_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, api, _helpers) = target_and_proxy(dir.path());
    let file = write(
        dir.path(),
        "e.json",
        &through_proxy(listen, api, json!([]), json!(200)),
    );
    let journal_path = dir.path().join("journal.json");
    let out = brunt(&[
        "experiment",
        "run",
        file.to_str().unwrap(),
        "--journal-path",
        journal_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = journal(&journal_path);
    assert_eq!(j["status"], "completed");
    assert_eq!(j["deviated"], false);
    assert_eq!(j["steady_states"]["before"]["steady_state_met"], true);
    assert_eq!(
        names(&j, "run"),
        [("slow-orders".to_string(), "succeeded".to_string())]
    );
    assert_eq!(
        names(&j, "rollbacks"),
        [
            ("fast-orders".to_string(), "succeeded".to_string()),
            ("restore-orders".to_string(), "succeeded".to_string())
        ]
    );
    assert_undone(api);
}

#[test]
fn a_deviating_hypothesis_exits_1_and_rollback_strategy_always_still_undoes_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, api, _helpers) = target_and_proxy(dir.path());
    // The probe tolerates 200 before; the method cuts the proxy so it cannot answer after.
    let cut = json!([{"type": "action", "name": "cut-orders",
        "provider": {"type": "python", "module": "chaostoxi.proxy.actions",
                     "func": "disable_proxy", "arguments": {"proxy_name": "orders"}}}]);
    let e = through_proxy(listen, api, cut, json!(200));
    let file = write(dir.path(), "e.json", &e);
    let journal_path = dir.path().join("journal.json");
    let out = brunt(&[
        "experiment",
        "run",
        file.to_str().unwrap(),
        "--journal-path",
        journal_path.to_str().unwrap(),
        "--rollback-strategy",
        "always",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let j = journal(&journal_path);
    assert_eq!(j["deviated"], true);
    // The probe could not connect, which Chaos Toolkit counts as a failed run: its default
    // strategy would skip the rollbacks, `always` plays them.
    assert_eq!(j["status"], "failed");
    assert_eq!(j["steady_states"]["after"]["steady_state_met"], false);
    assert!(
        stderr(&out).contains("deviated"),
        "the verdict is printed: {}",
        stderr(&out)
    );
    assert_undone(api);
}

#[test]
fn validate_accepts_a_good_file_and_names_the_activity_and_field_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = through_proxy(1, 2, json!([]), json!(200));
    let file = write(dir.path(), "good.json", &good);
    let out = brunt(&["experiment", "validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("valid experiment"));

    let cases: [(&str, Value, &str); 4] = [
        (
            "typo.json",
            {
                let mut e = good.clone();
                e["method"][0]["provider"]["arguments"]["latencyy"] = json!(1);
                e
            },
            "method[0] \"slow-orders\": provider.arguments.latencyy",
        ),
        (
            "module.json",
            {
                let mut e = good.clone();
                e["method"][0]["provider"]["module"] = json!("chaosk8s.pod.actions");
                e
            },
            "method[0] \"slow-orders\": provider.module",
        ),
        (
            "tolerance.json",
            {
                let mut e = good.clone();
                e["steady-state-hypothesis"]["probes"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("tolerance");
                e
            },
            "steady-state-hypothesis.probes[0] \"orders-answer\": tolerance",
        ),
        (
            "missing-program.json",
            {
                let mut e = good.clone();
                e["rollbacks"][0]["provider"] =
                    json!({"type": "process", "path": "/nonexistent/restart-orders"});
                e
            },
            "rollbacks[0] \"fast-orders\": provider.path",
        ),
    ];
    for (name, experiment, needle) in cases {
        let file = write(dir.path(), name, &experiment);
        let path = file.to_str().unwrap();
        let out = fails_with(&["experiment", "validate", path], 1, needle);
        assert!(
            stderr(&out).contains(name),
            "names the file: {}",
            stderr(&out)
        );
        // `run` refuses it the same way, before anything runs or is written.
        let journal_path = dir.path().join(format!("{name}.journal"));
        fails_with(
            &[
                "experiment",
                "run",
                path,
                "--journal-path",
                journal_path.to_str().unwrap(),
            ],
            1,
            needle,
        );
        assert!(!journal_path.exists(), "nothing ran for {name}");
    }
    fails_with(
        &["experiment", "validate", "/nonexistent/experiment.json"],
        1,
        "/nonexistent/experiment.json",
    );
}

/// Chaos Toolkit skips rollbacks after Ctrl-C or SIGTERM under its default strategy; brunt plays
/// them so that a fault never outlives the experiment (docs/experiments.md). The comparison
/// script cannot compare this case, so it is checked here.
#[test]
fn sigterm_during_the_method_still_runs_the_rollbacks_and_the_journal_says_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, api, _helpers) = target_and_proxy(dir.path());
    let wait = json!([{"type": "action", "name": "hold-the-fault",
        "provider": {"type": "process", "path": "sleep", "arguments": ["20"]}}]);
    let file = write(
        dir.path(),
        "e.json",
        &through_proxy(listen, api, wait, json!(200)),
    );
    let journal_path = dir.path().join("journal.json");
    let child = brunt_cmd()
        .args([
            "experiment",
            "run",
            file.to_str().unwrap(),
            "--journal-path",
            journal_path.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the fault is in place (the toxic exists), then interrupt.
    let start = Instant::now();
    while proxies(api)["orders"]["toxics"]
        .as_array()
        .is_none_or(|t| t.is_empty())
    {
        assert!(start.elapsed() < LIMIT, "the method never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = output_within(child, LIMIT);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "SIGTERM cut the 20 s activity short"
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let j = journal(&journal_path);
    assert_eq!(j["status"], "interrupted");
    assert_eq!(
        names(&j, "rollbacks"),
        [
            ("fast-orders".to_string(), "succeeded".to_string()),
            ("restore-orders".to_string(), "succeeded".to_string())
        ]
    );
    assert_undone(api);
}
