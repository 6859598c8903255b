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
