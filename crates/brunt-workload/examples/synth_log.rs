//! Writes an access log generated from a known model to stdout, for the benchmark and the
//! worked example of docs/workload.md:
//!
//!     cargo run --release -p brunt-workload --example synth_log -- [combined|json] MINUTES RATE
//!
//! A shop's traffic: sessions start at RATE a second (a daily curve squeezed into MINUTES:
//! quiet, a rise to twice the rate, back down), browse products, sometimes add to the cart and
//! check out, with 2 s think times on average.

use brunt_workload::synth::{Synth, Written};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let written = match args.first().map(String::as_str) {
        Some("json") => Written::Json,
        _ => Written::Combined,
    };
    let minutes: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60);
    let rate: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let curve = (0..minutes)
        .map(|m| {
            let x = m as f64 / minutes.max(1) as f64;
            rate * (1.0 + (std::f64::consts::PI * x).sin())
        })
        .collect();
    let synth = Synth {
        curve,
        ..Synth::shop("", rate, minutes)
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    // A closed pipe (`| head`) ends the log quietly.
    if synth.write(&mut out, written).is_ok() {
        let _ = out.flush();
    }
}
