//! What the CLI tests share: running the built binary and checking how it fails.
// Each test crate uses a part of what is here.
#![allow(dead_code)]

use std::process::{Command, Output};

/// The `brunt` binary under test, ready for arguments.
pub fn brunt_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_brunt"))
}

/// Runs `brunt` with `args` to the end.
pub fn brunt(args: &[&str]) -> Output {
    brunt_cmd().args(args).output().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `brunt` with `args` and checks that it exits with `code` and says `needle` on stderr.
pub fn fails_with(args: &[&str], code: i32, needle: &str) -> Output {
    let out = brunt(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: stderr lacks '{needle}':\n{err}"
    );
    out
}

/// Waits for `child` to exit, reading its output meanwhile; kills it and fails the test when it
/// runs past `limit` (a run that does not stop on time is the bug these tests look for).
pub fn output_within(mut child: std::process::Child, limit: std::time::Duration) -> Output {
    let start = std::time::Instant::now();
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let readers = [
        std::thread::spawn(move || read_all(out.as_mut())),
        std::thread::spawn(move || read_all(err.as_mut())),
    ];
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("brunt did not exit within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let [stdout, stderr] = readers.map(|r| r.join().unwrap());
    Output {
        status,
        stdout,
        stderr,
    }
}

fn read_all(pipe: Option<&mut impl std::io::Read>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(p) = pipe {
        let _ = p.read_to_end(&mut buf);
    }
    buf
}

/// Starts `brunt target` through `cmd` (the built binary, or a link to it) on a free loopback
/// port with `args`; returns the child and its base URL once it says it listens.
pub fn target_process(mut cmd: Command, args: &[&str]) -> (Helper, String) {
    use std::io::BufRead;
    let port = free_port();
    let mut child = cmd
        .args(["target", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let child = Helper(child);
    assert!(line.contains("listening"), "{line}");
    (child, format!("http://127.0.0.1:{port}"))
}

/// The k6 binary (`$K6`, or `k6` on PATH) when it runs; tests that compare with k6 skip without it.
pub fn k6() -> Option<String> {
    let k6 = std::env::var("K6").unwrap_or_else(|_| "k6".into());
    Command::new(&k6).arg("version").output().ok()?;
    Some(k6)
}

/// A child process killed when the test ends, pass or fail.
pub struct Helper(pub std::process::Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `brunt proxy` with one link, `name`, from a free loopback port to `upstream`, its config
/// written into `dir`: the proxy, its API's port and the link's port.
pub fn fault_proxy(
    name: &str,
    upstream: std::net::SocketAddr,
    dir: &std::path::Path,
) -> (Helper, u16, u16) {
    let (api, listen) = (free_port(), free_port());
    let config = dir.join("proxies.json");
    std::fs::write(
        &config,
        format!(
            r#"[{{"name": "{name}", "listen": "127.0.0.1:{listen}", "upstream": "{upstream}", "enabled": true}}]"#
        ),
    )
    .unwrap();
    let api_addr = format!("127.0.0.1:{api}");
    let proxy = helper(
        &[
            "proxy",
            "--listen",
            &api_addr,
            "--config",
            config.to_str().unwrap(),
        ],
        api,
    );
    (proxy, api, listen)
}

/// `brunt chaos ARGS` against the fault proxy's API on `api`.
pub fn chaos(api: u16, args: &[&str]) {
    let host = format!("127.0.0.1:{api}");
    let mut all = vec!["chaos", "--host", &host];
    all.extend_from_slice(args);
    let out = brunt(&all);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
}

/// A loopback port nothing listens on, never one this test process was given before.
pub fn free_port() -> u16 {
    // A port released here can come back from the next bind: two servers of one test told the
    // same port would leave one of them answering for both. Each port is handed out once.
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Starts `brunt ARGS` listening on `port` and waits until it accepts connections.
pub fn helper(args: &[&str], port: u16) -> Helper {
    let child = brunt_cmd()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let helper = Helper(child);
    wait_listening(port, &format!("{args:?}"));
    helper
}

/// Waits until something accepts connections on 127.0.0.1:`port`; fails the test after 10 s.
pub fn wait_listening(port: u16, what: &str) {
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{what} never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One HTTP/1.1 exchange with 127.0.0.1:`port` and `Connection: close`: the status code and the
/// body. None when nothing listens (yet).
pub fn http_exchange(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let code = head.split(' ').nth(1)?.parse().ok()?;
    Some((code, rest.to_string()))
}

/// A script named `name` in `dir` that imports a module (`lib/count.js`), opens a file
/// (`data.txt`) and needs `-e WHO=archived`: what an archive must carry. Each iteration adds 3
/// to the counter `lines`, whose threshold is `count>0`.
pub fn write_archivable_test(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(
        dir.join("lib/count.js"),
        "import { Counter } from 'k6/metrics';\nexport const lines = new Counter('lines');\n",
    )
    .unwrap();
    std::fs::write(dir.join("data.txt"), "a\nb\nc\n").unwrap();
    let script = dir.join(name);
    std::fs::write(
        &script,
        r#"import { lines } from './lib/count.js';
const data = open('./data.txt').trim().split('\n');
export const options = { thresholds: { lines: ['count>0'] } };
export default function () {
  if (__ENV.WHO !== 'archived') throw new Error('no -e value: ' + __ENV.WHO);
  lines.add(data.length);
}
"#,
    )
    .unwrap();
    script
}
