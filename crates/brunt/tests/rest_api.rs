//! k6's REST API on `brunt run --address`, driven over real HTTP as k6-operator's starter and
//! k6's own clients drive it, and compared with k6 v1.1 (when `k6` is installed) on the same
//! commands: `--paused` and the starter's PATCH, pause errors, `PUT/POST /v1/setup`, metrics and
//! groups after the run, a stop through the API (exit 103), `--linger` with setup and teardown
//! run through the API after the test, and an address that cannot be bound (exit 106).

mod common;

use common::{brunt_cmd, free_port, http_exchange, k6, output_within};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Two VUs share 20 iterations of 0.2 s, each in a group with a check, adding to a counter whose
/// threshold fails.
const SCRIPT: &str = r#"
import { sleep, check, group } from 'k6';
import { Counter } from 'k6/metrics';
const c = new Counter('my_counter');
export const options = {
  vus: 2, iterations: 20,
  thresholds: { my_counter: ['count>100'], iteration_duration: ['p(95)<5000'] },
};
export function setup() { return { hello: 'world', n: 3 }; }
export default function (data) {
  group('g1', () => { check(data, { 'has data': (d) => d && d.hello === 'world' }); });
  c.add(1);
  sleep(0.2);
}
"#;

/// One exchange with the API: the status code and the body as JSON (Null when empty). None when
/// nothing listens yet.
fn call(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, Value)> {
    let (code, text) = http_exchange(port, method, path, body)?;
    let text = text.trim();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    };
    Some((code, body))
}

fn patch(port: u16, attributes: Value) -> (u16, Value) {
    let doc = json!({"data": {"attributes": attributes, "id": "default", "type": "status"}});
    call(port, "PATCH", "/v1/status", &doc.to_string()).expect("PATCH /v1/status")
}

fn status(port: u16) -> Value {
    call(port, "GET", "/v1/status", "")
        .expect("GET /v1/status")
        .1["data"]["attributes"]
        .clone()
}

/// Waits until the API answers (the VUs are initialised by then when paused).
fn wait_for_api(port: u16, child: &mut Child) {
    let start = Instant::now();
    while call(port, "GET", "/v1/status", "").is_none() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "exited before its API answered"
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the API never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls the status until `done` holds (the run moves on its own).
fn wait_until(port: u16, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let s = status(port);
        if done(&s) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never {what}: {s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn(mut cmd: Command, args: &[&str]) -> Child {
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn k6_cmd(k6: &str) -> Command {
    let mut c = Command::new(k6);
    c.env("K6_NO_USAGE_REPORT", "true");
    c
}

/// What a client of the API sees through k6-operator's sequence and after the run, in the parts
/// k6 and brunt must agree on.
fn operator_session(cmd: Command, dir: &Path) -> Value {
    let script = dir.join("s.js");
    std::fs::write(&script, SCRIPT).unwrap();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let mut child = spawn(
        cmd,
        &[
            "run",
            "--quiet",
            "--no-summary",
            script.to_str().unwrap(),
            &format!("--address={address}"),
            "--paused",
            "--linger",
            "--tag",
            "instance_id=1",
        ],
    );
    wait_for_api(port, &mut child);
    let paused = wait_until(port, "paused before the run", |s| s["status"] == 4);
    let setup_before = call(port, "GET", "/v1/setup", "").unwrap();
    let pause_again = patch(port, json!({"paused": true}));
    let vus = patch(port, json!({"vus": 3}));
    let bad = call(port, "PATCH", "/v1/status", "nonsense").unwrap();
    let put = call(port, "PUT", "/v1/setup", r#"{"x":1}"#).unwrap();
    let cleared = call(port, "PUT", "/v1/setup", "").unwrap();
    let wrong_method = call(port, "DELETE", "/v1/status", "").unwrap();
    // The starter's exact body: both attributes, paused false.
    let start = patch(port, json!({"paused": false, "stopped": false}));
    assert_eq!(start.0, 200, "{}", start.1);
    assert_eq!(start.1["data"]["attributes"]["paused"], false);
    wait_until(port, "running", |s| {
        s["running"] == true || s["status"] == 9
    });
    let pause_running = patch(port, json!({"paused": true}));
    let ended = wait_until(port, "ended", |s| s["status"] == 9);
    // k6 ingests its last samples shortly after it says it ended.
    let waited = Instant::now();
    while call(port, "GET", "/v1/metrics/iterations", "").unwrap().1["data"]["attributes"]["sample"]
        ["count"]
        != 20.0
    {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the 20 iterations never showed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = call(port, "GET", "/v1/metrics", "").unwrap();
    let counter = call(port, "GET", "/v1/metrics/my_counter", "").unwrap();
    let missing = call(port, "GET", "/v1/metrics/nope", "").unwrap();
    let groups = call(port, "GET", "/v1/groups", "").unwrap();
    let g1 = groups.1["data"][1]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let one_group = call(port, "GET", &format!("/v1/groups/{g1}"), "").unwrap();
    let no_group = call(port, "GET", "/v1/groups/zzz", "").unwrap();
    let setup_after = call(port, "GET", "/v1/setup", "").unwrap();
    // --linger: Ctrl-C ends it.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    output_within(child, Duration::from_secs(30));
    // The metrics both list, with their types and sample keys; the iteration count exactly.
    let mut listed = serde_json::Map::new();
    for m in metrics.1["data"].as_array().unwrap() {
        let a = &m["attributes"];
        let keys: Vec<&String> = a["sample"].as_object().unwrap().keys().collect();
        listed.insert(
            m["id"].as_str().unwrap().to_string(),
            json!({"type": a["type"], "contains": a["contains"], "tainted": a["tainted"], "keys": keys}),
        );
    }
    let iterations = metrics.1["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "iterations")
        .map(|m| m["attributes"]["sample"]["count"].clone());
    let error_title = |r: &(u16, Value)| json!([r.0, r.1["errors"][0]["title"]]);
    json!({
        "paused": paused,
        "setup_before": setup_before.1,
        "pause_again": pause_again,
        "vus": vus,
        "bad": error_title(&bad),
        "put": put,
        "cleared": cleared,
        "wrong_method": wrong_method.0,
        "pause_running": pause_running,
        "ended": {"status": ended["status"], "running": ended["running"], "tainted": ended["tainted"], "paused": ended["paused"], "vus-max": ended["vus-max"]},
        "metrics": listed,
        "iterations": iterations,
        "counter": {"code": counter.0, "id": counter.1["data"]["id"], "count": counter.1["data"]["attributes"]["sample"]["count"], "tainted": counter.1["data"]["attributes"]["tainted"]},
        "missing": missing,
        "groups": groups,
        "one_group": one_group,
        "no_group": no_group,
        "setup_after": setup_after,
    })
}

#[test]
fn a_paused_run_waits_for_the_starters_patch_and_answers_as_k6_does() {
    let dir = tempfile::tempdir().unwrap();
    let got = operator_session(brunt_cmd(), dir.path());
    let a = &got["paused"];
    assert_eq!(
        (
            &a["status"],
            &a["paused"],
            &a["vus-max"],
            &a["running"],
            &a["stopped"]
        ),
        (
            &json!(4),
            &json!(true),
            &json!(2),
            &json!(false),
            &json!(false)
        ),
        "paused before the run, VUs initialised: {a}"
    );
    assert_eq!(
        got["setup_before"],
        json!({"data": {"type": "setupData", "id": "default", "attributes": {}}})
    );
    assert_eq!(
        got["pause_again"],
        json!([500, {"errors": [{"status": "500", "title": "Pause error", "detail": "execution is already paused"}]}])
    );
    assert_eq!(got["pause_running"][1]["errors"][0]["detail"], "shared-iterations executor 'default' doesn't support pause and resume operations after its start");
    assert_eq!(got["bad"], json!([400, "Invalid data"]));
    assert_eq!(
        got["put"][1]["data"]["attributes"],
        json!({"data": {"x": 1}})
    );
    assert_eq!(got["wrong_method"], 405);
    assert_eq!(got["iterations"], 20.0, "{got}");
    assert_eq!(got["counter"]["tainted"], true, "{got}");
    assert_eq!(got["ended"]["tainted"], true);
    let checks = &got["groups"][1]["data"][1]["attributes"]["checks"][0];
    assert_eq!(
        (&checks["passes"], &checks["fails"]),
        (&json!(20), &json!(0)),
        "{got}"
    );
    assert_eq!(
        got["setup_after"][1]["data"]["attributes"]["data"]["hello"],
        "world"
    );

    let Some(k6) = k6() else {
        eprintln!("k6 not installed: the comparison with k6 is skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let want = operator_session(k6_cmd(&k6), dir.path());
    for key in [
        "paused",
        "setup_before",
        "pause_again",
        "vus",
        "bad",
        "put",
        "cleared",
        "wrong_method",
        "pause_running",
        "ended",
        "iterations",
        "counter",
        "missing",
        "groups",
        "one_group",
        "no_group",
        "setup_after",
    ] {
        assert_eq!(
            got[key], want[key],
            "{key}: brunt (left) and k6 (right) differ"
        );
    }
    for (id, k6_metric) in want["metrics"].as_object().unwrap() {
        if let Some(mine) = got["metrics"].get(id) {
            assert_eq!(
                mine, k6_metric,
                "metric {id}: brunt (left) and k6 (right) differ"
            );
        }
    }
    for id in [
        "iterations",
        "iteration_duration",
        "my_counter",
        "checks",
        "vus",
        "vus_max",
    ] {
        assert!(got["metrics"].get(id).is_some(), "brunt lists {id}: {got}");
    }
}

/// A run stopped through the API ends as k6's does: exit 103, the reason logged, the summary
/// written; paused or running.
fn stopped(cmd: Command, dir: &Path, paused: bool) -> (Output, Value) {
    let script = dir.join("long.js");
    std::fs::write(
        &script,
        "import { sleep } from 'k6';\nexport const options = { vus: 1, duration: '30s' };\nexport default function () { sleep(0.1); }\n",
    )
    .unwrap();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let summary = dir.join("summary.json");
    let mut args = vec![
        "run",
        "-q",
        "--address",
        &address,
        "--summary-export",
        summary.to_str().unwrap(),
        script.to_str().unwrap(),
    ];
    if paused {
        args.push("--paused");
    }
    let mut child = spawn(cmd, &args);
    wait_for_api(port, &mut child);
    if !paused {
        wait_until(port, "running", |s| s["running"] == true);
        std::thread::sleep(Duration::from_millis(500));
    }
    let (code, body) = patch(port, json!({"stopped": true}));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["attributes"]["stopped"], true, "{body}");
    let out = output_within(child, Duration::from_secs(30));
    let export: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    (out, export)
}

#[test]
fn a_stop_through_the_api_exits_103_with_the_summary_written() {
    for paused in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (out, export) = stopped(brunt_cmd(), dir.path(), paused);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(103), "paused={paused}: {err}");
        assert!(err.contains("test run stopped from REST API"), "{err}");
        let iterations = export["metrics"]["iterations"]["count"]
            .as_f64()
            .unwrap_or(0.0);
        assert_eq!(
            iterations == 0.0,
            paused,
            "nothing ran only when paused: {export}"
        );
        if let Some(k6) = k6() {
            let dir = tempfile::tempdir().unwrap();
            let (k6_out, _) = stopped(k6_cmd(&k6), dir.path(), paused);
            assert_eq!(
                out.status.code(),
                k6_out.status.code(),
                "paused={paused}: as k6"
            );
        }
    }
}

#[test]
fn setup_runs_through_the_api_while_paused_and_its_data_reaches_the_vus() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.js");
    std::fs::write(&script, SCRIPT).unwrap();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let summary = dir.path().join("summary.json");
    let mut child = spawn(
        brunt_cmd(),
        &[
            "run",
            "-q",
            "--paused",
            "--no-setup",
            "--no-teardown",
            "--address",
            &address,
            "--summary-export",
            summary.to_str().unwrap(),
            script.to_str().unwrap(),
        ],
    );
    wait_for_api(port, &mut child);
    wait_until(port, "paused before the run", |s| s["status"] == 4);
    let (code, body) = call(port, "POST", "/v1/setup", "").unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["data"]["attributes"]["data"],
        json!({"hello": "world", "n": 3})
    );
    assert_eq!(patch(port, json!({"paused": false})).0, 200);
    let out = output_within(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(99), "my_counter's threshold fails");
    let export: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let check = &export["root_group"]["groups"]["g1"]["checks"]["has data"];
    assert_eq!(
        (&check["passes"], &check["fails"]),
        (&json!(20), &json!(0)),
        "{export}"
    );
}

/// setup() returns data, the default function does nothing, teardown() counts its calls.
const HOOKS: &str = r#"
import { Counter } from 'k6/metrics';
const torn = new Counter('torn_down');
export const options = { vus: 1, iterations: 2 };
export function setup() { return { v: 1 }; }
export default function () {}
export function teardown(data) { if (data && data.v === 1) torn.add(1); }
"#;

/// `run --linger` with `flags`: after the test, `POST /v1/setup` and `POST /v1/teardown`
/// through the API, then Ctrl-C; what a client and the summary see.
fn lingering_hooks(cmd: Command, dir: &Path, flags: &[&str]) -> Value {
    let script = dir.join("hooks.js");
    std::fs::write(&script, HOOKS).unwrap();
    let summary = dir.join("summary.json");
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let mut args = vec![
        "run",
        "--linger",
        "--address",
        &address,
        "--summary-export",
        summary.to_str().unwrap(),
    ];
    args.extend(flags);
    args.push(script.to_str().unwrap());
    let mut child = spawn(cmd, &args);
    wait_for_api(port, &mut child);
    let ended = wait_until(port, "ended", |s| s["status"] == 9);
    let setup = call(port, "POST", "/v1/setup", "").unwrap();
    let teardown = call(port, "POST", "/v1/teardown", "").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let still_up = child.try_wait().unwrap().is_none();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = output_within(child, Duration::from_secs(30));
    let export: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    json!({
        "ended": ended["status"],
        "teardown": [teardown.0, teardown.1],
        "setup": [setup.0, setup.1],
        "still_up": still_up,
        "torn_down": export["metrics"]["torn_down"]["count"],
        "exit": out.status.code(),
        "said": stdout.contains("The test is done, but --linger was enabled, so"),
    })
}

/// k6 v1.1's `--linger` waits after the test (its teardown run) and before the summary: a
/// teardown run through the API then (k6-operator's stopper does it on runners started with
/// `--no-setup --no-teardown --linger`) gets setup()'s data and counts in the summary.
#[test]
fn with_linger_the_api_runs_teardown_after_the_test_and_the_summary_counts_it_as_k6() {
    for (flags, torn_down) in [(&[][..], 2.0), (&["--no-setup", "--no-teardown"][..], 1.0)] {
        let dir = tempfile::tempdir().unwrap();
        let got = lingering_hooks(brunt_cmd(), dir.path(), flags);
        assert_eq!(got["teardown"], json!([200, null]), "{flags:?}: {got}");
        assert_eq!(
            got["setup"],
            json!([200, {"data": {"type": "setupData", "id": "default", "attributes": {"data": {"v": 1}}}}]),
            "{flags:?}: {got}"
        );
        assert_eq!(
            got["still_up"], true,
            "{flags:?}: --linger keeps the run open"
        );
        assert_eq!(got["said"], true, "{flags:?}: {got}");
        assert_eq!(got["exit"], 0, "{flags:?}: {got}");
        // The test's own teardown (unless --no-teardown), then the API's, with setup()'s data.
        assert_eq!(got["torn_down"], torn_down, "{flags:?}: {got}");
        if let Some(k6) = k6() {
            let dir = tempfile::tempdir().unwrap();
            let want = lingering_hooks(k6_cmd(&k6), dir.path(), flags);
            assert_eq!(got, want, "{flags:?}: brunt (left) and k6 (right) differ");
        }
    }
}

#[test]
fn an_address_that_cannot_be_bound_exits_106_and_an_empty_one_serves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.js");
    std::fs::write(&script, "export default function () {}\n").unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let s = script.to_str().unwrap();
    let out = common::brunt(&["run", "-q", "--address", &address, s]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(106), "{err}");
    assert!(
        err.contains("Error from API server") && err.contains(&address),
        "{err}"
    );
    let out = common::brunt(&["run", "-q", "--address", "", s]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
}
