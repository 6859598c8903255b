//! `--monitor` and `options.monitors` end to end: a `brunt target` child process watched by pid,
//! by command name and through its own `/metrics`, a process killed mid-run, a real cgroup where
//! the machine lets the test make one, thresholds on the signals, and bad input.

mod common;

use common::{brunt_cmd, fails_with, output_within, target_process, Helper};
use serde_json::Value;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brunt-monitor-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A `brunt target` child process started as `name` (a link to the binary, so its command name
/// is its own), and its base URL once it listens.
fn target_child(name: &str) -> (Helper, String) {
    let link = tmp(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_brunt"), &link).unwrap();
    target_process(Command::new(&link), &[])
}

/// Runs `brunt quick` for 2 s with `args`, within 30 s, exporting the summary.
fn quick(name: &str, url: &str, args: &[&str]) -> (Output, Value) {
    let export = tmp(&format!("{name}.json"));
    let child = brunt_cmd()
        .args(["quick", url, "--vus", "1", "--duration", "2s", "-q"])
        .args(args)
        .args(["--summary-export", export.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, Duration::from_secs(30));
    let text = std::fs::read_to_string(&export).unwrap_or_else(|e| {
        panic!(
            "no summary export ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, serde_json::from_str(&text).unwrap())
}

fn stat(export: &Value, metric: &str, stat: &str) -> f64 {
    export["metrics"][metric][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("{metric}.{stat} missing in {}", export["metrics"]))
}

#[test]
fn a_target_process_is_watched_by_pid_command_name_and_its_own_metrics() {
    let name = format!("bt{}", std::process::id() % 1_000_000);
    let (target, url) = target_child(&name);
    let pid = target.0.id().to_string();
    let (out, export) = quick(
        "watched",
        &format!("{url}/"),
        &[
            "--monitor",
            &format!("api:pid={pid}"),
            "--monitor",
            &format!("cmd={name}"),
            "--monitor",
            &format!("prom:prometheus={url}/metrics,brunt_target_requests_total"),
            "--threshold",
            "target_memory_bytes{monitor:api}: max<1",
            "--threshold",
            "target_fds: max<100000",
        ],
    );
    drop(target);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(99), "{stdout}");
    // A real process: megabytes resident, some descriptors (the listener at least), a thread.
    assert!(stat(&export, "target_memory_bytes", "max") > 1e6);
    assert!(stat(&export, "target_fds", "max") >= 1.0);
    assert!(stat(&export, "target_threads", "max") >= 1.0);
    assert!(stat(&export, "target_cpu_percent", "max") > 0.0);
    assert!(stat(&export, "target_context_switches", "count") > 0.0);
    // The target counted the requests this run sent it.
    let served = stat(&export, "brunt_target_requests_total", "max");
    assert!(served > 10.0, "{served}");
    assert!(
        stdout.contains("target_memory_bytes{monitor:api}\n    ✗ 'max<1'"),
        "the failed threshold is marked:\n{stdout}"
    );
    assert!(
        stdout.contains("target_fds\n    ✓ 'max<100000'"),
        "{stdout}"
    );
}

#[test]
fn a_process_killed_mid_run_is_an_event_and_the_run_goes_on() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    // A child of this test, not reaped until the run ends, so /proc keeps its wait status.
    let mut victim = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = victim.id();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        // SAFETY: kill(2) on the pid of our own unreaped child.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    });
    let (out, export) = quick(
        "killed",
        &target.url("/"),
        &["--monitor", &format!("victim:pid={pid}")],
    );
    killer.join().unwrap();
    let _ = victim.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stat(&export, "http_reqs", "count") > 0.0);
    assert!(stdout.contains("monitor events:"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "victim: process {pid} exited (killed by signal 9 (SIGKILL))"
        )),
        "{stdout}"
    );
}

/// A cgroup v2 mount this test may write to, or None (printed) when the machine does not allow.
fn writable_cgroup() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let root = mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
    });
    let Some(root) = root else {
        println!("skipped: no cgroup v2 mount on this machine");
        return None;
    };
    let dir = root.join(format!("brunt-monitor-test-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir(&dir) {
        println!("skipped: cannot create {}: {e}", dir.display());
        return None;
    }
    Some(dir)
}

#[test]
fn a_real_cgroup_is_watched() {
    let Some(dir) = writable_cgroup() else { return };
    let mut busy = Command::new("sleep").arg("30").spawn().unwrap();
    let moved = std::fs::write(dir.join("cgroup.procs"), busy.id().to_string());
    if let Err(e) = moved {
        println!("skipped: cannot move a process into {}: {e}", dir.display());
    } else {
        let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
        let (out, export) = quick(
            "cgroup",
            &target.url("/"),
            &[
                "--monitor",
                &format!("box:cgroup={}", dir.display()),
                "--threshold",
                "target_oom_kills: count==0",
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stat(&export, "target_cpu_percent", "max") >= 0.0);
        assert_eq!(stat(&export, "target_cpu_throttled_seconds", "count"), 0.0);
    }
    let _ = busy.kill();
    let _ = busy.wait();
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn scripts_set_monitors_in_their_options() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let script = tmp("monitored.js");
    std::fs::write(
        &script,
        format!(
            "import http from 'k6/http';\n\
             import {{ sleep }} from 'k6';\n\
             export const options = {{ vus: 1, duration: '2s', monitors: {{ targetd: 'prometheus={}' }},\n\
               thresholds: {{ 'brunt_target_requests_total{{monitor:targetd}}': ['max>0'] }} }};\n\
             export default function () {{ http.get('{}'); sleep(0.2); }}\n",
            target.url("/metrics"),
            target.url("/")
        ),
    )
    .unwrap();
    let child = brunt_cmd()
        .args(["run", "-q", script.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("brunt_target_requests_total"), "{stdout}");

    std::fs::write(
        &script,
        "export const options = { monitors: [42] };\nexport default function () {}\n",
    )
    .unwrap();
    fails_with(
        &["run", script.to_str().unwrap()],
        104,
        "options.monitors[0] must be a string",
    );
}

#[test]
fn bad_monitors_stop_the_run_before_any_load_and_name_the_input() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = target.url("/");
    let q = |m: &str| {
        vec![
            "quick".to_string(),
            url.clone(),
            "--duration".into(),
            "1s".into(),
            "--monitor".into(),
            m.to_string(),
        ]
    };
    let run = |m: &str, code: i32, needle: &str| {
        let args = q(m);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(&args, code, needle);
    };
    run(
        "pid=abc",
        2,
        "monitor 'pid=abc': pid 'abc' is not a process id",
    );
    run("disk=/dev/sda", 2, "unknown kind 'disk'");
    run(
        "pid=2147483647",
        1,
        "monitor 'pid=2147483647': no process 2147483647 is running",
    );
    run(
        "cmd=no-such-command",
        1,
        "no running process is named 'no-such-command'",
    );
    run("cgroup=/proc", 1, "/proc is not a cgroup v2 directory");
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    run(
        &format!("prometheus=http://{closed}/metrics"),
        1,
        &format!("monitor 'prometheus=http://{closed}/metrics': http://{closed}/metrics:"),
    );
    run(
        &format!("prometheus={}", target.url("/json")),
        1,
        "returned no Prometheus samples",
    );
    run(
        &format!("prometheus={}", target.url("/nope")),
        1,
        "HTTP 404 Not Found",
    );
    let pidfile = tmp("missing.pid");
    run(
        &format!("pidfile={}", pidfile.display()),
        1,
        "cannot read pid file",
    );
    let dup = q("a:pid=1");
    let mut args: Vec<&str> = dup.iter().map(String::as_str).collect();
    args.extend(["--monitor", "a:cmd=init"]);
    fails_with(&args, 1, "monitor name 'a' is used twice");
}
