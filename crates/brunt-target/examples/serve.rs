//! Runs the target from the command line, for benchmarks before the `brunt`
//! binary exists: `cargo run --release -p brunt-target --example serve -- --listen 127.0.0.1:8080 --threads 1`.

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    target: brunt_target::cli::TargetArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    brunt_target::cli::run(Cli::parse().target).await
}
