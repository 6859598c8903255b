//! The model as `brunt model` prints it: the log, the routes table, the arrival curve (a
//! sparkline of the per-minute counts), burstiness, and the sessions with their chain.

use crate::model::{Model, Percentiles};
use std::fmt::Write as _;

/// Routes and transitions listed (the JSON has all).
const LISTED: usize = 15;

fn pct(p: &Option<Percentiles>, unit: &str) -> String {
    match p {
        Some(p) => format!("{:.0}/{:.0}/{:.0}{unit}", p.p50, p.p95, p.p99),
        None => "-".into(),
    }
}

/// Up to `width` blocks, each the mean of its share of the minutes, scaled to the peak.
fn sparkline(per_minute: &[u64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let n = per_minute.len();
    let cells = n.min(width).max(1);
    let means: Vec<f64> = (0..cells)
        .map(|c| {
            let (a, b) = (c * n / cells, ((c + 1) * n / cells).max(c * n / cells + 1));
            per_minute[a..b.min(n)].iter().sum::<u64>() as f64 / (b - a) as f64
        })
        .collect();
    let peak = means.iter().copied().fold(0.0, f64::max);
    means
        .iter()
        .map(|m| match peak {
            p if p > 0.0 => BARS[((m / p) * 7.0).round() as usize],
            _ => BARS[0],
        })
        .collect()
}

pub fn text(m: &Model) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "log        {} ({}): {} lines, {} requests, {} unparsed",
        m.source, m.format, m.lines.total, m.requests, m.lines.unparsed
    );
    let _ = writeln!(
        o,
        "span       {} to {} ({:.0}s)",
        m.span.start, m.span.end, m.span.seconds
    );
    for u in &m.lines.samples {
        let _ = writeln!(o, "unparsed   line {}: {}: {}", u.line, u.reason, u.text);
    }
    let _ = writeln!(
        o,
        "\nroutes ({}){}",
        m.routes.len(),
        match m.other_routes {
            0 => String::new(),
            n => format!(", {n} requests on routes past --max-routes"),
        }
    );
    let _ = writeln!(
        o,
        "  {:>6}  {:<44} {:<16} {:>16} {:>20}",
        "share", "route", "status", "bytes p50/95/99", "latency p50/95/99"
    );
    for r in m.routes.iter().take(LISTED) {
        let mut status: Vec<_> = r.status.iter().collect();
        status.sort_by(|a, b| b.1.cmp(a.1));
        let status: Vec<String> = status
            .iter()
            .take(3)
            .map(|(c, n)| format!("{c}:{:.0}%", **n as f64 * 100.0 / r.requests as f64))
            .collect();
        let _ = writeln!(
            o,
            "  {:>5.1}%  {:<44} {:<16} {:>16} {:>20}",
            r.share * 100.0,
            r.name(),
            status.join(" "),
            pct(&r.bytes, ""),
            pct(&r.latency_ms, "ms"),
        );
    }
    if m.routes.len() > LISTED {
        let _ = writeln!(
            o,
            "  ... {} more routes (--out has them all)",
            m.routes.len() - LISTED
        );
    }
    let a = &m.arrival;
    let _ = writeln!(
        o,
        "\narrival    {} minutes from {}",
        a.per_minute.len(),
        a.first_minute
    );
    let _ = writeln!(o, "  curve    {}", sparkline(&a.per_minute, 60));
    let _ = writeln!(
        o,
        "  rate     mean {:.2}/s, peak second {:.0}/s, peak-to-mean (minutes) {:.2}",
        a.mean_per_second, a.peak_per_second, a.peak_to_mean
    );
    let _ = match a.dispersion {
        Some(d) => writeln!(
            o,
            "  bursts   index of dispersion {d:.2} (per-second counts within each minute): {}",
            match a.pattern.as_str() {
                "bursty" => "bursty, arrivals cluster more than Poisson",
                "paced" => "paced, more regular than Poisson",
                _ => "Poisson-like, independent arrivals",
            }
        ),
        None => writeln!(o, "  bursts   {}", a.pattern),
    };
    let peaks: Vec<String> = a
        .peak_minutes
        .iter()
        .map(|p| format!("{} ({})", p.minute, p.requests))
        .collect();
    let _ = writeln!(o, "  peaks    {}", peaks.join(", "));
    let s = &m.sessions;
    let _ = writeln!(
        o,
        "\nsessions   {} by {}, ended by {:.0}s without a request",
        s.count, s.key, s.gap_seconds
    );
    let r = &s.requests_per_session;
    let _ = writeln!(
        o,
        "  length   mean {:.1} requests, p50 {:.0}, p95 {:.0}, max {:.0}",
        r.mean, r.p50, r.p95, r.max
    );
    if let Some(t) = &s.think_time_ms {
        let _ = writeln!(
            o,
            "  think    mean {:.0}ms, p50 {:.0}ms, p95 {:.0}ms, p99 {:.0}ms",
            t.mean, t.p50, t.p95, t.p99
        );
    }
    let _ = writeln!(o, "  chain    (most taken transitions)");
    for t in s.transitions.iter().take(LISTED) {
        let _ = writeln!(
            o,
            "    {:>5.1}%  {} -> {}  ({})",
            t.probability * 100.0,
            t.from,
            t.to,
            t.count
        );
    }
    o
}
