//! The progress lines while a run goes: redrawn in place in a real pseudo-terminal (`script`
//! gives the run one), plain lines every few seconds when stderr is a pipe, nothing with `-q`.

mod common;

use common::{brunt_cmd, output_within, stderr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Two scenarios with plans of their own: `browse` loops for 2 s with iterations that run 2.5 s
/// past it (so the run is seen stopping), `orders` starts 10 iterations a second for 3 s.
fn two_scenarios(dir: &Path, base: &str) -> String {
    let script = dir.join("two.js");
    std::fs::write(
        &script,
        format!(
            r#"import http from 'k6/http';
import {{ sleep }} from 'k6';
export const options = {{ scenarios: {{
  browse: {{ executor: 'ramping-vus', stages: [{{ duration: '1s', target: 2 }}, {{ duration: '1s', target: 2 }}], exec: 'browse' }},
  orders: {{ executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s', duration: '3s', preAllocatedVUs: 2, exec: 'orders' }},
}} }};
export function browse() {{ http.get('{base}/json'); sleep(4.5); }}
export function orders() {{ http.get('{base}/json'); }}
"#
        ),
    )
    .unwrap();
    script.to_str().unwrap().to_string()
}

/// Runs `brunt ARGS` in a pseudo-terminal and returns what the terminal received.
fn in_terminal(args: &[&str]) -> String {
    let bin = env!("CARGO_BIN_EXE_brunt");
    let line = std::iter::once(bin)
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux runs the test's pseudo-terminal");
    let out = output_within(child, Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `text` without its CSI escape sequences (ESC `[` parameters, then a letter).
fn without_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.next() == Some('[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn a_terminal_gets_one_line_per_scenario_redrawn_in_place() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("http://{}", target.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let script = two_scenarios(dir.path(), &base);
    let shown = in_terminal(&["run", "--no-summary", &script]);
    // Redrawn: the cursor goes back up over the lines (indicatif's ESC [ n A).
    assert!(
        shown.contains("\x1b[2A") || shown.contains("\x1b[3A"),
        "{shown:?}"
    );
    let plain = without_escapes(&shown);
    let lines: Vec<&str> = plain.split(['\r', '\n']).collect();
    let has = |start: &str, part: &str| {
        lines
            .iter()
            .any(|l| l.trim_start().starts_with(start) && l.contains(part))
    };
    // Each scenario against its own plan; the run against 3 s, its graceful stop left out.
    assert!(has("browse [=", "/02.0s  "), "{shown}");
    assert!(
        has("orders [=", "/03.0s  ") && has("orders", "10.00 iters/s"),
        "{shown}"
    );
    assert!(has("running [", "/03.0s  "), "{shown}");
    assert!(!shown.contains("/33.0s"), "{shown}");
    // Past the plan, iterations finishing: the run says so.
    assert!(has("stopping (gracefulStop 30s) [", "/03.0s"), "{shown}");

    let quiet = in_terminal(&["run", "-q", "--no-summary", &script]);
    assert!(
        !quiet.contains("running [") && !quiet.contains("browse ["),
        "{quiet}"
    );
}

#[test]
fn a_pipe_gets_plain_lines_every_few_seconds() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/json", target.local_addr());
    let child = brunt_cmd()
        .args(["quick", &url, "--vus", "1", "--duration", "6s"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains('\x1b') && !err.contains('\r'), "{err:?}");
    let running: Vec<&str> = err.lines().filter(|l| l.starts_with("running [")).collect();
    assert_eq!(running.len(), 1, "one block at 5 s of a 6 s run:\n{err}");
    assert!(
        running[0].contains("% ] 05.") && running[0].contains("/06.0s"),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("default [") && l.contains(" 1/1 VUs")),
        "{err}"
    );
}
