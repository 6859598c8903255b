//! `k6/ws` against an independent server: `tests/ws/server.py`, on Python's `websockets`, started
//! on loopback by the test. Skipped (with a note) where that library is not installed; the
//! `wss://` test also where the openssl command is missing.

mod common;

use brunt_js::{exit, run, RunArgs};
use common::{all_checks_pass, python_server, run_script, Server};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ws")
}

/// Starts the server; its plain, TLS (0 without openssl) and misbehaving ports. None when
/// Python or its `websockets` library is missing.
fn server() -> Option<(Server, u16, u16, u16)> {
    let (server, ports) = python_server(&dir().join("server.py"), &[])?;
    Some((server, *ports.first()?, *ports.get(1)?, *ports.get(2)?))
}

/// Runs `script` from tests/ws with `env`; returns the exit code and the summary export.
fn run_ws(script: &str, env: Vec<String>) -> (i32, Value) {
    run_script(&dir().join(script), env)
}

#[test]
fn ws_connect_runs_handlers_and_records_k6_metrics() {
    let Some((_server, port, _, bad)) = server() else {
        eprintln!("note: python3 with `websockets` is not installed; the k6/ws test is skipped");
        return;
    };
    let env = vec![
        format!("WS_URL=ws://127.0.0.1:{port}"),
        format!("BAD_URL=ws://127.0.0.1:{bad}"),
    ];
    let (code, ex) = run_ws("ws.js", env);
    assert_eq!(all_checks_pass(&ex), 21, "{ex}");
    assert_eq!(code, exit::OK, "a threshold failed: {ex}");
    for m in ["ws_connecting", "ws_session_duration", "ws_ping{room:a}"] {
        assert!(ex["metrics"][m]["avg"].is_number(), "{m}: {ex}");
    }
    assert_eq!(ex["metrics"]["ws_sessions"]["count"], 10, "{ex}");
}

#[test]
fn wss_uses_the_runs_tls_settings() {
    let Some((_server, _, tls, _)) = server().filter(|s| s.2 != 0) else {
        eprintln!(
            "note: python3 with `websockets`, or openssl, is missing; the wss test is skipped"
        );
        return;
    };
    let url = format!("WSS_URL=wss://127.0.0.1:{tls}");
    for insecure in ["0", "1"] {
        let (code, ex) = run_ws("wss.js", vec![url.clone(), format!("INSECURE={insecure}")]);
        assert_eq!(code, exit::OK, "{ex}");
        assert!(all_checks_pass(&ex) > 0, "{ex}");
    }
}

#[test]
fn the_throw_option_makes_a_failed_connection_an_exception() {
    let (code, ex) = run_ws("throw.js", vec![]);
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(all_checks_pass(&ex), 1, "{ex}");
}

#[test]
fn a_socket_left_open_is_interrupted_at_the_scenarios_end() {
    let Some((_server, port, _, _)) = server() else {
        eprintln!("note: python3 with `websockets` is not installed; the k6/ws test is skipped");
        return;
    };
    let (code, ex) = run_ws("stop.js", vec![format!("WS_URL=ws://127.0.0.1:{port}")]);
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(ex["metrics"]["ws_sessions"]["count"], 1, "{ex}");
    // The interrupted session's duration is recorded (a second in), as k6 records it.
    let min = ex["metrics"]["ws_session_duration"]["min"].as_f64();
    assert!(min > Some(500.0), "{ex}");
}

/// Runs `script` from tests/ws against the Python server (WS_URL, and BAD_URL for its
/// misbehaving port); None, with a note, where Python's `websockets` is missing.
fn run_on_server(script: &str) -> Option<(i32, Value)> {
    let Some((_server, port, _, bad)) = server() else {
        eprintln!("note: python3 with `websockets` is not installed; {script} is skipped");
        return None;
    };
    let env = vec![
        format!("WS_URL=ws://127.0.0.1:{port}"),
        format!("BAD_URL=ws://127.0.0.1:{bad}"),
    ];
    Some(run_ws(script, env))
}

#[test]
fn websockets_drive_several_sockets_per_vu_with_k6s_events_and_errors() {
    let Some((code, ex)) = run_on_server("websockets.js") else {
        return;
    };
    assert_eq!(all_checks_pass(&ex), 28, "{ex}");
    assert_eq!(code, exit::OK, "a threshold failed: {ex}");
}

#[test]
fn websockets_left_open_are_closed_at_the_scenarios_end() {
    let Some((code, ex)) = run_on_server("websockets_stop.js") else {
        return;
    };
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(ex["metrics"]["ws_sessions"]["count"], 3, "{ex}");
    // Each session's duration was recorded when the scenario's end closed it (a second in).
    let min = ex["metrics"]["ws_session_duration"]["min"].as_f64();
    assert!(min > Some(500.0), "{ex}");
    let received = ex["metrics"]["data_received"]["count"].as_u64();
    assert!(received > Some(0), "{ex}");
}

#[test]
fn a_throwing_websocket_listener_closes_its_socket_and_fails_the_iteration() {
    let Some((code, ex)) = run_on_server("websockets_throw.js") else {
        return;
    };
    assert_eq!(code, exit::OK, "{ex}");
    assert_eq!(ex["metrics"]["checks"]["passes"], 2, "{ex}");
    assert_eq!(ex["metrics"]["iterations"]["count"], 2, "{ex}");
}

#[test]
fn websocket_bytes_count_in_data_and_the_ip_tag_is_there_when_enabled() {
    let Some((code, ex)) = run_on_server("bytes_and_ip.js") else {
        return;
    };
    assert_eq!(code, exit::OK, "a threshold failed: {ex}");
}

#[test]
fn oversized_messages_and_silent_servers_end_as_errors_not_hangs() {
    let Some((code, ex)) = run_on_server("limits.js") else {
        return;
    };
    assert_eq!(all_checks_pass(&ex), 4, "{ex}");
    assert_eq!(code, exit::OK, "{ex}");
}

#[test]
fn compression_deflate_is_permessage_deflate_under_both_modules() {
    let Some((code, ex)) = run_on_server("deflate.js") else {
        return;
    };
    assert_eq!(all_checks_pass(&ex), 9, "{ex}");
    assert_eq!(
        code,
        exit::OK,
        "a threshold failed (the bytes went uncompressed?): {ex}"
    );
}

#[test]
fn an_init_error_after_importing_websockets_is_a_script_error_not_a_crash() {
    let args = RunArgs {
        script: dir().join("init_throws.js"),
        quiet: true,
        no_summary: true,
        workers: Some(1),
        ..Default::default()
    };
    assert_eq!(run(args).expect("run completes"), exit::SCRIPT_EXCEPTION);
}
