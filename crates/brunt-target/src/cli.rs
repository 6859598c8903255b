//! `brunt target`: the command-line face of the target server.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::Target;

/// How long requests in flight may finish after Ctrl-C or SIGTERM.
const DRAIN: Duration = Duration::from_secs(5);

/// Options of `brunt target`.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Address to listen on; port 0 picks a free port.
    /// Example: --listen 0.0.0.0:8080
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,

    /// Worker threads serving requests (default: one per core).
    /// Example: --threads 1 to leave other cores to the load generator.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Serve at most N requests per second; the rest queue and wait their turn, so latency
    /// climbs without bound above N (a known capacity for `brunt capacity` to find).
    /// Example: --capacity 200
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub capacity: Option<u32>,

    #[command(flatten)]
    pub llm: crate::MockLlm,
}

/// Starts the target, prints the URL it serves on, and serves until Ctrl-C
/// or SIGTERM; requests in flight then get up to 5 s to finish.
pub async fn run(args: TargetArgs) -> anyhow::Result<()> {
    let threads = args.threads.map(usize::from);
    // The server runs on its own runtime, sized by --threads, whatever runtime calls this.
    let target = Target::start(args.listen, threads, DRAIN, args.llm, args.capacity)
        .context("cannot start the target (--listen)")?;
    println!("brunt target listening on http://{}", target.local_addr());
    shutdown_signal().await?;
    tokio::task::spawn_blocking(move || drop(target))
        .await
        .context("stopping the target")?;
    Ok(())
}

/// Completes on Ctrl-C, or on SIGTERM where there is one.
async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        tokio::select! {
            ctrl_c = tokio::signal::ctrl_c() => ctrl_c.context("listening for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("listening for Ctrl-C")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::TargetArgs;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        target: TargetArgs,
    }

    #[test]
    fn listens_on_loopback_8080_by_default() {
        let args = Cli::try_parse_from(["brunt"]).unwrap().target;
        assert_eq!(args.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(args.threads, None);
    }

    #[test]
    fn bad_flags_are_errors_naming_the_flag() {
        for argv in [
            &["brunt", "--listen", "localhost"][..],
            &["brunt", "--threads", "0"],
            &["brunt", "--capacity", "0"],
        ] {
            let error = Cli::try_parse_from(argv)
                .err()
                .expect("rejected")
                .to_string();
            assert!(error.contains(argv[1]), "{error}");
        }
    }
}
