//! Help and docs that match the binary: README's "Using it" examples run as written, the examples
//! in `--help` are accepted, and outputs without a file go where the help says.

mod common;

use common::{brunt_cmd, fails_with};
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest any one example may run once shortened; the whole README takes seconds.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `cmd` to the end, killing it (and failing the test) past [`COMMAND_LIMIT`].
fn output_within_limit(cmd: &mut Command, what: &str) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + COMMAND_LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: still running after {COMMAND_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// One command of a README code block, with the comment above it.
struct Example {
    comment: String,
    line: String,
}

/// The commands of README's "Using it" block, continuation lines joined.
fn readme_examples() -> Vec<Example> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = readme
        .split("## Using it")
        .nth(1)
        .expect("README has no 'Using it'");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("'Using it' has no sh block");
    let (mut examples, mut comment, mut line) = (Vec::new(), String::new(), String::new());
    for text in block.lines().map(str::trim) {
        if let Some(c) = text.strip_prefix('#') {
            comment.push_str(c);
        } else if let Some(part) = text.strip_suffix('\\') {
            line.push_str(part);
        } else if !text.is_empty() {
            line.push_str(text);
            examples.push(Example {
                comment: std::mem::take(&mut comment),
                line: std::mem::take(&mut line),
            });
        }
    }
    examples
}

/// Every `127.0.0.1:PORT` in `text` with its port replaced from `ports` (a free port, chosen the
/// first time a port is seen).
fn rewrite_ports(text: &str, ports: &mut BTreeMap<String, u16>) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(HOST) {
        let after = &rest[i + HOST.len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let taken: Vec<u16> = ports.values().copied().collect();
        let port = ports
            .entry(after[..digits].to_string())
            .or_insert_with(|| unused_port(&taken));
        out.push_str(&rest[..i + HOST.len()]);
        out.push_str(&port.to_string());
        rest = &after[digits..];
    }
    out + rest
}

/// A loopback port that is free now, not among `taken`, and below the kernel's ephemeral range
/// (32768 and up by default): a port `bind(0)` handed out could meanwhile become the local end
/// of any connection this process opens, and README's background servers (`... &`) would then
/// fail to listen while another server answered on their port.
fn unused_port(taken: &[u16]) -> u16 {
    let start = 20_000 + (std::process::id() % 1_000) as u16 * 10;
    (start..32_000)
        .chain(20_000..start)
        .find(|p| !taken.contains(p) && std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free loopback port below 32000")
}

/// `line` with the value after ` FLAG ` replaced, if the flag is there.
fn set_value(line: &str, flag: &str, value: &str) -> String {
    let key = format!(" {flag} ");
    let Some(i) = line.find(&key) else {
        return line.to_string();
    };
    let start = i + key.len();
    let end = line[start..].find(' ').map_or(line.len(), |j| start + j);
    format!("{}{value}{}", &line[..start], &line[end..])
}

/// The example as the test runs it: the same command, bounded and hermetic (short durations, few
/// requests, free loopback ports, the dashboard on any free port, example files by absolute path).
fn bounded(line: &str, ports: &mut BTreeMap<String, u16>, examples_dir: &str) -> String {
    let mut line = rewrite_ports(line, ports).replace("docs/examples/", examples_dir);
    for (flag, value) in [
        ("--duration", "1s"),
        ("--vus", "5"),
        ("--rate", "100"),
        ("--iterations", "20"),
    ] {
        line = set_value(&line, flag, value);
    }
    if line.contains(" --dashboard") && !line.contains("--dashboard-port") {
        line = line.replace(" --dashboard", " --dashboard --dashboard-port 0");
    }
    line
}

/// The files a command promises to write: `--report`, `--summary-export`, `--junit` and `--out
/// KIND=FILE` values.
fn promised_files(line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut files = Vec::new();
    for pair in words.windows(2) {
        match pair[0] {
            "--report" | "--summary-export" | "--junit" => files.push(pair[1].to_string()),
            "--out" | "-o" => {
                if let Some((kind, file)) = pair[1].split_once('=') {
                    if matches!(kind, "json" | "csv" | "results") {
                        files.push(file.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    files
}

/// The `--listen` address of a background command, to wait for before going on.
fn listen_addr(line: &str) -> SocketAddr {
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "--listen").unwrap();
    words[i + 1].parse().unwrap()
}

fn wait_until_listening(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what}: not listening on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Background commands (`... &`), killed when the test ends, even when it fails.
struct Background(Vec<Child>);

impl Drop for Background {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// README's "Using it" runs as written after the install step: every command exits 0 (or 99 where
/// its comment says a gate may fail) and writes the files it names.
#[test]
fn readme_examples_run_as_written() {
    let examples = readme_examples();
    assert!(examples.len() >= 8, "README's examples not found");
    let dir = tempfile::tempdir().unwrap();
    let examples_dir = format!("{}/", repo_root().join("docs/examples").display());
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_brunt")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ports = BTreeMap::new();
    // Defaults the commands rely on without naming them: the example script's BASE_URL and the
    // fault proxy's API address that `brunt chaos` talks to.
    let base_url = rewrite_ports("http://127.0.0.1:8080", &mut ports);
    let proxy_api = rewrite_ports("127.0.0.1:8474", &mut ports);
    let mut background = Background(Vec::new());
    for example in &examples {
        if example.line.starts_with("cargo ") {
            continue; // the install step: the test runs the binary cargo built
        }
        assert!(example.line.starts_with("brunt "), "{}", example.line);
        let line = bounded(&example.line, &mut ports, &examples_dir);
        let mut cmd = Command::new("sh");
        cmd.current_dir(dir.path())
            .env("PATH", &path)
            .env("BASE_URL", &base_url)
            .env("TOXIPROXY_URL", &proxy_api)
            .env("K6_DURATION", "1s");
        if let Some(line) = line.strip_suffix('&') {
            let child = cmd
                .args(["-c", &format!("exec {line}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            background.0.push(child);
            wait_until_listening(listen_addr(line), line);
            continue;
        }
        let out = output_within_limit(cmd.args(["-c", &line]), &line);
        let code = out.status.code();
        let gate_may_fail = example.comment.contains("exit") && example.comment.contains("99");
        assert!(
            code == Some(0) || (gate_may_fail && code == Some(99)),
            "{line}: exit {code:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for file in promised_files(&line) {
            assert!(dir.path().join(&file).is_file(), "{line}: wrote no {file}");
        }
    }
}

/// Every duration `brunt quick --help` offers for --duration is accepted (it offered 500ms,
/// which k6 and brunt reject: durations are at least 1s).
#[test]
fn quick_duration_examples_in_the_help_are_accepted() {
    let help = output_within_limit(brunt_cmd().args(["quick", "--help"]), "quick --help");
    let help = String::from_utf8(help.stdout).unwrap();
    let line = help
        .lines()
        .find(|l| l.contains("--duration <"))
        .expect("no --duration in quick --help");
    let durations: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert!(durations.len() >= 2, "{line}");
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/json", target.local_addr());
    for d in durations {
        // One request: the duration is the run's limit (maxDuration), validated all the same.
        let args = ["quick", &url, "-i", "1", "-u", "1", "-q", "-d", d];
        let out = output_within_limit(brunt_cmd().args(args), d);
        assert_eq!(
            out.status.code(),
            Some(0),
            "--duration {d}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // What the help says below 1s: refused, naming the flag.
    fails_with(&["quick", &url, "-i", "1", "-d", "500ms"], 1, "at least 1s");
}

/// `--out json` without a file writes every sample to stdout, as k6 does, and says so on stderr;
/// `--out csv` without one writes file.csv, as k6 does.
#[test]
fn outputs_without_a_file_go_where_k6_sends_them_and_say_so() {
    let target = brunt_target::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/json", target.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &str| {
        let args = ["quick", &url, "-i", "3", "-u", "1", "-q", "--out", out];
        let o = output_within_limit(brunt_cmd().current_dir(dir.path()).args(args), out);
        assert_eq!(o.status.code(), Some(0), "--out {out}");
        o
    };
    let json = run("json");
    let stdout = String::from_utf8_lossy(&json.stdout);
    let points = stdout
        .lines()
        .filter(|l| l.contains(r#""metric":"http_reqs","type":"Point""#))
        .count();
    assert_eq!(points, 3, "{stdout}");
    assert!(
        String::from_utf8_lossy(&json.stderr)
            .contains("output json: every sample goes to standard output"),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    run("csv");
    let csv = std::fs::read_to_string(dir.path().join("file.csv")).unwrap();
    assert!(
        csv.starts_with("metric_name,timestamp,metric_value,"),
        "{csv}"
    );
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("http_reqs,")).count(),
        3
    );
}
