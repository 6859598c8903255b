//! Error budgets in the summary: thresholds that state an SLO get their budget, what the run
//! consumed and the burn rate, in `brunt quick` and `brunt run`, and `--slo-window` projects it.

mod common;

use common::brunt;
use std::net::SocketAddr;

fn target() -> brunt_target::Target {
    brunt_target::spawn(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap()
}

#[test]
fn quick_states_the_budget_burn_and_the_alert_a_30d_window_would_fire() {
    let t = target();
    // One request in ten fails: a 0.1% budget burns at about 100x.
    let out = brunt(&[
        "quick",
        &t.url("/status/200:9,500:1"),
        "--vus",
        "4",
        "--iterations",
        "400",
        "-q",
        "--threshold",
        "http_req_failed: rate<0.001",
        "--slo-window",
        "30d",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(99), "{stdout}");
    for needle in [
        "error budget http_req_failed rate<0.001: 0.1% of events may be bad (0.4 of 400)",
        "worst minute",
        "the 30d budget would be gone in",
        "the 1h/5m page rule (14.4x) would fire (judged on the run's",
    ] {
        assert!(stdout.contains(needle), "lacks '{needle}':\n{stdout}");
    }
}

#[test]
fn run_gives_a_latency_slo_its_budget() {
    let t = target();
    let script = std::env::temp_dir().join(format!("brunt-budget-{}.js", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "import http from 'k6/http';\n\
             export const options = {{ iterations: 20, thresholds: {{ http_req_duration: ['p(99)<5000', 'avg<5000'] }} }};\n\
             export default function () {{ http.get('{}'); }}\n",
            t.url("/")
        ),
    )
    .unwrap();
    let out = brunt(&["run", "-q", script.to_str().unwrap()]);
    let _ = std::fs::remove_file(&script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("error budget http_req_duration p(99)<5000: 1% of events may be bad (0.2 of 20); this run had 0 (0% of the budget), burn rate 0.00x"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("error budget").count(),
        1,
        "avg<5000 states no SLO"
    );
}

#[test]
fn a_bad_slo_window_names_the_flag() {
    common::fails_with(
        &["quick", "http://127.0.0.1:1/", "--slo-window", "soon"],
        1,
        "--slo-window 'soon'",
    );
}
