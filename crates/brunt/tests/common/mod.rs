//! What the CLI tests share: running the built binary and checking how it fails.

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
