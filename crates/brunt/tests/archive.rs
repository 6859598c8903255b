//! `brunt archive`: the archive carries the script, its imports (those by URL too, named as k6
//! names them), the files it opened, its options and `-e` values, so that it runs after the
//! originals are gone, offline; `brunt run` and `brunt inspect` take k6's archives too,
//! inspecting them as k6 does (when `k6` is installed).

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

/// The regular files' names in a tar (Python's tarfile, an independent reader).
fn tar_names(tar: &Path) -> Vec<String> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, tarfile\nfor m in tarfile.open(sys.argv[1]).getmembers():\n    if m.isfile(): print(m.name)",
        ])
        .arg(tar)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Python's http.server serving `root` on a free loopback port, over TLS with `tls` (certificate
/// and key PEM files); killed when dropped.
fn serve_dir(root: &Path, tls: Option<(&Path, &Path)>) -> (common::Helper, u16) {
    const SERVER: &str = "import functools, http.server, ssl, sys
port, root = int(sys.argv[1]), sys.argv[2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = http.server.HTTPServer(('127.0.0.1', port), handler)
if len(sys.argv) > 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
";
    let port = common::free_port();
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-c", SERVER, &port.to_string()]).arg(root);
    if let Some((cert, key)) = tls {
        cmd.arg(cert).arg(key);
    }
    let server = common::Helper(
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    common::wait_listening(port, "the module server");
    (server, port)
}

/// `lib/greet.js` under `dir/served`, and a script importing it from `base` (a URL).
fn write_remote_test(dir: &Path, base: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let served = dir.join("served");
    std::fs::create_dir_all(served.join("lib")).unwrap();
    std::fs::write(
        served.join("lib/greet.js"),
        "export function greet(n) { return 'hello ' + n; }\n",
    )
    .unwrap();
    let script = dir.join("remote.js");
    std::fs::write(
        &script,
        format!(
            r#"import {{ greet }} from '{base}/lib/greet.js';
import {{ Counter }} from 'k6/metrics';
const greeted = new Counter('greeted');
export default function () {{
  if (greet('k6') !== 'hello k6') throw new Error('not the served module');
  greeted.add(1);
}}
"#
        ),
    )
    .unwrap();
    (served, script)
}

/// A module imported by URL travels in the archive, named as k6 names remote modules (the URL
/// under its scheme: `http/127.0.0.1:PORT/lib/greet.js`), and the archive runs after the server
/// and the module cache are gone.
#[test]
fn a_module_imported_by_url_is_archived_and_runs_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (served, _) = write_remote_test(dir.path(), "http://unused");
    let (server, port) = serve_dir(&served, None);
    let (_, script) = write_remote_test(dir.path(), &format!("http://127.0.0.1:{port}"));
    let cache = dir.path().join("cache");
    let tar = dir.path().join("remote.tar");
    let out = brunt(&[
        "archive",
        "--module-cache",
        cache.to_str().unwrap(),
        "-i",
        "3",
        script.to_str().unwrap(),
        "-O",
        tar.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    drop(server);
    std::fs::remove_dir_all(&cache).unwrap();
    let names = tar_names(&tar);
    assert!(
        names.contains(&format!("http/127.0.0.1:{port}/lib/greet.js")),
        "{names:?}"
    );
    // Offline: the server is gone and the given module cache is empty.
    let empty = dir.path().join("empty-cache");
    let s = run_archive(&tar, &["--module-cache", empty.to_str().unwrap()]);
    assert_eq!(s["metrics"]["greeted"]["count"], 3.0, "{s}");
}

/// k6 v1.1 archives an `https://` import as `https/HOST:PORT/PATH`: brunt archives the same
/// module (vendored into its module cache) under the same name, and runs k6's archive offline.
#[test]
fn remote_modules_are_archived_under_k6s_names() {
    let Some(k6) = common::k6() else {
        eprintln!("k6 not installed: skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    let (served, _) = write_remote_test(dir.path(), "https://unused");
    let (server, port) = serve_dir(&served, Some((&cert_pem, &key_pem)));
    let (_, script) = write_remote_test(dir.path(), &format!("https://127.0.0.1:{port}"));
    let k6_tar = dir.path().join("k6.tar");
    let out = std::process::Command::new(&k6)
        .arg("archive")
        .arg(&script)
        .arg("-O")
        .arg(&k6_tar)
        .env("SSL_CERT_FILE", &cert_pem)
        .env("K6_NO_USAGE_REPORT", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "k6 archive: {}", stderr(&out));
    drop(server);
    // brunt's module cache, vendored by hand (`DIR/HOST_PORT/PATH`).
    let cache = dir.path().join("cache");
    let vendored = cache.join(format!("127.0.0.1_{port}/lib"));
    std::fs::create_dir_all(&vendored).unwrap();
    std::fs::copy(served.join("lib/greet.js"), vendored.join("greet.js")).unwrap();
    let tar = dir.path().join("brunt.tar");
    let out = brunt(&[
        "archive",
        "--module-cache",
        cache.to_str().unwrap(),
        script.to_str().unwrap(),
        "-O",
        tar.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let remote = |tar: &Path| -> Vec<String> {
        tar_names(tar)
            .into_iter()
            .filter(|n| n.starts_with("https/"))
            .collect()
    };
    assert_eq!(
        remote(&tar),
        [format!("https/127.0.0.1:{port}/lib/greet.js")],
        "brunt"
    );
    assert_eq!(remote(&tar), remote(&k6_tar), "brunt (left) and k6 (right)");
    let empty = dir.path().join("empty-cache");
    let s = run_archive(&k6_tar, &["--module-cache", empty.to_str().unwrap()]);
    assert_eq!(s["metrics"]["greeted"]["count"], 1.0, "{s}");
}

/// An archive keeps the compatibility mode it was made in, and runs in it unless a flag says
/// otherwise, as k6's archives do.
#[test]
fn an_archive_keeps_its_compatibility_mode() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.js");
    std::fs::write(
        &script,
        "console.log(`global is ${typeof global}`);\nexport default function () {}\n",
    )
    .unwrap();
    let tar = dir.path().join("s.tar");
    let out = brunt(&[
        "archive",
        "--compatibility-mode",
        "base",
        script.to_str().unwrap(),
        "-O",
        tar.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, tarfile\nsys.stdout.buffer.write(tarfile.open(sys.argv[1]).extractfile('metadata.json').read())",
        ])
        .arg(&tar)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(metadata["compatibilityMode"], "base", "{metadata}");
    let tar = tar.to_str().unwrap();
    for (flags, line) in [
        (&[][..], "global is undefined"),
        (
            &["--compatibility-mode", "extended"][..],
            "global is object",
        ),
    ] {
        let mut args = vec!["run", "-q", "--address", "", "-i", "1"];
        args.extend(flags);
        args.push(tar);
        let out = brunt(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stderr(&out).contains(line), "{flags:?}: {}", stderr(&out));
    }
}
