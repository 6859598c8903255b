//! The coordinator's cost at scale, measured (`#[ignore]`d: run it on purpose, in release):
//! 200 simulated instances each send one second of a realistic metric set (20 series, 5 of
//! them trends with 1,000 samples spread like request latencies); the coordinator decodes each
//! report and merges it into the second, then into the run's totals. Prints the merge time per
//! tick and the bytes each instance sends a second (docs/benchmarks.md).

use crate::merge::Seconds;
use crate::proto::Report;
use brunt_engine::Progress;
use brunt_metrics::{builtin, Aggregator, Registry, Snapshot, TagSet};
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};

const INSTANCES: usize = 200;
const TICKS: u64 = 10;

/// One instance's second: 15 counters, rates and gauges, and 5 trends of 1,000 samples.
fn second(reg: &Arc<Registry>, rng: &mut rand::rngs::SmallRng) -> Vec<u8> {
    let mut a = Aggregator::new(reg.clone(), false);
    let tags = |status: &str, name: &str| {
        TagSet::new([
            ("status", status),
            ("name", name),
            ("method", "GET"),
            ("scenario", "default"),
        ])
    };
    let routes = [
        tags("200", "/api/a"),
        tags("200", "/api/b"),
        tags("500", "/api/a"),
    ];
    let none = TagSet::empty();
    for t in &routes {
        a.add(builtin::HTTP_REQS, t, 300.0);
        a.add(builtin::HTTP_REQ_FAILED, t, 0.0);
        a.add(builtin::DATA_SENT, t, 30_000.0);
        a.add(builtin::DATA_RECEIVED, t, 120_000.0);
    }
    a.add(builtin::VUS, &none, 50.0);
    a.add(builtin::VUS_MAX, &none, 50.0);
    a.add(builtin::ITERATIONS, &none, 900.0);
    // 3 x 4 + 3 = 15 series so far; now 5 trends.
    for _ in 0..1000 {
        // A latency-like spread: mostly 5-50 ms, a tail to 2 s.
        let base: f64 = rng.random_range(5.0..50.0);
        let tail = if rng.random_bool(0.02) {
            rng.random_range(100.0..2000.0)
        } else {
            0.0
        };
        let v = base + tail;
        a.add(builtin::HTTP_REQ_DURATION, &routes[0], v);
        a.add(builtin::HTTP_REQ_DURATION, &routes[1], v * 1.3);
        a.add(builtin::HTTP_REQ_WAITING, &routes[0], v * 0.9);
        a.add(builtin::HTTP_REQ_RECEIVING, &routes[0], v * 0.05);
        a.add(builtin::ITERATION_DURATION, &none, v + 100.0);
    }
    let series = a.take().series;
    assert_eq!(series.len(), 20);
    let report = Report {
        elapsed_ms: 1000,
        series: brunt_output::encode_series(&series, reg).unwrap(),
        progress: Progress::default(),
        end: None,
    };
    serde_json::to_vec(&report).unwrap()
}

#[test]
#[ignore = "a benchmark: cargo test -p brunt-coordinator --release -- --ignored --nocapture"]
fn merge_200_instances() {
    let reg = Arc::new(Registry::new());
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let bodies: Vec<Vec<u8>> = (0..INSTANCES).map(|_| second(&reg, &mut rng)).collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum::<usize>() / INSTANCES;
    let mut seconds = Seconds::default();
    let mut total = Snapshot::default();
    let mut ticks = Vec::new();
    let cpu_before = process_cpu();
    for tick in 1..=TICKS {
        let t0 = Instant::now();
        let now = Instant::now();
        for body in &bodies {
            let r: Report = serde_json::from_slice(body).unwrap();
            let series = brunt_output::decode_series(r.series, &reg).unwrap();
            seconds.add(tick, &series, now);
        }
        let (_, merged) = seconds
            .pop_ready(std::iter::repeat_n(tick, INSTANCES), now, false)
            .unwrap();
        total.merge_series(&merged);
        ticks.push(t0.elapsed());
    }
    let cpu_per_tick = (process_cpu() - cpu_before) / TICKS as u32;
    ticks.sort();
    let median = ticks[ticks.len() / 2];
    let per_instance = median / INSTANCES as u32;
    println!(
        "{INSTANCES} instances x 20 series (5 trends of 1,000 samples): {bytes} bytes per instance per second; merge per tick: CPU {:.1} ms, wall median {:.1} ms, max {:.1} ms ({:.0} us wall per instance report)",
        cpu_per_tick.as_secs_f64() * 1000.0,
        median.as_secs_f64() * 1000.0,
        ticks.last().copied().unwrap_or(Duration::ZERO).as_secs_f64() * 1000.0,
        per_instance.as_secs_f64() * 1e6,
    );
    let count = total
        .metric(builtin::HTTP_REQ_DURATION)
        .unwrap()
        .stat("count", 0.0);
    assert_eq!(count, Some((INSTANCES as u64 * TICKS * 2000) as f64));
}

/// This process's CPU time so far (user and system), from /proc/self/stat: on a shared machine
/// the wall time of a tick includes waiting for a core.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}
