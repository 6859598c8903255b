//! `brunt experiment run|validate` end to end: against a `brunt target` and a `brunt proxy` this
//! test starts as child processes, the journal and exit code a CI job reads, validation errors
//! that name the activity and field, and an interrupted run whose rollbacks still undo the fault.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{brunt, brunt_cmd, fails_with, free_port, helper, output_within, stderr, Helper};
use serde_json::{json, Value};

/// A run that does not end within this is a bug.
const LIMIT: Duration = Duration::from_secs(30);

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
    // As Chaos Toolkit: the activity cut short is listed, without a status.
    let cut = &j["run"][1];
    assert_eq!(cut["activity"]["name"], "hold-the-fault", "{j}");
    assert!(
        cut.get("status").is_none() && cut["output"].is_null(),
        "{cut}"
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

/// A minimal experiment whose method is `method`.
fn method_only(method: Value) -> Value {
    json!({"title": "a fault", "description": "brunt's own activities", "method": method})
}

fn brunt_activity(name: &str, module: &str, func: &str, arguments: Value) -> Value {
    json!({"type": "action", "name": name,
           "provider": {"type": "brunt", "module": module, "func": func, "arguments": arguments}})
}

/// Runs an experiment file to the end; returns the output and the journal.
fn run_experiment(dir: &Path, experiment: &Value) -> (std::process::Output, Value) {
    run_experiment_with(dir, experiment, &[])
}

/// As [`run_experiment`], with more flags for `brunt experiment run`.
fn run_experiment_with(
    dir: &Path,
    experiment: &Value,
    flags: &[&str],
) -> (std::process::Output, Value) {
    let file = write(dir, "fault.json", experiment);
    let journal_path = dir.join("fault-journal.json");
    let child = brunt_cmd()
        .args([
            "experiment",
            "run",
            file.to_str().unwrap(),
            "--journal-path",
            journal_path.to_str().unwrap(),
        ])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, LIMIT);
    (out, journal(&journal_path))
}

/// Validates an experiment whose method is `activity` alone: it must be refused, naming
/// `needle`.
fn refused(dir: &Path, activity: Value, needle: &str) -> std::process::Output {
    let file = write(dir, "refused.json", &method_only(json!([activity])));
    fails_with(
        &["experiment", "validate", file.to_str().unwrap()],
        1,
        needle,
    )
}

/// A `brunt target` child on a free port: (helper, port).
fn target() -> (Helper, u16) {
    let port = free_port();
    let t = helper(&["target", "--listen", &format!("127.0.0.1:{port}")], port);
    (t, port)
}

#[test]
fn kill_signals_the_named_process_and_a_missing_or_forbidden_one_is_refused_at_validation() {
    let dir = tempfile::tempdir().unwrap();
    let (mut t, _) = target();
    let kill = brunt_activity(
        "kill-orders",
        "process",
        "kill",
        json!({"target": {"pid": t.0.id()}, "signal": "SIGKILL"}),
    );
    let (out, j) = run_experiment(dir.path(), &method_only(json!([kill])));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(j["run"][0]["status"], "succeeded", "{j}");
    let status = t.0.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));

    // By pidfile, with the default SIGTERM.
    let (mut t2, _) = target();
    let pidfile = dir.path().join("orders.pid");
    std::fs::write(&pidfile, format!("{}\n", t2.0.id())).unwrap();
    let kill = brunt_activity(
        "stop-orders",
        "process",
        "kill",
        json!({"target": {"pidfile": pidfile}}),
    );
    let (out, j) = run_experiment(dir.path(), &method_only(json!([kill])));
    assert_eq!(out.status.code(), Some(0), "{}\n{j}", stderr(&out));
    assert_eq!(j["run"][0]["output"]["signal"], libc::SIGTERM, "{j}");
    assert!(
        t2.0.wait().unwrap().code().is_some(),
        "brunt target exits on SIGTERM"
    );

    for (target, needle) in [
        (json!({"pid": 1}), "refusing to act on pid 1"),
        (json!({"pid": t.0.id()}), "no process with pid"),
        (
            json!({"name": "no-such-command-here"}),
            "no running process is named",
        ),
    ] {
        refused(
            dir.path(),
            brunt_activity("kill-it", "process", "kill", json!({"target": target})),
            &format!("method[0] \"kill-it\": provider.arguments.target: {needle}"),
        );
    }
    refused(
        dir.path(),
        brunt_activity(
            "kill-it",
            "process",
            "kill",
            json!({"target": {"pid": std::process::id()}, "signal": "SIGNOPE"}),
        ),
        "provider.arguments.signal: unknown signal \"SIGNOPE\"",
    );
}

#[test]
fn pause_stalls_a_load_through_the_process_and_continues_it() {
    let dir = tempfile::tempdir().unwrap();
    let (t, port) = target();
    let export = dir.path().join("summary.json");
    // An open-model load through the target for 3 s; the pause stops the target for 1 s of it.
    let load = brunt_cmd()
        .args([
            "quick",
            &format!("http://127.0.0.1:{port}/"),
            "--rate",
            "20",
            "--duration",
            "3s",
            "--quiet",
            "--summary-export",
            export.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let pause = brunt_activity(
        "pause-orders",
        "process",
        "pause",
        json!({"target": {"pid": t.0.id()}, "duration": 1}),
    );
    let (out, j) = run_experiment(dir.path(), &method_only(json!([pause])));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(j["run"][0]["output"]["paused"], 1.0, "{j}");
    let load = output_within(load, LIMIT);
    assert_eq!(load.status.code(), Some(0), "{}", stderr(&load));
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let stall = summary["metrics"]["http_req_scheduled_duration"]["max"]
        .as_f64()
        .unwrap();
    assert!(
        stall >= 800.0,
        "a request waited through the pause: max {stall} ms"
    );
    let failed = summary["metrics"]["http_req_failed"]["value"]
        .as_f64()
        .unwrap();
    assert_eq!(failed, 0.0, "the target answered again after SIGCONT");
}

#[test]
fn restart_stops_the_process_starts_it_again_and_waits_until_it_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let (mut t, port) = target();
    let restart = brunt_activity(
        "restart-orders",
        "process",
        "restart",
        json!({"target": {"pid": t.0.id()},
               "start": [env!("CARGO_BIN_EXE_brunt"), "target", "--listen", format!("127.0.0.1:{port}")],
               "ready": format!("http://127.0.0.1:{port}/status/200"), "ready_timeout": 10}),
    );
    let (out, j) = run_experiment(dir.path(), &method_only(json!([restart])));
    let new_pid = j["run"][0]["output"]["pid"].as_i64();
    // The restarted target is no child of this test: stop it whatever happened.
    let _stop_new = new_pid.map(|pid| StopPid(pid as i32));
    assert_eq!(out.status.code(), Some(0), "{}\n{j}", stderr(&out));
    assert_eq!(
        t.0.try_wait().unwrap().map(|s| s.code()),
        Some(Some(0)),
        "SIGTERM ended the old target"
    );
    let new_pid = new_pid.unwrap() as u32;
    assert_ne!(new_pid, t.0.id());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "the restarted target answers"
    );
}

/// Sends SIGKILL to a process that is not this test's child when dropped.
struct StopPid(i32);

impl Drop for StopPid {
    fn drop(&mut self) {
        // SAFETY: a pid that brunt reported starting for this test.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

/// The CPU seconds and resident kB of `pid` now (from /proc), if it still runs. The CPU
/// seconds include its children's: those it has reaped and those that still run.
fn usage(pid: u32) -> Option<(f64, u64)> {
    let (own, reaped) = cpu_seconds(pid)?;
    let children: f64 = std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .filter_map(|child| cpu_seconds(child).map(|(c, _)| c))
        .sum();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .ok()?;
    Some((own + reaped + children, rss))
}

/// `pid`'s own CPU seconds (utime + stime) and its reaped children's (cutime + cstime).
fn cpu_seconds(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let sum = |a: usize, b: usize| -> Option<f64> {
        Some((fields[a].parse::<f64>().ok()? + fields[b].parse::<f64>().ok()?) / ticks)
    };
    Some((sum(11, 12)?, sum(13, 14)?))
}

/// Runs an experiment and samples the brunt process from /proc until it exits: (CPU seconds,
/// peak resident MB).
fn measured(dir: &Path, experiment: &Value) -> (f64, f64) {
    let file = write(dir, "stress.json", experiment);
    let journal_path = dir.join("stress-journal.json");
    let mut child = brunt_cmd()
        .args([
            "experiment",
            "run",
            file.to_str().unwrap(),
            "--journal-path",
            journal_path.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut cpu, mut peak) = (0.0, 0);
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < LIMIT, "the stress did not end");
        if let Some((c, rss)) = usage(child.id()) {
            cpu = f64::max(cpu, c);
            peak = peak.max(rss);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(journal(&journal_path)["status"], "completed");
    (cpu, peak as f64 / 1024.0)
}

/// Held by the tests that burn cores, so that they do not compete for them with each other.
static BURNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn cpu_stress_consumes_the_asked_core_for_its_duration() {
    let _cores = BURNING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let stress = brunt_activity(
        "burn",
        "stress",
        "cpu",
        json!({"workers": 1, "duration": 2}),
    );
    let (cpu, _) = measured(dir.path(), &method_only(json!([stress])));
    // One busy core for 2 s is 2 CPU seconds on an idle machine; an idle brunt uses a few
    // hundredths. The lower bound leaves room for a CI machine whose cores other tests share.
    assert!(
        (0.5..2.6).contains(&cpu),
        "1 worker for 2 s used {cpu:.2} CPU seconds"
    );
}

/// A cgroup v2 directory this test may create children in, or why there is none.
fn writable_cgroup2() -> Result<PathBuf, String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let dir = mounts
        .lines()
        .find(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|t| t.starts_with("cgroup2 "))
        })
        .and_then(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .ok_or("no cgroup v2 hierarchy is mounted")?;
    let probe = dir.join(format!("brunt-test-probe-{}", std::process::id()));
    std::fs::create_dir(&probe).map_err(|e| format!("{} is not writable: {e}", dir.display()))?;
    std::fs::remove_dir(&probe).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Starts an experiment whose two CPU workers run in `cgroup` for `seconds`, and waits until
/// both are in it: (the brunt child, the workers' pids, its journal's path).
fn burn_in(dir: &Path, cgroup: &Path, seconds: u64) -> (Child, Vec<i64>, PathBuf) {
    let stress = brunt_activity(
        "burn-in-a-cgroup",
        "stress",
        "cpu",
        json!({"workers": 2, "duration": seconds, "cgroup": cgroup}),
    );
    let file = write(dir, "cgroup.json", &method_only(json!([stress])));
    let journal_path = dir.join("cgroup-journal.json");
    let child = brunt_cmd()
        .args(["experiment", "run", file.to_str().unwrap()])
        .args(["--journal-path", journal_path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut seen: Vec<i64> = Vec::new();
    while seen.len() < 2 {
        assert!(
            start.elapsed() < LIMIT,
            "the workers never entered {}",
            cgroup.display()
        );
        seen = std::fs::read_to_string(cgroup.join("cgroup.procs"))
            .unwrap_or_default()
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, seen, journal_path)
}

#[test]
fn cpu_stress_in_a_cgroup_moves_its_workers_there_and_removes_the_cgroup_after() {
    let parent = match writable_cgroup2() {
        Ok(d) => d,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let _cores = BURNING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let cgroup = parent.join(format!("brunt-test-stress-{}", std::process::id()));
    let (child, mut seen, journal_path) = burn_in(dir.path(), &cgroup, 2);
    let out = output_within(child, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = journal(&journal_path);
    let mut pids: Vec<i64> = serde_json::from_value(j["run"][0]["output"]["pids"].clone()).unwrap();
    pids.sort();
    seen.sort();
    assert_eq!(pids, seen, "{j}");
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());

    // Interrupted, the workers are killed and the cgroup removed all the same.
    let (child, seen, journal_path) = burn_in(dir.path(), &cgroup, 20);
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = output_within(child, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(journal(&journal_path)["status"], "interrupted");
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
    for pid in seen {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} still runs"
        );
    }

    // A limit needs the cpu controller, named at validation when it is missing.
    let limited = brunt_activity(
        "burn-limited",
        "stress",
        "cpu",
        json!({"workers": 1, "duration": 1, "cgroup": cgroup, "cpu_limit": 0.5}),
    );
    let file = write(dir.path(), "limited.json", &method_only(json!([limited])));
    let controllers = std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap();
    if controllers.split_whitespace().any(|c| c == "cpu") {
        let (cpu, _) = measured(dir.path(), &method_only(json!([limited.clone()])));
        assert!(
            cpu < 0.9,
            "1 worker limited to half a core for 1 s used {cpu:.2} CPU seconds"
        );
        assert!(!cgroup.exists(), "{} is still there", cgroup.display());
    } else {
        println!(
            "cpu_limit not measured: the cpu controller is not enabled in {}",
            parent.display()
        );
        fails_with(
            &["experiment", "validate", file.to_str().unwrap()],
            1,
            "method[0] \"burn-limited\": provider.arguments.cpu_limit: the cpu controller is not enabled",
        );
    }
}

#[test]
fn memory_stress_holds_the_asked_megabytes_resident() {
    let dir = tempfile::tempdir().unwrap();
    let stress = brunt_activity(
        "hog",
        "stress",
        "memory",
        json!({"megabytes": 200, "duration": 1}),
    );
    let (_, peak) = measured(dir.path(), &method_only(json!([stress])));
    assert!(peak >= 200.0, "peak RSS {peak:.0} MB while holding 200 MB");
}

#[test]
fn network_faults_are_removed_after_their_duration_and_when_the_experiment_is_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let (_, api, _helpers) = target_and_proxy(dir.path());
    let conf = json!({"toxiproxy_host": "127.0.0.1", "toxiproxy_port": api});
    let mut timed = method_only(json!([brunt_activity(
        "throttle-orders",
        "network",
        "toxic",
        json!({"proxy": "orders", "type": "http_status",
               "attributes": {"status": 503}, "duration": 0.3})
    )]));
    timed["configuration"] = conf.clone();
    let (out, j) = run_experiment(dir.path(), &timed);
    assert_eq!(out.status.code(), Some(0), "{}\n{j}", stderr(&out));
    assert_eq!(j["run"][0]["output"]["type"], "http_status", "{j}");
    assert_undone(api);

    let mut partition = method_only(json!([brunt_activity(
        "cut-orders",
        "network",
        "partition",
        json!({"proxy": "orders", "duration": 20})
    )]));
    partition["configuration"] = conf;
    let file = write(dir.path(), "partition.json", &partition);
    let journal_path = dir.path().join("partition-journal.json");
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
    let start = Instant::now();
    while proxies(api)["orders"]["enabled"] != false {
        assert!(start.elapsed() < LIMIT, "the partition never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = output_within(child, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(journal(&journal_path)["status"], "interrupted");
    assert_undone(api);
}

#[test]
fn a_load_judges_its_thresholds_per_fault_phase_and_a_crossing_during_the_fault_deviates() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, api, _helpers) = target_and_proxy(dir.path());
    let mut e = method_only(json!([
        {"type": "action", "name": "orders-load", "background": true,
         "provider": {"type": "brunt", "module": "load", "func": "quick", "arguments": {"quick": [
             format!("http://127.0.0.1:{listen}/"), "--rate", "20", "--duration", "6s",
             "--threshold", "http_req_duration: p(50)<150"]}}},
        {"type": "action", "name": "slow-orders", "pauses": {"before": 1.5},
         "provider": {"type": "brunt", "module": "network", "func": "toxic", "arguments": {
             "proxy": "orders", "type": "latency", "attributes": {"latency": 300}, "duration": 2}}}
    ]));
    e["configuration"] = json!({"toxiproxy_host": "127.0.0.1", "toxiproxy_port": api});
    let report = dir.path().join("game-day.html");
    let (out, j) = run_experiment_with(dir.path(), &e, &["--report", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}\n{j}", stderr(&out));
    assert_eq!(j["deviated"], true, "{j}");
    let load = &j["run"][0];
    assert_eq!(load["activity"]["name"], "orders-load");
    let phases = &load["output"]["phases"];
    let verdict = |p: &str| phases[p]["thresholds"]["http_req_duration: p(50)<150"].clone();
    assert_eq!(verdict("before"), true, "{phases}");
    assert_eq!(verdict("during"), false, "{phases}");
    assert_eq!(verdict("after"), true, "{phases}");
    assert!(phases["during"]["http_req_duration_p95"].as_f64().unwrap() >= 300.0);
    let requests: f64 = ["before", "during", "after"]
        .iter()
        .map(|p| phases[*p]["requests"].as_f64().unwrap())
        .sum();
    assert!(
        (100.0..=125.0).contains(&requests),
        "{requests} of 120 requests"
    );
    assert_undone(api);

    let bad = method_only(json!([brunt_activity(
        "orders-load",
        "load",
        "quick",
        json!({"quick": ["http://127.0.0.1:1/", "--rat", "20"]})
    )]));
    let file = write(dir.path(), "bad-load.json", &bad);
    fails_with(
        &["experiment", "validate", file.to_str().unwrap()],
        1,
        "method[0] \"orders-load\": provider.arguments.quick: unexpected argument '--rat'",
    );
}

#[test]
fn new_writes_a_starting_experiment_that_validates_and_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("experiment.yaml");
    let path = file.to_str().unwrap();
    let out = brunt(&["experiment", "new", path]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# "), "commented");
    let out = brunt(&["experiment", "validate", path]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    fails_with(&["experiment", "new", path], 1, "cannot create");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}

#[test]
fn probes_with_a_mode_sample_through_the_method_or_only_during_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, api, _helpers) = target_and_proxy(dir.path());
    let probe = |name: &str, mode: &str| {
        json!({"type": "probe", "name": name, "mode": mode, "interval": 0.2, "tolerance": 200,
               "provider": {"type": "http", "url": format!("http://127.0.0.1:{listen}/status/200"),
                            "timeout": 1}})
    };
    let mut e = method_only(json!([
        probe("health-always", "continuous"),
        probe("health-on-fault", "on-fault"),
        {"type": "action", "name": "cut-orders", "pauses": {"before": 0.5, "after": 0.5},
         "provider": {"type": "brunt", "module": "network", "func": "partition",
                      "arguments": {"proxy": "orders", "duration": 0.6}}}
    ]));
    e["configuration"] = json!({"toxiproxy_host": "127.0.0.1", "toxiproxy_port": api});
    let (out, j) = run_experiment(dir.path(), &e);
    assert_eq!(out.status.code(), Some(1), "{}\n{j}", stderr(&out));
    assert_eq!(
        j["deviated"], true,
        "a sample failed during the partition: {j}"
    );
    let run = |name: &str| {
        j["run"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["activity"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} is in the journal: {j}"))
            .clone()
    };
    let phases = |name: &str| -> Vec<(String, bool)> {
        run(name)["output"]["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["phase"].as_str().unwrap().to_string(),
                    s["tolerance_met"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let always = phases("health-always");
    for p in ["before", "during", "after"] {
        assert!(always.iter().any(|(s, _)| s == p), "{p}: {always:?}");
    }
    assert!(
        always.iter().all(|(p, met)| *met == (p != "during")),
        "{always:?}"
    );
    let on_fault = phases("health-on-fault");
    assert!(!on_fault.is_empty() && on_fault.iter().all(|(p, met)| p == "during" && !met));
    assert_eq!(run("health-on-fault")["status"], "failed");
    assert_undone(api);

    let mut bad = e.clone();
    bad["method"][0]
        .as_object_mut()
        .unwrap()
        .remove("tolerance");
    let file = write(dir.path(), "bad-mode.json", &bad);
    fails_with(
        &["experiment", "validate", file.to_str().unwrap()],
        1,
        "method[0] \"health-always\": tolerance: a probe with a mode needs a tolerance",
    );
}

#[test]
fn brunt_probes_judge_status_latency_and_the_running_loads_last_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let (_t, port) = target();
    let base = format!("http://127.0.0.1:{port}");
    let http = |name: &str, path: &str, max: f64| {
        json!({"type": "probe", "name": name, "tolerance": true,
               "provider": {"type": "brunt", "module": "probe", "func": "http",
                            "arguments": {"url": format!("{base}{path}"), "status": [200],
                                          "max_latency_ms": max}}})
    };
    let mut e = method_only(json!([
        {"type": "action", "name": "load", "background": true,
         "provider": {"type": "brunt", "module": "load", "func": "quick",
                      "arguments": {"quick": [format!("{base}/delay/20"), "--rate", "20", "--duration", "3s"]}}},
        {"type": "probe", "name": "p95-fast", "mode": "continuous", "interval": 1, "tolerance": true,
         "provider": {"type": "brunt", "module": "probe", "func": "metric",
                      "arguments": {"threshold": "http_req_duration: p(95)<1000", "window": 2}}},
        {"type": "probe", "name": "p95-under-5ms", "mode": "continuous", "interval": 1, "tolerance": true,
         "provider": {"type": "brunt", "module": "probe", "func": "metric",
                      "arguments": {"threshold": "http_req_duration: p(95)<5", "window": 2}}},
        http("slow-answer", "/delay/100", 20.0)
    ]));
    e["steady-state-hypothesis"] = json!({"title": "answers fast",
        "probes": [http("fast-answer", "/status/200", 2000.0)]});
    let (out, j) = run_experiment(dir.path(), &e);
    assert_eq!(out.status.code(), Some(1), "{}\n{j}", stderr(&out));
    assert_eq!(
        j["steady_states"]["before"]["probes"][0]["tolerance_met"], true,
        "{j}"
    );
    let run = |name: &str| {
        j["run"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["activity"]["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(run("slow-answer")["output"], false, "100 ms is over 20 ms");
    // Samples after the load's first second judge its 20 ms answers.
    let outputs = |name: &str| -> Vec<Value> {
        run(name)["output"]["samples"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .map(|s| s["output"].clone())
            .collect()
    };
    let fast = outputs("p95-fast");
    assert!(
        !fast.is_empty() && fast.iter().all(|o| o == true),
        "{fast:?}"
    );
    let strict = outputs("p95-under-5ms");
    assert!(strict.iter().any(|o| o == false), "{strict:?}");
    assert_eq!(j["deviated"], true, "the strict probe failed");

    let mut bad = e.clone();
    bad["method"][1]["provider"]["arguments"]["threshold"] = json!("http_req_duration: p(95)<<5");
    let file = write(dir.path(), "bad-metric.json", &bad);
    fails_with(
        &["experiment", "validate", file.to_str().unwrap()],
        1,
        "method[1] \"p95-fast\": provider.arguments.threshold",
    );
}

#[test]
fn a_process_the_experiment_starts_is_faulted_by_name_and_dies_with_the_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let start = json!([
        env!("CARGO_BIN_EXE_brunt"),
        "target",
        "--listen",
        format!("127.0.0.1:{port}")
    ]);
    let ready = format!("http://127.0.0.1:{port}/status/200");
    let e = method_only(json!([
        brunt_activity(
            "start-orders",
            "process",
            "start",
            json!({"name": "orders", "command": start, "ready": ready})
        ),
        brunt_activity(
            "pause-orders",
            "process",
            "pause",
            json!({"target": {"started": "orders"}, "duration": 0.2})
        ),
        brunt_activity(
            "restart-orders",
            "process",
            "restart",
            json!({"target": {"started": "orders"}, "start": start, "ready": ready})
        )
    ]));
    let (out, j) = run_experiment(dir.path(), &e);
    assert_eq!(out.status.code(), Some(0), "{}\n{j}", stderr(&out));
    let first = j["run"][0]["output"]["pid"].as_i64().unwrap();
    assert_eq!(j["run"][1]["output"]["pids"], json!([first]), "{j}");
    assert_eq!(j["run"][2]["output"]["stopped"], json!([first]), "{j}");
    let second = j["run"][2]["output"]["pid"].as_i64().unwrap();
    assert_ne!(first, second);
    // Neither outlives the experiment.
    let start = Instant::now();
    while [first, second]
        .iter()
        .any(|pid| Path::new(&format!("/proc/{pid}/cmdline")).exists())
        || TcpStream::connect(("127.0.0.1", port)).is_ok()
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "a started process outlived the run"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let bad = method_only(json!([brunt_activity(
        "pause-it",
        "process",
        "pause",
        json!({"target": {"started": "nobody"}, "duration": 0.1})
    )]));
    let (out, j) = run_experiment(dir.path(), &bad);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(j["run"][0]["status"], "failed");
    assert!(
        j["run"][0]["exception"][0]
            .as_str()
            .unwrap()
            .contains("this experiment started no process named \"nobody\""),
        "{j}"
    );
}

fn monitor_probe(name: &str, monitor: &str, signal: &str, stat: &str, tolerance: Value) -> Value {
    json!({"type": "probe", "name": name, "tolerance": tolerance,
           "provider": {"type": "brunt", "module": "probe", "func": "monitor", "arguments": {
               "monitor": monitor, "signal": signal, "stat": stat, "window": 2}}})
}

#[test]
fn monitor_probes_judge_the_targets_signals_and_the_load_charts_them() {
    let _cores = BURNING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (target, port) = target();
    let spec = format!("api:pid={}", target.0.id());
    let mut busy_cpu = monitor_probe("cpu-stays-low", &spec, "cpu_percent", "max", json!([0, 20]));
    busy_cpu["mode"] = json!("continuous");
    let mut e = method_only(json!([
        {"type": "action", "name": "cpu-load", "background": true,
         "provider": {"type": "brunt", "module": "load", "func": "quick", "arguments": {"quick": [
             format!("http://127.0.0.1:{port}/cpu/40"), "--rate", "20", "--duration", "4s"]}}},
        busy_cpu,
    ]));
    e["steady-state-hypothesis"] = json!({"title": "the target runs", "probes": [
        monitor_probe("has-threads", &spec, "threads", "max", json!([1, 100000]))]});
    let (out, j) = run_experiment(dir.path(), &e);
    assert_eq!(out.status.code(), Some(1), "{}\n{j}", stderr(&out));
    let before = &j["steady_states"]["before"];
    assert_eq!(before["steady_state_met"], true, "{j}");
    assert!(
        before["probes"][0]["output"].as_f64().unwrap() >= 1.0,
        "{j}"
    );
    // 20 requests a second that each burn 40 ms of CPU keep most of a core busy.
    let samples = j["run"][1]["output"]["samples"].as_array().unwrap().clone();
    assert!(
        samples
            .iter()
            .any(|s| s["tolerance_met"] == false && s["output"].as_f64().unwrap() > 20.0),
        "{samples:?}"
    );
    assert_eq!(j["deviated"], true, "{j}");
    let charted = j["run"][0]["output"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["target_cpu"]["api"].as_f64().is_some())
        .count();
    assert!(charted >= 2, "the load's seconds carry the monitor: {j}");

    let check = |signal: &str, monitor: &str, needle: &str| {
        let probe = monitor_probe("watch", monitor, signal, "max", json!([0, 1]));
        refused(dir.path(), probe, needle);
    };
    check(
        "cpu",
        &spec,
        "method[0] \"watch\": provider.arguments.signal: \"cpu\" is not a signal",
    );
    check(
        "cpu_percent",
        "disk=/dev/sda",
        "method[0] \"watch\": provider.arguments.monitor: monitor 'disk=/dev/sda': unknown kind",
    );
    check(
        "cpu_percent",
        "pid=999999999",
        "method[0] \"watch\": provider.arguments.monitor: monitor 'pid=999999999': no process",
    );
}

#[test]
fn a_k6_script_as_the_load_judges_its_thresholds_per_fault_phase() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, api, _helpers) = target_and_proxy(dir.path());
    std::fs::write(
        dir.path().join("orders.js"),
        "import http from 'k6/http';\nimport { sleep } from 'k6';\n\
         export const options = { vus: 1, duration: '1s',\n\
           thresholds: { http_req_duration: ['p(50)<150'] } };\n\
         export default function () { http.get(`${__ENV.BASE}/`); sleep(0.5); }\n",
    )
    .unwrap();
    let mut e = method_only(json!([
        {"type": "action", "name": "orders-script", "background": true,
         "provider": {"type": "brunt", "module": "load", "func": "script", "arguments": {
             "script": "orders.js", "env": {"BASE": format!("http://127.0.0.1:{listen}")},
             "duration": "7s", "vus": 10}}},
        {"type": "action", "name": "slow-orders", "pauses": {"before": 1.5},
         "provider": {"type": "brunt", "module": "network", "func": "toxic", "arguments": {
             "proxy": "orders", "type": "latency", "attributes": {"latency": 300}, "duration": 3}}}
    ]));
    e["configuration"] = json!({"toxiproxy_host": "127.0.0.1", "toxiproxy_port": api});
    let (out, j) = run_experiment(dir.path(), &e);
    assert_eq!(out.status.code(), Some(1), "{}\n{j}", stderr(&out));
    assert_eq!(j["deviated"], true, "{j}");
    let load = &j["run"][0];
    assert_eq!(load["status"], "succeeded", "{j}");
    let phases = &load["output"]["phases"];
    let verdict = |p: &str| phases[p]["thresholds"]["http_req_duration: p(50)<150"].clone();
    assert_eq!(verdict("before"), true, "{phases}");
    assert_eq!(verdict("during"), false, "{phases}");
    assert_eq!(verdict("after"), true, "{phases}");
    for p in ["before", "during", "after"] {
        assert!(phases[p]["requests"].as_f64().unwrap() > 0.0, "{phases}");
        assert_eq!(
            phases[p]["http_req_failed"], 0.0,
            "__ENV reached the script: {phases}"
        );
    }
    // The duration and VUs given replace the script's 1 s and 1 VU.
    let seconds: f64 = ["before", "during", "after"]
        .iter()
        .map(|p| phases[*p]["seconds"].as_f64().unwrap())
        .sum();
    assert!(seconds >= 6.0, "{seconds} s of load");
    assert!(
        load["output"]["timeline"][0]["vus"].as_f64().unwrap() >= 10.0,
        "{j}"
    );
    assert_undone(api);

    // A missing script and one that does not compile are refused at validation.
    std::fs::write(
        dir.path().join("broken.js"),
        "export default function () {\n",
    )
    .unwrap();
    for script in ["missing.js", "broken.js"] {
        let out = refused(
            dir.path(),
            brunt_activity(
                "orders-script",
                "load",
                "script",
                json!({ "script": script }),
            ),
            "method[0] \"orders-script\": provider.arguments.script: ",
        );
        assert!(stderr(&out).contains(script), "{}", stderr(&out));
    }
}
