//! The `brunt` command: parses flags and hands each subcommand to the crate that does the work.

mod demo;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

/// brunt: load tests in k6's JavaScript, flat-rate attacks, and a Toxiproxy-compatible fault proxy,
/// in one binary.
#[derive(Parser)]
#[command(name = "brunt", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a k6 script (k6's flags, summary, outputs and exit codes)
    Run(Box<brunt_js::RunArgs>),
    /// Hold a coordinated run: hand the script's segments to N instances, start them together, merge their metrics and judge the whole (docs/distributed.md)
    Coordinator(Box<brunt_js::CoordinatorArgs>),
    /// Join a coordinated run as one instance, running the coordinator's script on its segment
    Agent(brunt_js::AgentArgs),
    /// Print a script's (or an archive's) resolved options; --execution-requirements adds its VUs and duration
    Inspect(brunt_js::InspectArgs),
    /// Pack a script, its modules, opened files and options into one tar that `run` and `inspect` take (as `k6 archive`)
    Archive(Box<brunt_js::ArchiveArgs>),
    /// Write Kubernetes resources for a test on N instances (`k8s manifests`: a coordinator and
    /// an Indexed Job of agents, or a k6-operator TestRun)
    K8s(brunt_k8s::K8sArgs),
    /// Create a new k6 script from k6's minimal template (as `k6 new`), or a load profile's (--profile)
    New(brunt_js::NewArgs),
    /// Print brunt's version, as `k6 version` prints k6's
    Version,
    /// Attack one URL without a script (closed model with --vus, open model with --rate)
    Quick(Box<brunt_quick::QuickArgs>),
    /// Load-test an OpenAI-compatible LLM endpoint: streamed answers measured per token
    Llm(Box<brunt_llm::LlmArgs>),
    /// Find the highest request rate a URL sustains within its SLO (steps up, then bisects)
    Capacity(Box<brunt_capacity::CapacityArgs>),
    /// Read an access log into a workload model: routes, arrival curve, bursts, sessions
    Model(Box<brunt_workload::ModelArgs>),
    /// Replay an access log against a target at its logged times (open model, --speed, --rate-scale, --loop)
    Replay(Box<brunt_replay::ReplayArgs>),
    /// Start the built-in httpbin-like test target
    Target(brunt_target::cli::TargetArgs),
    /// Start a built-in target on a free loopback port, attack it briefly and print the summary
    Demo,
    /// Start the Toxiproxy-compatible fault proxy and its REST API
    Proxy(brunt_chaos::cli::ProxyArgs),
    /// Drive a running fault proxy (like toxiproxy-cli)
    Chaos(brunt_chaos::cli::ChaosArgs),
    /// Build the HTML report from a results file (--out results=FILE)
    Report(brunt_web::ReportArgs),
    /// Run or validate a Chaos Toolkit experiment (steady state, method, rollbacks, journal)
    Experiment(brunt_experiment::ExperimentArgs),
    /// Compare two runs side by side and enforce regression gates (exit 99 when one is exceeded)
    Compare(brunt_output::compare::CompareArgs),
}

fn main() -> ExitCode {
    let cli = parse_as_invoked();
    raise_open_file_limit();
    let result = match cli.command {
        Command::Run(args) => brunt_js::run(*args),
        Command::Coordinator(args) => brunt_js::coordinator(*args),
        Command::Agent(args) => brunt_js::agent(args),
        Command::Inspect(args) => brunt_js::inspect(args),
        Command::Archive(args) => brunt_js::archive(*args),
        Command::K8s(args) => brunt_k8s::run(args),
        Command::New(args) => brunt_js::new_script(args),
        Command::Version => {
            println!("{}", version_line());
            Ok(0)
        }
        Command::Quick(args) => brunt_quick::run(*args),
        Command::Llm(args) => brunt_llm::run(*args),
        Command::Capacity(args) => brunt_capacity::run(*args),
        Command::Model(args) => brunt_workload::run(*args),
        Command::Replay(args) => brunt_replay::run(*args),
        Command::Target(args) => block_on(brunt_target::cli::run(args)).map(|()| 0),
        Command::Demo => demo::run(),
        Command::Proxy(args) => brunt_chaos::cli::proxy(args).map(|()| 0),
        Command::Chaos(args) => block_on(brunt_chaos::cli::run_chaos(args)).map(|()| 0),
        Command::Report(args) => brunt_web::report(args),
        Command::Compare(args) => brunt_output::compare::compare(args),
        Command::Experiment(args) => brunt_experiment::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Parses the command line under the name brunt was invoked by: as `k6` (a link or copy named
/// so, as container images for k6-operator install it), help and errors say `k6`.
fn parse_as_invoked() -> Cli {
    let mut command = Cli::command();
    if invoked_as_k6(std::env::args_os().next()) {
        command = command.name("k6").bin_name("k6");
    }
    let matches = command.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// True when argv[0]'s file name is `k6` (or `k6.exe`).
fn invoked_as_k6(argv0: Option<std::ffi::OsString>) -> bool {
    argv0
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_stem())
        .is_some_and(|stem| stem == "k6")
}

/// `brunt v0.1.0 (linux/x86_64)`: k6's `k6 v1.1.0 (commit/..., go1.24.4, linux/amd64)` shape.
fn version_line() -> String {
    format!(
        "brunt v{} ({}/{})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Runs an async subcommand on a multi-threaded runtime.
fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// A load generator holds one socket per VU: lift the soft limit on open files to the hard one,
/// so thousands of VUs do not fail with "too many open files".
fn raise_open_file_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn a_binary_named_k6_is_k6() {
        use std::ffi::OsString;
        assert!(super::invoked_as_k6(Some(OsString::from("/usr/bin/k6"))));
        assert!(super::invoked_as_k6(Some(OsString::from("k6"))));
        assert!(!super::invoked_as_k6(Some(OsString::from(
            "/usr/bin/brunt"
        ))));
        assert!(!super::invoked_as_k6(Some(OsString::from("k6x"))));
        assert!(!super::invoked_as_k6(None));
    }

    /// Flags flattened from several crates (web, outputs, k6's run flags) must not clash.
    #[test]
    fn every_subcommand_defines_its_flags_without_conflicts() {
        super::Cli::command().debug_assert();
    }

    /// `--out` of `run` and `quick` lists every kind the parser accepts (it said only json and
    /// csv for `run`).
    #[test]
    fn out_help_lists_every_output_kind() {
        let mut cli = super::Cli::command();
        for sub in ["run", "quick"] {
            let help = cli
                .find_subcommand_mut(sub)
                .unwrap()
                .render_long_help()
                .to_string();
            for kind in brunt_output::OutKind::ALL {
                // `NAME=TARGET`, or `NAME (...)` for a kind set by environment variables.
                let name = kind.name();
                assert!(
                    help.contains(&format!("{name}=")) || help.contains(&format!("{name} (")),
                    "brunt {sub} --help lacks {name}"
                );
            }
        }
    }
}
