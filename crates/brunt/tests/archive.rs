//! `brunt archive`: the archive carries the script, its imports, the files it opened, its options
//! and `-e` values, so that it runs after the originals are gone; `brunt run` and `brunt
//! inspect` take k6's archives too, inspecting them as k6 does (when `k6` is installed).

mod common;

use common::{brunt, stderr};
use serde_json::Value;
use std::path::Path;

/// The test script of these tests, as `test.js` in `dir`.
fn write_test(dir: &Path) -> std::path::PathBuf {
    common::write_archivable_test(dir, "test.js")
}

/// Runs the archive `tar` with `flags` (no REST API) and returns its summary export.
fn run_archive(tar: &Path, flags: &[&str]) -> Value {
    let export = tar.with_extension("summary.json");
    let mut args = vec!["run", "-q", "--address", "", "--summary-export"];
    args.push(export.to_str().unwrap());
    args.extend(flags);
    args.push(tar.to_str().unwrap());
    let out = brunt(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap()
}

#[test]
fn an_archive_runs_without_the_original_files_with_its_options_and_env() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let script = write_test(&src);
    let tar = dir.path().join("test.tar");
    let out = brunt(&[
        "archive",
        script.to_str().unwrap(),
        "-e",
        "WHO=archived",
        "--vus",
        "2",
        "--iterations",
        "10",
        "-O",
        tar.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::remove_dir_all(&src).unwrap();

    let s = run_archive(&tar, &[]);
    assert_eq!(s["metrics"]["iterations"]["count"], 10.0, "{s}");
    assert_eq!(s["metrics"]["lines"]["count"], 30.0, "{s}");

    let out = brunt(&["inspect", "--execution-requirements", tar.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let inspected: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected["maxVUs"], 2, "{inspected}");
    assert_eq!(
        inspected["thresholds"]["lines"][0], "count>0",
        "{inspected}"
    );

    // A flag given now overrides the archived options.
    let s = run_archive(&tar, &["--iterations", "4"]);
    assert_eq!(s["metrics"]["iterations"]["count"], 4.0, "{s}");
}

#[test]
fn k6s_archives_run_under_brunt_and_inspect_as_under_k6() {
    let Some(k6) = common::k6() else {
        eprintln!("k6 not installed: skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let script = write_test(&src);
    let k6_tar = dir.path().join("k6.tar");
    let out = std::process::Command::new(&k6)
        .args([
            "archive",
            script.to_str().unwrap(),
            "-e",
            "WHO=archived",
            // k6 cannot inspect its own archive of `-i` without `-u` (no VUs in its options).
            "-u",
            "2",
            "-i",
            "6",
            "-O",
        ])
        .arg(&k6_tar)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&src).unwrap();

    assert_eq!(run_archive(&k6_tar, &[])["metrics"]["lines"]["count"], 18.0);

    let mine = brunt(&[
        "inspect",
        "--execution-requirements",
        k6_tar.to_str().unwrap(),
    ]);
    let theirs = std::process::Command::new(&k6)
        .args(["inspect", "--execution-requirements"])
        .arg(&k6_tar)
        .output()
        .unwrap();
    let [mine, theirs]: [Value; 2] =
        [&mine.stdout, &theirs.stdout].map(|o| serde_json::from_slice(o).unwrap());
    for key in ["maxVUs", "totalDuration", "thresholds", "vus", "iterations"] {
        assert_eq!(
            mine[key], theirs[key],
            "{key}: brunt (left) and k6 (right) differ"
        );
    }
}

/// `inspect | head`: a reader that goes away early gets no panic, but a message and exit 74.
#[test]
fn inspect_into_a_closed_pipe_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_test(&dir.path().join("src"));
    let mut child = common::brunt_cmd()
        .args(["inspect", script.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = common::output_within(child, std::time::Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
