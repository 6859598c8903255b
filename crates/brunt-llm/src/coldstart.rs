//! `--cold-start 1m,5m`: cold-start latency. One request primes the server, `--requests` (default
//! 5) more, back to back, are the warm baseline; then for each idle period in turn, nothing is sent
//! for that long and one request measures the first answer after it. Every request is sent alone
//! by one client (its connection reused if the server kept it open), and the table sets each cold
//! request's TTFT and e2e against the warm median.

use crate::reader::{Measured, StreamReader};
use crate::request::{Prompts, RequestSpec};
use anyhow::{anyhow, Context, Result};
use brunt_engine::RunControl;
use brunt_engine::{format_duration, parse_duration};
use brunt_http::{Client, ClientConfig};
use serde::Serialize;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Warm requests measured when `--requests` is not given.
const DEFAULT_WARM: u64 = 5;

/// The idle periods of `--cold-start`.
pub fn parse(spec: &str) -> Result<Vec<Duration>> {
    spec.split(',')
        .map(str::trim)
        .map(|d| {
            parse_duration(d)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    anyhow!("--cold-start '{spec}': '{d}' is not a duration such as 30s or 5m")
                })
        })
        .collect()
}

/// One request's figures, or why it failed.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub ttft_ms: Option<f64>,
    pub e2e_ms: f64,
    pub error: Option<String>,
}

impl From<Measured> for Sample {
    fn from(m: Measured) -> Self {
        Sample {
            ttft_ms: m.ttft_ms,
            e2e_ms: m.e2e_ms,
            error: m.failure.map(|f| f.describe()),
        }
    }
}

/// The first request after one idle period.
#[derive(Debug, Clone, Serialize)]
pub struct Cold {
    pub idle: String,
    pub idle_seconds: f64,
    #[serde(flatten)]
    pub sample: Sample,
}

/// What `--cold-start` measured, as `--export` writes it.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    /// Median TTFT and e2e of the successful warm requests.
    pub warm_ttft_ms: Option<f64>,
    pub warm_e2e_ms: Option<f64>,
    pub warm: Vec<Sample>,
    pub cold: Vec<Cold>,
    /// False when Ctrl-C cut it short.
    pub complete: bool,
}

/// Runs the baseline and the idle periods.
pub fn measure(
    spec: &RequestSpec,
    prompts: &Prompts,
    idles: &[Duration],
    warm: Option<u64>,
    control: &RunControl,
) -> Result<ColdStart> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let client = Client::new(ClientConfig {
        timeout: spec.timeout,
        ..ClientConfig::default()
    })
    .map_err(|e| anyhow!(e.message))?;
    let mut n = 0u64;
    let mut one = || -> Result<Sample> {
        let req = spec.request(&prompts.get(n))?;
        n += 1;
        let mut reader = StreamReader::new(Instant::now(), spec.stream);
        let resp = rt.block_on(client.send_streaming(&req, &mut reader));
        Ok(reader.finish(&resp).into())
    };
    one()?;
    let warm: Vec<Sample> = (0..warm.unwrap_or(DEFAULT_WARM))
        .map(|_| one())
        .collect::<Result<_>>()?;
    let mut cold = Vec::new();
    let mut complete = true;
    for &idle in idles {
        // Sleeps in short steps so that Ctrl-C ends the wait.
        let until = Instant::now() + idle;
        while Instant::now() < until && !control.is_stopped() {
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(100)));
        }
        if control.is_stopped() {
            complete = false;
            break;
        }
        cold.push(Cold {
            idle: format_duration(idle),
            idle_seconds: idle.as_secs_f64(),
            sample: one()?,
        });
    }
    let median = |f: fn(&Sample) -> Option<f64>| {
        let mut v: Vec<f64> = warm
            .iter()
            .filter(|s| s.error.is_none())
            .filter_map(f)
            .collect();
        v.sort_by(f64::total_cmp);
        (!v.is_empty()).then(|| {
            let mid = v.len() / 2;
            if v.len() % 2 == 1 {
                v[mid]
            } else {
                (v[mid - 1] + v[mid]) / 2.0
            }
        })
    };
    Ok(ColdStart {
        warm_ttft_ms: median(|s| s.ttft_ms),
        warm_e2e_ms: median(|s| Some(s.e2e_ms)),
        warm,
        cold,
        complete,
    })
}

impl ColdStart {
    /// The table printed at the end.
    pub fn text(&self) -> String {
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}ms"));
        let vs = |v: Option<f64>, warm: Option<f64>| match (v, warm) {
            (Some(v), Some(w)) if w > 0.0 => format!("{:+.1}ms ({:.1}x)", v - w, v / w),
            _ => "-".to_string(),
        };
        let ok = self.warm.iter().filter(|s| s.error.is_none()).count();
        let mut out = format!(
            "\n  {:<16} {:>10} {:>10} {:>20} {:>20}\n",
            "cold start", "ttft", "e2e", "ttft vs warm", "e2e vs warm"
        );
        let _ = writeln!(
            out,
            "  {:<16} {:>10} {:>10}",
            format!("warm (p50 of {ok})"),
            ms(self.warm_ttft_ms),
            ms(self.warm_e2e_ms)
        );
        for c in &self.cold {
            let _ = write!(
                out,
                "  {:<16} {:>10} {:>10} {:>20} {:>20}",
                format!("after {}", c.idle),
                ms(c.sample.ttft_ms),
                ms(Some(c.sample.e2e_ms)),
                vs(c.sample.ttft_ms, self.warm_ttft_ms),
                vs(Some(c.sample.e2e_ms), self.warm_e2e_ms)
            );
            match &c.sample.error {
                Some(e) => {
                    let _ = writeln!(out, "  failed: {e}");
                }
                None => out.push('\n'),
            }
        }
        let failed: Vec<&String> = self.warm.iter().filter_map(|s| s.error.as_ref()).collect();
        if let Some(e) = failed.first() {
            let _ = writeln!(
                out,
                "  {} warm request(s) failed, the first: {e}",
                failed.len()
            );
        }
        if !self.complete {
            out.push_str("  (interrupted: not every idle period was measured)\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_periods_parse_and_bad_ones_name_themselves() {
        assert_eq!(
            parse("1m, 500ms").unwrap(),
            [Duration::from_secs(60), Duration::from_millis(500)]
        );
        for bad in ["soon", "1m,", "0s"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--cold-start '{bad}'")), "{e}");
        }
    }
}
