//! `k6/net/grpc` scripts (`tests/grpc/`) against brunt target's gRPC services, started in the
//! test, and against an independent server on grpcio (`tests/grpc/server.py`, with
//! grpcio-reflection and grpcio-health-checking), started on loopback by the test; the Python
//! tests are skipped (with a note) where those libraries are not installed.

mod common;

use brunt_js::{exit, run, RunArgs};
use common::{all_checks_pass, python_server, run_script, Server};
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/grpc")
}

/// Starts the grpcio server (writing its protoset to `protoset`); its two ports (with and
/// without reflection). None when Python or its grpc libraries are missing.
fn grpcio_server(protoset: &Path) -> Option<(Server, u16, u16)> {
    let args = [OsStr::new("--protoset"), protoset.as_os_str()];
    let (server, ports) = python_server(&dir().join("server.py"), &args)?;
    Some((server, *ports.first()?, *ports.get(1)?))
}

/// Runs `script` from tests/grpc with `env`; returns the exit code and the summary export.
fn run_grpc(script: &str, env: Vec<String>) -> (i32, Value) {
    run_script(&dir().join(script), env)
}

fn target() -> brunt_target::Target {
    brunt_target::spawn("127.0.0.1:0".parse().unwrap()).expect("target starts")
}

#[test]
fn calls_against_brunt_target() {
    let t = target();
    let (code, ex) = run_grpc("calls.js", vec![format!("GRPC_ADDR={}", t.local_addr())]);
    assert_eq!(all_checks_pass(&ex), 22, "{ex}");
    assert_eq!(code, exit::OK, "a threshold failed: {ex}");
    assert!(
        ex["metrics"]["data_sent"]["count"].as_f64().unwrap() > 0.0,
        "{ex}"
    );
    assert!(
        ex["metrics"]["data_received"]["count"].as_f64().unwrap() > 0.0,
        "{ex}"
    );
}

#[test]
fn calls_carry_the_runs_trace_context_and_run_id() {
    let t = target();
    let out =
        std::env::temp_dir().join(format!("brunt-js-grpc-traced-{}.json", std::process::id()));
    let export = out.with_extension("summary.json");
    let args = RunArgs {
        script: dir().join("traced.js"),
        env: vec![format!("GRPC_ADDR={}", t.local_addr())],
        summary_export: Some(export.clone()),
        out: vec![format!("json={}", out.display())],
        quiet: true,
        no_summary: true,
        workers: Some(1),
        ..Default::default()
    };
    assert_eq!(run(args).expect("run completes"), exit::OK);
    let ex: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    // Both checks of each of the 3 iterations passed.
    assert_eq!(ex["metrics"]["checks"]["passes"], 6, "{ex}");
    assert_eq!(ex["metrics"]["checks"]["fails"], 0, "{ex}");
    // Every call's duration sample carries its own trace (k6's metadata.trace_id shape).
    let lines = std::fs::read_to_string(&out).unwrap();
    let traces: std::collections::HashSet<String> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["metric"] == "grpc_req_duration" && v["type"] == "Point")
        .map(|v| {
            v["data"]["metadata"]["trace_id"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let _ = (std::fs::remove_file(&out), std::fs::remove_file(&export));
    assert_eq!(traces.len(), 3, "one trace a call: {traces:?}");
    assert!(traces.iter().all(|t| t.len() == 32), "{traces:?}");
}

#[test]
fn streams_against_brunt_target() {
    let t = target();
    let addr = format!("GRPC_ADDR={}", t.local_addr());
    for reflect in ["", "1"] {
        let (code, ex) = run_grpc(
            "streams.js",
            vec![addr.clone(), format!("GRPC_REFLECT={reflect}")],
        );
        assert_eq!(all_checks_pass(&ex), 6, "{ex}");
        assert_eq!(code, exit::OK, "a threshold failed: {ex}");
    }
}

#[test]
fn reflection_against_brunt_target() {
    let t = target();
    let (code, ex) = run_grpc("reflect.js", vec![format!("GRPC_ADDR={}", t.local_addr())]);
    assert_eq!(all_checks_pass(&ex), 1, "{ex}");
    assert_eq!(code, exit::OK, "{ex}");
}

#[test]
fn the_k6_compare_script_passes_under_brunt() {
    // tests/scripts/grpc.js, which k6-compare.py also runs under k6 v1.1.
    let t = target();
    let (code, ex) = run_grpc(
        "../scripts/grpc.js",
        vec![format!("BASE_URL={}", t.url(""))],
    );
    assert_eq!(all_checks_pass(&ex), 10, "{ex}");
    assert_eq!(code, exit::OK, "a threshold failed: {ex}");
}

#[test]
fn the_same_scripts_against_grpcio() {
    let protoset =
        std::env::temp_dir().join(format!("brunt-js-grpc-{}.protoset", std::process::id()));
    let Some((_server, port, plain)) = grpcio_server(&protoset) else {
        eprintln!("note: python3 with grpcio, grpcio-reflection and grpcio-health-checking is not installed; the grpcio test is skipped");
        return;
    };
    let addr = format!("GRPC_ADDR=127.0.0.1:{port}");
    let (code, ex) = run_grpc("calls.js", vec![addr.clone()]);
    assert_eq!(all_checks_pass(&ex), 22, "{ex}");
    assert_eq!(code, exit::OK, "{ex}");
    let (code, ex) = run_grpc("streams.js", vec![addr.clone(), "GRPC_REFLECT=1".into()]);
    assert_eq!(all_checks_pass(&ex), 6, "{ex}");
    assert_eq!(code, exit::OK, "{ex}");
    let env = vec![
        addr,
        format!("NOREFLECT_ADDR=127.0.0.1:{plain}"),
        format!("PROTOSET={}", protoset.display()),
    ];
    let (code, ex) = run_grpc("reflect.js", env);
    assert_eq!(all_checks_pass(&ex), 4, "{ex}");
    assert_eq!(code, exit::OK, "{ex}");
    let _ = std::fs::remove_file(&protoset);
}

#[test]
fn connects_tls_param_brings_cas_and_client_certificates() {
    let certs = std::env::temp_dir().join(format!("brunt-js-grpc-certs-{}", std::process::id()));
    std::fs::create_dir_all(&certs).unwrap();
    let args = [OsStr::new("--tls"), certs.as_os_str()];
    let Some((_server, ports)) = python_server(&dir().join("server.py"), &args) else {
        eprintln!("note: python3 with grpcio is not installed; the gRPC TLS test is skipped");
        return;
    };
    let Some(&port) = ports.get(2).filter(|p| **p != 0) else {
        eprintln!("note: the openssl command is missing; the gRPC TLS test is skipped");
        return;
    };
    let env = vec![
        format!("CERTS={}", certs.display()),
        format!("TLS_ADDR=127.0.0.1:{port}"),
    ];
    let (code, ex) = run_grpc("tls.js", env);
    let _ = std::fs::remove_dir_all(&certs);
    assert_eq!(all_checks_pass(&ex), 9, "{ex}");
    assert_eq!(code, exit::OK, "{ex}");
}
