//! `brunt replay` on its own, for the timing benchmark: a release build of this crate takes
//! minutes where the whole `brunt` binary takes far longer on a shared machine, and runs the
//! same code (docs/benchmarks.md, bench/replay_lag.sh):
//!
//!     cargo build --release -p brunt-replay --example replay

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: brunt_replay::ReplayArgs,
}

fn main() {
    match brunt_replay::run(Cli::parse().args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
