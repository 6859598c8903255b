//! `brunt model` on its own, for the reader's benchmark: a release build of this crate takes
//! minutes where the whole `brunt` binary takes far longer on a shared machine, and runs the
//! same code (docs/benchmarks.md):
//!
//!     cargo run --release -p brunt-workload --example model -- access.log --quiet

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: brunt_workload::ModelArgs,
}

fn main() {
    match brunt_workload::run(Cli::parse().args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
