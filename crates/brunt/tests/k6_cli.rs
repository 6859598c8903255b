//! The `k6 run` command line as k6 users type it: the summary's layout compared with the real
//! k6's (when `k6` is on PATH), `--summary-mode`, `--config`, the flags brunt accepts, those it
//! refuses by name, `brunt new` and `brunt version`. Flags that change a run: `k6_run_flags.rs`.

mod common;

use common::{brunt, brunt_cmd, fails_with, k6, stderr};
use std::path::Path;
use std::process::Command;

/// Checks, thresholds (one on a sub-metric), nested groups, a custom counter and trend, two
/// scenarios: every part of the summary's layout. 32 requests to a loopback target. k6 and brunt
/// both list checks in the order they were first recorded, so the second scenario starts later:
/// run at once, which VU checks first is a race in either tool.
const SCRIPT: &str = r#"
import http from 'k6/http';
import { check, group } from 'k6';
import { Counter, Trend } from 'k6/metrics';
const myc = new Counter('my_counter');
const myt = new Trend('my_trend', true);
export const options = {
  scenarios: {
    one: { executor: 'shared-iterations', vus: 1, iterations: 30, exec: 'a' },
    two: { executor: 'per-vu-iterations', vus: 2, iterations: 1, exec: 'b', startTime: '500ms' },
  },
  thresholds: {
    http_req_duration: ['p(95)<10000', 'avg<20000'],
    checks: ['rate>0.4'],
    'my_counter{kind:x}': ['count>0'],
  },
};
export function a() {
  group('g1', () => {
    const r = http.get(`${__ENV.BASE}/get`);
    check(r, { 'is 200': (r) => r.status === 200, 'fails': () => false });
    myc.add(1, { kind: 'x' });
  });
}
export function b() {
  group('g2', () => {
    group('inner', () => { check(1, { 'inner ok': () => true }); myt.add(12); });
  });
  http.get(`${__ENV.BASE}/status/404`);
}
"#;

fn script(dir: &Path) -> String {
    let path = dir.join("layout.js");
    std::fs::write(&path, SCRIPT).unwrap();
    path.to_str().unwrap().to_string()
}

/// The summary's lines with numbers, units, dot leaders and padding normalised, without the
/// lines whose data legitimately differs (vus are sampled once a second; k6 may have none).
fn shape(text: &str) -> Vec<String> {
    let start = text.find("█ THRESHOLDS").expect("a THRESHOLDS section");
    let body = &text[start..];
    // k6's progress lines follow its summary; brunt's own lines (request errors, run facts)
    // follow brunt's.
    let end = ["\nrunning (", "\n     request errors", "\n     running ("]
        .iter()
        .filter_map(|m| body.find(m))
        .min()
        .unwrap_or(body.len());
    let mut out = Vec::new();
    for line in body[..end].lines() {
        let t = line.trim_start();
        if t.starts_with("vus") || t.starts_with("WARNING") || t.starts_with("* ") {
            continue;
        }
        let indent = line.len() - t.len();
        let mut s = String::new();
        let mut chars = t.chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() {
                while chars.peek().is_some_and(|c| {
                    c.is_ascii_alphanumeric() || *c == '.' || *c == 'µ' || *c == '%'
                }) {
                    chars.next();
                }
                s.push('N');
            } else if c == '.' && chars.peek() == Some(&'.') {
                while chars.peek() == Some(&'.') {
                    chars.next();
                }
                s.push_str("...");
            } else if c == ' ' {
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
                s.push(' ');
            } else {
                s.push(c);
            }
        }
        for unit in [" kB", " MB", " GB"] {
            s = s.replace(unit, " B");
        }
        out.push(format!("{}{}", " ".repeat(indent), s.trim_end()));
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

#[test]
fn the_summary_has_k6s_layout_in_compact_and_full_modes() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("http://{}", target.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path());
    let stats = "avg,min,med,max,p(90),p(95)";
    for mode in ["compact", "full"] {
        let args = [
            "run",
            "--no-color",
            "--summary-mode",
            mode,
            "--summary-trend-stats",
            stats,
            "-e",
            &format!("BASE={base}"),
            &path,
        ];
        let out = brunt(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let ours = String::from_utf8_lossy(&out.stdout).into_owned();
        // What a user sees whatever k6 is installed: the sections in k6's order.
        for needle in [
            "  █ THRESHOLDS \n",
            "  █ TOTAL RESULTS \n",
            "    checks_succeeded...: ",
            "    ✗ fails\n      ↳  0% — ✓ 0 / ✗ 30\n",
            "    CUSTOM\n",
            "    HTTP\n",
            "    EXECUTION\n",
            "    NETWORK\n",
            "    ✓ 'rate>0.4' rate=",
            "    my_counter{kind:x}\n    ✓ 'count>0' count=30\n",
        ] {
            assert!(ours.contains(needle), "{mode}: no {needle:?} in\n{ours}");
        }
        assert_eq!(ours.contains("█ SCENARIO: one"), mode == "full", "{ours}");
        assert_eq!(ours.contains("http_req_waiting"), mode == "full", "{ours}");
        let Some(k6) = k6() else {
            eprintln!("k6 is not on PATH: the layout is not compared with k6's");
            continue;
        };
        let theirs = Command::new(&k6).args(args).output().unwrap();
        let theirs = String::from_utf8_lossy(&theirs.stdout).into_owned();
        assert_eq!(
            shape(&ours),
            shape(&theirs),
            "brunt:\n{ours}\nk6:\n{theirs}"
        );
    }
}

#[test]
fn legacy_mode_keeps_the_v0_layout_and_disabled_prints_none() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("BASE=http://{}", target.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path());
    let out = brunt(&["run", "--summary-mode", "legacy", "-e", &base, &path]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("     █ g1")
            && text.contains("   ✓ checks....")
            && !text.contains("TOTAL RESULTS"),
        "{text}"
    );
    let out = brunt_cmd()
        .args(["run", "-e", &base, &path])
        .env("K6_SUMMARY_MODE", "disabled")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("TOTAL RESULTS"));
    fails_with(
        &["run", "--summary-mode", "short", &path],
        104,
        "invalid --summary-mode 'short'",
    );
}

#[test]
fn a_config_file_sits_under_the_script_and_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.js");
    std::fs::write(
        &script,
        "export const options = { vus: 2 };\nexport default function () {}\n",
    )
    .unwrap();
    let config = dir.path().join("k6.json");
    std::fs::write(
        &config,
        r#"{"vus": 5, "iterations": 7, "userAgent": "from-config"}"#,
    )
    .unwrap();
    let s = script.to_str().unwrap();
    let c = config.to_str().unwrap();
    let out = brunt(&["inspect", "--config", c, s]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The script's vus win over the file's; what only the file sets is kept.
    assert_eq!(json["vus"], 2);
    assert_eq!(json["iterations"], 7);
    assert_eq!(json["userAgent"], "from-config");
    let out = brunt(&[
        "run",
        "-c",
        c,
        "--iterations",
        "3",
        "--summary-export",
        dir.path().join("e.json").to_str().unwrap(),
        s,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let e: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("e.json")).unwrap()).unwrap();
    assert_eq!(
        e["metrics"]["iterations"]["count"], 3,
        "the flag wins over the file"
    );
    std::fs::write(&config, "{\"vus\": 5,\n oops}").unwrap();
    fails_with(
        &["run", "--config", c, s],
        104,
        &format!("--config {c}: invalid JSON"),
    );
    fails_with(
        &["run", "--config", "/nonexistent/k6.json", s],
        104,
        "--config /nonexistent/k6.json: cannot read it",
    );
}

/// k6's two compatibility modes differ, since v0.53, only in `global`: an alias of `globalThis` in
/// `extended` (the default), undefined in `base`.
#[test]
fn global_aliases_global_this_except_in_base_mode() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.js");
    std::fs::write(
        &script,
        "let ref = 'ok';\ntry { global; } catch (e) { ref = e.name; }\nconsole.log(`global ${typeof global} ${typeof global === 'object' && global === globalThis} ${ref}`);\nexport default function () {}\n",
    )
    .unwrap();
    let s = script.to_str().unwrap();
    for (mode, line) in [
        (None, "global object true ok"),
        (Some("extended"), "global object true ok"),
        (Some("base"), "global undefined false ReferenceError"),
    ] {
        let mut args = vec!["run", "-q", "--iterations", "1"];
        if let Some(m) = mode {
            args.extend(["--compatibility-mode", m]);
        }
        args.push(s);
        let out = brunt(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{mode:?}: {err}");
        assert!(err.contains(line), "{mode:?}: no '{line}' in {err}");
    }
}

/// As in k6, `__ITER` exists only in iterations: the init context, `setup` and `teardown` naming
/// it get a ReferenceError.
#[test]
fn iter_is_defined_in_iterations_only() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.js");
    std::fs::write(
        &script,
        r#"const iter = () => { try { return __ITER; } catch (e) { return e.name; } };
console.log(`init ${iter()}`);
export function setup() { console.log(`setup ${iter()}`); }
export default function () { console.log(`iteration ${iter()}`); }
export function teardown() { console.log(`teardown ${iter()}`); }
"#,
    )
    .unwrap();
    let out = brunt(&["run", "-q", "--iterations", "2", script.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for line in [
        "init ReferenceError",
        "setup ReferenceError",
        "iteration 0",
        "iteration 1",
        "teardown ReferenceError",
    ] {
        assert!(err.contains(line), "no '{line}' in {err}");
    }
}

#[test]
fn k6_flags_are_accepted_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.js");
    std::fs::write(&script, "export default function () {}\n").unwrap();
    let s = script.to_str().unwrap();
    let out = brunt(&[
        "run",
        "-q",
        "-v",
        "--no-usage-report",
        "--compatibility-mode",
        "extended",
        "--log-output",
        "stderr",
        "--log-format",
        "text",
        "--batch",
        "5",
        "--batch-per-host",
        "2",
        "--iterations",
        "1",
        s,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(r#"\"batchPerHost\":2"#),
        "-v logs the options: {}",
        stderr(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("running ("),
        "-q: no final running line"
    );
    fails_with(
        &["run", "--system-tags", "status,iter", s],
        104,
        "--system-tags: the 'iter' system tag is not supported",
    );
    fails_with(
        &["run", "--compatibility-mode", "experimental_enhanced", s],
        104,
        "rename the script to .ts",
    );
    fails_with(
        &["run", "--batch", "0", s],
        104,
        "--batch: must be at least 1",
    );
    let out = brunt_cmd()
        .args(["run", s])
        .env("K6_SYSTEM_TAGS", "url,stauts")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(104));
    assert!(
        stderr(&out).contains("K6_SYSTEM_TAGS: unknown system tag 'stauts'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn new_writes_k6s_template_and_version_prints_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = brunt_cmd()
        .arg("new")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(dir.path().join("script.js")).unwrap();
    assert!(text.contains("export default function()") && text.contains("duration: '30s'"));
    let out = brunt_cmd()
        .arg("new")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("script.js already exists. Use the `--force` flag"));
    let out = brunt_cmd()
        .args(["new", "-f", "script.js"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let inspect = brunt(&["inspect", dir.path().join("script.js").to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(json["vus"], 10, "the template is a valid script");
    let out = brunt(&["version"]);
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with(&format!("brunt v{} (", env!("CARGO_PKG_VERSION"))),
        "{line}"
    );
}

#[test]
fn a_scenario_whose_function_is_not_exported_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("lib.js");
    std::fs::write(&s, "export function helper() {}\n").unwrap();
    let s = s.to_str().unwrap();
    fails_with(
        &["run", s],
        104,
        "scenarios.default: function 'default' not found in exports",
    );
}
