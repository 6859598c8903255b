//! Modules a script loads beyond k6's built-ins: `https://` imports through the module cache,
//! and TypeScript errors that point at the `.ts` file's own lines.

mod common;

use common::{brunt, stderr};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

/// Serves `body` as JavaScript on a loopback port: answers `count` requests, then closes the
/// port. Returns the server's base URL and its thread.
fn serve_module(body: &'static str, count: usize) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(body.as_bytes()).unwrap();
        }
    });
    (base, server)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn remote_imports_are_fetched_once_then_served_from_the_cache_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cache = dir.join("modules");
    let (base, server) = serve_module("export function twice(n) { return 2 * n; }\n", 1);
    let script = write(
        dir,
        "remote.js",
        &format!(
            "import {{ twice }} from '{base}/lib/twice.js';\n\
             export const options = {{ iterations: 1 }};\n\
             export default function () {{ if (twice(2) !== 4) throw new Error('bad'); }}\n"
        ),
    );
    let cache_arg = cache.to_string_lossy().into_owned();
    let args = ["run", "-q", "--module-cache", &cache_arg, &script];
    let first = brunt(&args);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    // The server answered its one request and is gone: the second run is offline.
    server.join().unwrap();
    let port = base.rsplit(':').next().unwrap();
    assert!(cache
        .join(format!("127.0.0.1_{port}/lib/twice.js"))
        .is_file());
    let second = brunt(&args);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
}

#[test]
fn a_module_neither_fetched_nor_cached_names_the_url_and_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cache = dir.join("modules");
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/gone.js");
    let script = write(
        dir,
        "gone.js",
        &format!("import x from '{url}';\nexport default function () {{ x(); }}\n"),
    );
    let cache_arg = cache.to_string_lossy().into_owned();
    let out = brunt(&["run", "-q", "--module-cache", &cache_arg, &script]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(107), "{err}");
    assert!(err.contains(&url), "{err}");
    assert!(err.contains(&cache_arg), "{err}");
}

#[test]
fn a_typescript_exception_points_at_the_ts_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let script = write(
        dir,
        "throws.ts",
        "interface P {\n  n: number;\n}\nconst p: P = { n: 1 };\nexport const options = { iterations: 1 };\nexport default function (): void {\n  throw new Error(`boom ${p.n as number}`);\n}\n",
    );
    let out = brunt(&["run", "-q", &script]);
    let err = stderr(&out);
    assert!(err.contains("boom 1"), "{err}");
    assert!(err.contains("throws.ts:7:"), "{err}");
}

#[test]
fn typescript_that_needs_a_rewrite_is_refused_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let script = write(
        dir,
        "enum.ts",
        "\nenum Color { Red }\nexport default function () {}\n",
    );
    let out = brunt(&["run", "-q", &script]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(107), "{err}");
    assert!(err.contains("enum.ts:2:"), "{err}");
}
