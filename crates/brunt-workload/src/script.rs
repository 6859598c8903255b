//! `brunt model --script load.js`: the model written as a k6 script a person can read and
//! edit. One `ramping-arrival-rate` scenario of sessions whose stages follow the logged curve
//! (scaled by `--scale`, squeezed by `--compress`); each iteration is one visitor: a first
//! route from the sessions' starts, then the Markov chain's next routes, with think times
//! drawn from the logged distribution; URL placeholders and query parameters filled from
//! values seen (shape-kept synthetic ones with `--redact`); thresholds seeded from the logged
//! latency percentiles. Plain k6: it runs under `brunt run` and `k6 run` alike.

use crate::model::{Model, Route, END, START};
use brunt_engine::format_duration;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::fmt::Write as _;
use std::time::Duration;

/// At most this many stages: the curve is averaged over equal buckets of minutes to fit.
const MAX_STAGES: usize = 48;
/// Next states kept per row of the chain (the rest folded into the kept ones by renormalising).
const ROW: usize = 12;
/// Routes with a latency threshold.
const THRESHOLD_ROUTES: usize = 10;
/// Headroom over the logged p95 for each route's threshold.
const THRESHOLD_MARGIN: f64 = 1.2;

/// How to write the script.
#[derive(Debug, Clone)]
pub struct ScriptOptions {
    /// Multiplies every rate.
    pub scale: f64,
    /// `(logged, played)`: the log's `logged` of time plays in `played`.
    pub compress: Option<(Duration, Duration)>,
    pub redact: bool,
    /// The base URL the script requests when `BASE_URL` is not set.
    pub base_url: String,
}

/// `24h:1h` -> (24h, 1h); the error names the flag.
pub fn parse_compress(s: &str) -> Result<(Duration, Duration), String> {
    let bad = |why: &str| format!("--compress '{s}': {why}, e.g. 24h:1h");
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| bad("expected LOGGED:PLAYED"))?;
    let a = brunt_engine::parse_duration(a).map_err(|e| bad(&e.to_string()))?;
    let b = brunt_engine::parse_duration(b).map_err(|e| bad(&e.to_string()))?;
    if a.is_zero() || b.is_zero() {
        return Err(bad("both lengths must be longer than 0s"));
    }
    Ok((a, b))
}

/// A JavaScript string literal.
fn js(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// A value of the same shape: digits for digits, letters for letters (case kept), the rest kept.
fn synthetic(v: &str, rng: &mut SmallRng) -> String {
    v.chars()
        .map(|c| match c {
            '0'..='9' => char::from(b'0' + rng.random_range(0..10u8)),
            'a'..='f' if v.len() >= 16 => char::from(b"0123456789abcdef"[rng.random_range(0..16)]),
            'a'..='z' => char::from(b'a' + rng.random_range(0..26u8)),
            'A'..='Z' => char::from(b'A' + rng.random_range(0..26u8)),
            c => c,
        })
        .collect()
}

/// Replaces every sampled path and query value by a synthetic one of the same shape.
pub fn redact(model: &mut Model) {
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    for r in &mut model.routes {
        for values in r.path_values.iter_mut().chain(r.query.values_mut()) {
            for v in values.iter_mut() {
                *v = synthetic(v, &mut rng);
            }
        }
    }
    for u in &mut model.lines.samples {
        u.text = "(redacted)".into();
    }
}

fn list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| js(v)).collect();
    format!("[{}]", items.join(", "))
}

/// The chain's rows as `[[next, probability], ...]` with route indices (-1 for END), the
/// likeliest `ROW` kept and renormalised; transitions to folded routes count as END.
fn row(model: &Model, from: &str) -> Vec<(i64, f64)> {
    let index = |name: &str| -> i64 {
        match name {
            END => -1,
            n => model
                .routes
                .iter()
                .position(|r| r.name() == n)
                .map_or(-1, |i| i as i64),
        }
    };
    let mut cells: Vec<(i64, f64)> = Vec::new();
    for t in model.sessions.transitions.iter().filter(|t| t.from == from) {
        let to = index(&t.to);
        match cells.iter_mut().find(|c| c.0 == to) {
            Some(c) => c.1 += t.probability,
            None => cells.push((to, t.probability)),
        }
    }
    cells.sort_by(|a, b| b.1.total_cmp(&a.1));
    cells.truncate(ROW);
    let total: f64 = cells.iter().map(|c| c.1).sum();
    cells.iter().map(|&(to, p)| (to, p / total)).collect()
}

fn row_js(cells: &[(i64, f64)]) -> String {
    let items: Vec<String> = cells
        .iter()
        .map(|(to, p)| format!("[{to}, {p:.4}]"))
        .collect();
    format!("[{}]", items.join(", "))
}

/// The stages (`(duration, sessions per minute)` for each bucket of the curve), the start
/// rate, and the logged minutes a stage stands for.
fn stages(model: &Model, opts: &ScriptOptions) -> (Vec<(Duration, u64)>, u64, usize) {
    let curve = &model.arrival.per_minute;
    let bucket = curve.len().div_ceil(MAX_STAGES).max(1);
    let ratio = opts.compress.map_or(1.0, |(logged, played)| {
        played.as_secs_f64() / logged.as_secs_f64()
    });
    // Sessions per request: the curve counts requests, an iteration is a session.
    let per_request = match model.sessions.count {
        0 => 1.0,
        n => n as f64 / model.requests as f64,
    };
    let rate = |minutes: &[u64]| -> u64 {
        let mean = minutes.iter().sum::<u64>() as f64 / minutes.len() as f64;
        (mean * per_request * opts.scale).round() as u64
    };
    let stages: Vec<(Duration, u64)> = curve
        .chunks(bucket)
        .map(|c| {
            let played = Duration::from_secs_f64((c.len() as f64 * 60.0 * ratio).max(1.0));
            (Duration::from_secs(played.as_secs().max(1)), rate(c))
        })
        .collect();
    let start = stages.first().map_or(0, |s| s.1);
    (stages, start, bucket)
}

/// The script's text.
pub fn script(model: &Model, opts: &ScriptOptions) -> String {
    let mut s = String::new();
    let (stages, start_rate, stage_minutes) = stages(model, opts);
    let played: Duration = stages.iter().map(|s| s.0).sum();
    let peak = stages
        .iter()
        .map(|s| s.1)
        .max()
        .unwrap_or(0)
        .max(start_rate);
    let sess = &model.sessions;
    let think: Vec<f64> = sess
        .think_time_quantiles_ms
        .iter()
        .map(|ms| ms / 1e3)
        .collect();
    let mean_think = sess.think_time_ms.as_ref().map_or(0.0, |t| t.mean / 1e3);
    let length = sess.requests_per_session.mean.max(1.0);
    // VUs busy at the peak: sessions a second x how long one lasts (Little's law), with room.
    let session_s = (length - 1.0) * mean_think + length * 0.1;
    let pre = ((peak as f64 / 60.0) * session_s * 1.5).ceil().max(1.0) as u64;
    let max_requests = (sess.requests_per_session.max.max(1.0) as u64).clamp(1, 1000);
    let compress = match opts.compress {
        Some((a, b)) => format!(
            ", {} of the log played in {}",
            format_duration(a),
            format_duration(b)
        ),
        None => String::new(),
    };
    let _ = writeln!(
        s,
        "// A load test derived from {} ({}): {} requests from {} to {},\n\
         // {} sessions (by {}, a {}s gap ends one).\n\
         // Written by `brunt model --script`{compress}, at {}x the logged rate{}.\n\
         // Plain k6: it runs under `brunt run` and `k6 run`; edit it freely.\n\
         //\n\
         // Each iteration is one visitor's session: its first route drawn from the logged sessions'\n\
         // starts, each next one from the Markov chain of routes (NEXT), with a think time drawn\n\
         // from the logged distribution between requests. The sessions' arrival rate follows the\n\
         // logged curve: one ramping-arrival-rate stage per {} minute(s) of the log.\n\
         //\n\
         // Environment: BASE_URL (default {}), THINK_SCALE (multiplies think times; 0 for none).",
        model.source,
        model.format,
        model.requests,
        model.span.start,
        model.span.end,
        sess.count,
        sess.key,
        sess.gap_seconds,
        opts.scale,
        if opts.redact { ", URL values redacted (synthetic values of the same shape)" } else { "" },
        stage_minutes,
        opts.base_url,
    );
    s += "import http from 'k6/http';\nimport { sleep } from 'k6';\n\n";
    let _ = writeln!(
        s,
        "const BASE_URL = __ENV.BASE_URL || {};",
        js(&opts.base_url)
    );
    s += "const THINK_SCALE = __ENV.THINK_SCALE === undefined ? 1 : Number(__ENV.THINK_SCALE);\n";
    let _ = writeln!(s, "// A session ends after this many requests whatever the chain says (the longest logged).\nconst MAX_REQUESTS = {max_requests};\n");
    s += "// Routes, most requested first: method, path (each {placeholder} filled from `values`, one\n\
          // list per placeholder), logged share of requests, and each query parameter's share of the\n\
          // route's requests with values seen.\n\
          const ROUTES = [\n";
    for (i, r) in model.routes.iter().enumerate() {
        let _ = writeln!(
            s,
            "  // {i}: {:.2}% of requests{}\n  {{ name: {}, method: {}, path: {},\n    values: [{}],\n    query: {{{}}} }},",
            r.share * 100.0,
            describe(r),
            js(&r.name()),
            js(&r.method),
            js(&r.path),
            r.path_values.iter().map(|v| list(v)).collect::<Vec<_>>().join(", "),
            r.query
                .iter()
                .map(|(k, v)| format!(
                    " {}: {{ share: {:.3}, values: {} }}",
                    js(k),
                    r.query_share.get(k).copied().unwrap_or(1.0),
                    list(v)
                ))
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    s += "];\n\n";
    s += "// The Markov chain: [next route, probability]; -1 ends the session. START is the first route.\n";
    let _ = writeln!(s, "const START = {};", row_js(&row(model, START)));
    s += "const NEXT = [\n";
    for (i, r) in model.routes.iter().enumerate() {
        let _ = writeln!(
            s,
            "  /* {i} {} */ {},",
            r.name(),
            row_js(&row(model, &r.name()))
        );
    }
    s += "];\n\n";
    let _ = writeln!(
        s,
        "// Think time between a session's requests, seconds: the logged distribution's quantiles\n\
         // 0%, 5%, ..., 100% (mean {mean_think:.2}s); a draw interpolates between two of them.\n\
         const THINK = [{}];\n",
        think.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>().join(", ")
    );
    s += "export const options = {\n  scenarios: {\n    sessions: {\n";
    s += "      executor: 'ramping-arrival-rate',\n";
    if let (Some(d), "bursty") = (model.arrival.dispersion, model.arrival.pattern.as_str()) {
        // brunt's gamma arrivals of shape 1/D give counts of about that dispersion.
        let _ = writeln!(
            s,
            "      // The log's arrivals are bursty (index of dispersion {d:.2}); under brunt,\n      // arrival: 'gamma:{:.2}' starts sessions with bursts like them (k6 refuses the key).",
            1.0 / d
        );
    }
    let _ = writeln!(
        s,
        "      // Sessions a minute: the logged requests a minute x {:.4} sessions per request x {}.",
        if model.requests > 0 { sess.count as f64 / model.requests as f64 } else { 1.0 },
        opts.scale
    );
    let _ = writeln!(s, "      startRate: {start_rate},\n      timeUnit: '1m',");
    let _ = writeln!(
        s,
        "      // Busy VUs at the peak: sessions a second x a session's length (about {session_s:.1}s), with room.\n      preAllocatedVUs: {pre},\n      maxVUs: {},",
        pre * 4
    );
    let _ = writeln!(
        s,
        "      // {} in all.\n      stages: [",
        format_duration(played)
    );
    for (d, target) in &stages {
        let _ = writeln!(
            s,
            "        {{ duration: '{}', target: {target} }},",
            format_duration(*d)
        );
    }
    s += "      ],\n    },\n  },\n";
    s += &thresholds(model);
    s += "};\n\n";
    s += SESSION_JS;
    s
}

/// A route's comment: status mix and logged latency.
fn describe(r: &Route) -> String {
    let mut out = String::new();
    let errors: u64 = r
        .status
        .iter()
        .filter(|(c, _)| **c >= 400)
        .map(|(_, n)| n)
        .sum();
    if errors > 0 {
        let _ = write!(
            out,
            ", {:.1}% 4xx/5xx",
            errors as f64 * 100.0 / r.requests as f64
        );
    }
    if let Some(l) = &r.latency_ms {
        let _ = write!(
            out,
            ", latency p50 {:.0}ms p95 {:.0}ms p99 {:.0}ms",
            l.p50, l.p95, l.p99
        );
    }
    out
}

/// Thresholds from the log: each busy route's p95 with 20% headroom, and the failure rate
/// (4xx and 5xx, as k6 counts http_req_failed) with one point of headroom.
fn thresholds(model: &Model) -> String {
    let mut s = String::from(
        "  // Seeded from the log: each route's logged p95 plus 20%, and the logged share of\n  // 4xx/5xx answers plus one point. Tighten them to your SLOs.\n  thresholds: {\n",
    );
    let failed: u64 = model
        .routes
        .iter()
        .flat_map(|r| r.status.iter())
        .filter(|(c, _)| **c >= 400)
        .map(|(_, n)| n)
        .sum();
    let rate = failed as f64 / model.requests.max(1) as f64 + 0.01;
    let _ = writeln!(s, "    http_req_failed: ['rate<{:.3}'],", rate.min(1.0));
    for r in model
        .routes
        .iter()
        .filter(|r| r.latency_ms.is_some())
        .take(THRESHOLD_ROUTES)
    {
        let p95 = r.latency_ms.as_ref().map_or(0.0, |l| l.p95);
        let limit = (p95 * THRESHOLD_MARGIN).ceil().max(1.0);
        let _ = writeln!(
            s,
            "    {}: ['p(95)<{limit}'],",
            js(&format!("http_req_duration{{name:{}}}", r.name()))
        );
    }
    s + "  },\n"
}

/// The session function and its helpers, the same in every script.
const SESSION_JS: &str = r#"// One draw from [[value, probability], ...].
function pick(pairs) {
  let x = Math.random();
  for (const [value, p] of pairs) {
    x -= p;
    if (x < 0) return value;
  }
  return pairs[pairs.length - 1][0];
}

function oneOf(values) {
  return values[Math.floor(Math.random() * values.length)];
}

// A think time, seconds: a uniform quantile of THINK, interpolated.
function thinkTime() {
  if (THINK.length === 0) return 0;
  const u = Math.random() * (THINK.length - 1);
  const i = Math.floor(u);
  const next = THINK[Math.min(i + 1, THINK.length - 1)];
  return (THINK[i] + (next - THINK[i]) * (u - i)) * THINK_SCALE;
}

// The route's URL: placeholders from the values seen, query parameters as often as logged.
function url(route) {
  let i = 0;
  const path = route.path.replace(/\{[^}]+\}/g, () => {
    const values = route.values[i++];
    return values && values.length ? oneOf(values) : '1';
  });
  const query = [];
  for (const [name, q] of Object.entries(route.query)) {
    if (Math.random() < q.share) query.push(q.values.length ? `${name}=${oneOf(q.values)}` : name);
  }
  return BASE_URL + path + (query.length ? '?' + query.join('&') : '');
}

// One visitor's session: routes from the chain, think times between them.
export default function () {
  let state = pick(START);
  for (let n = 0; state >= 0 && n < MAX_REQUESTS; n++) {
    const route = ROUTES[state];
    http.request(route.method, url(route), null, { tags: { name: route.name } });
    state = pick(NEXT[state]);
    if (state >= 0) sleep(thinkTime());
  }
}
"#;
