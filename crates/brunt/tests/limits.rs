//! Limits of the process that a run's VUs would pass (open files, memory mappings) are said
//! before the test starts, with the setting to raise, instead of failing VUs or connections
//! mid-test.

mod common;

use common::{brunt_cmd, output_within, stderr};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `brunt` with `args` under an open-file limit of 1,024 (soft and hard, so brunt cannot lift it).
fn under_1024_open_files(args: &[&str]) -> Output {
    let mut cmd = brunt_cmd();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 1024,
                rlim_max: 1024,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    run_bounded(cmd)
}

fn run_bounded(mut cmd: Command) -> Output {
    output_within(cmd.spawn().unwrap(), Duration::from_secs(60))
}

fn script(dir: &std::path::Path, body: &str) -> String {
    let path = dir.join("script.js");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn more_connecting_vus_than_open_files_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: the refusal comes before any VU or connection.
    let s = script(
        dir.path(),
        "import http from 'k6/http';\nexport default function () { http.get('http://127.0.0.1:9/'); }\n",
    );
    let out = under_1024_open_files(&["run", "-q", "--vus", "2000", "--duration", "30s", &s]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(104), "{err}");
    assert!(err.contains("2000 VUs may each hold a connection"), "{err}");
    assert!(err.contains("at most 1024 files (RLIMIT_NOFILE"), "{err}");
    assert!(err.contains("hard limit is 1024"), "{err}");

    let out = under_1024_open_files(&[
        "quick",
        "http://127.0.0.1:9/",
        "--vus",
        "2000",
        "--duration",
        "30s",
        "-q",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("2000 VUs may each hold a connection"), "{err}");
}

/// VUs that open no connections are not held to the open-file limit.
#[test]
fn vus_without_connections_are_not_held_to_the_open_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(
        dir.path(),
        "import { check } from 'k6';\nexport default function () { check(1, { one: (v) => v === 1 }); }\n",
    );
    let out = under_1024_open_files(&[
        "run",
        "-q",
        "--no-summary",
        "--vus",
        "1100",
        "--iterations",
        "1100",
        &s,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn more_vus_than_memory_mappings_allow_is_refused_up_front() {
    let max: u64 = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // More than a mapping per 128 VU stacks can hold, however the guard pages are made.
    let vus = (max * 128 + 1).to_string();
    let dir = tempfile::tempdir().unwrap();
    let s = script(dir.path(), "export default function () {}\n");
    let mut cmd = brunt_cmd();
    cmd.args(["run", "-q", "--vus", &vus, "--duration", "1s", &s])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = run_bounded(cmd);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(104), "{err}");
    assert!(err.contains(&format!("{vus} VUs need about")), "{err}");
    assert!(
        err.contains("raise vm.max_map_count (sysctl -w vm.max_map_count="),
        "{err}"
    );
}
