//! `brunt proxy` on its own, for measuring the proxy in a release build:
//!
//! ```text
//! cargo run --release -p brunt-chaos --example proxy -- --listen 127.0.0.1:8474 --config proxies.json
//! ```

use clap::Parser;

#[derive(Parser)]
struct Command {
    #[command(flatten)]
    args: brunt_chaos::cli::ProxyArgs,
}

fn main() -> anyhow::Result<()> {
    brunt_chaos::cli::proxy(Command::parse().args)
}
