//! Trend percentiles against k6's definition (metrics/sink.go, TrendSink.P, the same in v1.1 and
//! v2.2), computed directly on random sample sets: exact while a series keeps its samples, within
//! the documented HDR error past that, and the same whether the samples arrive in one aggregate
//! or split across workers and seconds.

use brunt_metrics::{Agg, MetricType, TrendAgg, EXACT_SAMPLES};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// k6's percentile: sort, rank `pct * (n-1)`, linear interpolation between the closest ranks.
fn k6_percentile(values: &[f64], pct: f64) -> f64 {
    match values.len() {
        0 => 0.0,
        1 => values[0],
        n => {
            let mut v = values.to_vec();
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let i = pct * (n as f64 - 1.0);
            let j = v[i.floor() as usize];
            let k = v[i.ceil() as usize];
            j + (k - j) * (i - i.floor())
        }
    }
}

/// The percentiles a user asks for most, and some odd ones.
const PERCENTILES: &[f64] = &[
    0.0, 1.0, 10.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0, 33.3,
];

fn trend(values: &[f64]) -> TrendAgg {
    let mut t = TrendAgg::default();
    for &v in values {
        t.add(v);
    }
    t
}

/// As the run does it: each worker folds its share of a second's samples, and the collector
/// merges every worker's second into the totals.
fn trend_from_workers(values: &[f64], rng: &mut SmallRng) -> TrendAgg {
    let mut totals = Agg::new(MetricType::Trend);
    let mut rest = values;
    while !rest.is_empty() {
        let take = rng.random_range(1..=rest.len());
        let (second, later) = rest.split_at(take);
        rest = later;
        let workers = rng.random_range(1..=4);
        let mut shares = vec![Agg::new(MetricType::Trend); workers];
        for &v in second {
            shares[rng.random_range(0..workers)].add(v);
        }
        for s in &shares {
            totals.merge(s);
        }
    }
    match totals {
        Agg::Trend(t) => *t,
        _ => unreachable!("a trend merges into a trend"),
    }
}

/// Sample sets of every shape that matters: integers, floats, skewed, one value, all equal,
/// negative, with `n` samples.
fn sample_set(shape: usize, n: usize, rng: &mut SmallRng) -> Vec<f64> {
    (0..n)
        .map(|_| match shape {
            0 => rng.random_range(1..=1000) as f64,
            1 => rng.random_range(0.0..500.0),
            // Exponential: most samples small, a long tail (latency-like).
            2 => -50.0 * (1.0 - rng.random::<f64>()).ln(),
            // Pareto: a very heavy tail.
            3 => 2.0 / (1.0 - rng.random::<f64>()).powf(1.0 / 1.2),
            4 => 42.125,
            5 => rng.random_range(-100.0..100.0),
            _ => rng.random_range(1..=3) as f64 * 0.1,
        })
        .collect()
}

const SHAPES: usize = 7;

#[test]
fn small_series_give_k6s_percentiles_exactly() {
    let mut rng = SmallRng::seed_from_u64(0x6b36);
    for case in 0..400 {
        let shape = case % SHAPES;
        let n = match case % 5 {
            0 => 1,
            1 => 2,
            2 => rng.random_range(3..20),
            3 => rng.random_range(20..1000),
            _ => rng.random_range(1000..=EXACT_SAMPLES),
        };
        let values = sample_set(shape, n, &mut rng);
        let whole = trend(&values);
        let split = trend_from_workers(&values, &mut rng);
        for t in [&whole, &split] {
            assert!(t.is_exact(), "case {case}: {n} samples are kept");
            for &p in PERCENTILES {
                let want = k6_percentile(&values, p / 100.0);
                assert_eq!(
                    t.percentile(p),
                    want,
                    "case {case}, shape {shape}, {n} samples, p({p})"
                );
            }
        }
    }
}

#[test]
fn min_max_avg_and_med_are_k6s() {
    let mut rng = SmallRng::seed_from_u64(7);
    for shape in 0..SHAPES {
        for n in [1, 5, 300, EXACT_SAMPLES * 3] {
            let values = sample_set(shape, n, &mut rng);
            let mut t = Agg::new(MetricType::Trend);
            for &v in &values {
                t.add(v);
            }
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let avg = values.iter().sum::<f64>() / n as f64;
            assert_eq!(t.stat("min", 1.0), Some(min));
            assert_eq!(t.stat("max", 1.0), Some(max));
            assert_eq!(t.stat("avg", 1.0), Some(avg), "summed in the same order");
            assert_eq!(t.stat("med", 1.0), t.stat("p(50)", 1.0));
            assert_eq!(t.stat("p(100)", 1.0), Some(max));
            assert_eq!(t.stat("p(0)", 1.0), Some(min));
        }
    }
}

/// Past the cut-off: k6's interpolation over the histogram's values, each within 0.1% of the
/// sample at its rank (bucket width under 1/1024 of the value with 3 significant digits, plus
/// rounding to thousandths), or within half a thousandth for samples under 0.5.
#[test]
fn large_series_are_within_the_documented_error() {
    let mut rng = SmallRng::seed_from_u64(0xb1);
    for case in 0..12 {
        // Negative samples count as 0 in the histogram; their series are exact-only territory.
        let shape = [0, 1, 2, 3, 4, 6][case % 6];
        let n = rng.random_range(EXACT_SAMPLES + 1..EXACT_SAMPLES * 8);
        let values = sample_set(shape, n, &mut rng);
        let t = trend_from_workers(&values, &mut rng);
        assert!(!t.is_exact(), "{n} samples are past the cut-off");
        let mut sorted = values.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        for &p in PERCENTILES {
            let want = k6_percentile(&values, p / 100.0);
            let upper = sorted[((p / 100.0) * (n as f64 - 1.0)).ceil() as usize];
            let got = t.percentile(p);
            let bound = (upper.abs() * 0.001).max(0.0005) * (1.0 + 1e-12);
            assert!(
                (got - want).abs() <= bound,
                "case {case}, shape {shape}, {n} samples, p({p}): {got} vs k6's {want}"
            );
        }
    }
}

/// The example: one slow sample among ten flips `p(95)<100` under a histogram without
/// interpolation (123.456); k6 says 66.728.
#[test]
fn one_outlier_among_ten_samples() {
    let mut values: Vec<f64> = (1..=10).map(f64::from).collect();
    values.push(123.456789);
    let t = trend(&values);
    assert_eq!(t.percentile(95.0), 10.0 + (123.456789 - 10.0) * 0.5);
    assert_eq!(t.percentile(50.0), 6.0);
    let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
    let t = trend(&hundred);
    assert_eq!(t.percentile(50.0), 50.5);
    assert_eq!(t.percentile(90.0), k6_percentile(&hundred, 0.9));
}

#[test]
fn a_series_read_back_from_its_histogram_interpolates_the_same_way() {
    let values: Vec<f64> = (1..=10).map(f64::from).chain([123.456789]).collect();
    let kept = trend(&values);
    let read_back =
        TrendAgg::from_histogram(kept.count, kept.sum, kept.min, kept.max, kept.hist.clone());
    assert!(!read_back.is_exact());
    for &p in PERCENTILES {
        let want = kept.percentile(p);
        let got = read_back.percentile(p);
        assert!(
            (got - want).abs() <= want / 1024.0 + 0.0005,
            "p({p}): {got} vs {want}"
        );
    }
    assert_eq!(
        TrendAgg::from_histogram(0, 0.0, 0.0, 0.0, kept.hist).percentile(95.0),
        0.0
    );
}
