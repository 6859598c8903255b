//! `brunt demo`: a real job with nothing to set up. Starts the built-in target on a free loopback
//! port, attacks it for a few seconds with thresholds, and prints the summary.

use anyhow::{Context, Result};
use clap::Parser;

/// The demo's attack, parsed from the same flags a user would type.
#[derive(Parser)]
struct DemoQuick {
    #[command(flatten)]
    quick: brunt_quick::QuickArgs,
}

pub fn run() -> Result<i32> {
    let target = brunt_target::spawn("127.0.0.1:0".parse()?).context("starting the demo target")?;
    let url = format!("http://{}/json", target.local_addr());
    println!("brunt demo: attacking the built-in target at {url} for 5s with 20 VUs\n");
    let args = DemoQuick::try_parse_from([
        "quick",
        &url,
        "--vus",
        "20",
        "--duration",
        "5s",
        "--threshold",
        "http_req_duration: p(95)<200",
        "--threshold",
        "http_req_failed: rate<0.01",
    ])?;
    brunt_quick::run(args.quick)
}
