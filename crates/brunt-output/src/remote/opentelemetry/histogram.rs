//! A trend's HDR histogram as an OTLP histogram: base-2 exponential buckets (the finest scale
//! whose buckets span the recorded values in at most [`MAX_BUCKETS`], as the OpenTelemetry SDKs'
//! default of 160 buckets and scale 20), or the SDKs' default explicit buckets, which k6 sends.

use super::proto::{Buckets, ExponentialHistogramDataPoint, HistogramDataPoint};
use brunt_metrics::TrendAgg;

/// The most buckets an exponential histogram gets, and the finest scale.
const MAX_BUCKETS: i64 = 160;
const MAX_SCALE: i32 = 20;
/// The OpenTelemetry SDKs' default explicit bucket bounds (Go's, and so k6's).
pub(crate) const EXPLICIT_BOUNDS: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// The histogram's recorded values in the metric's unit (the lowest of each HDR bucket, exact
/// for values at whole thousandths and within 0.1% otherwise, as the summary's percentiles),
/// with their counts.
fn values(t: &TrendAgg) -> impl Iterator<Item = (f64, u64)> + '_ {
    t.hist.iter_recorded().map(|v| {
        let raw = t.hist.lowest_equivalent(v.value_iterated_to());
        (raw as f64 / 1000.0, v.count_at_value())
    })
}

/// The bucket of `v` (> 0) at `scale`: bucket i holds (base^i, base^(i+1)], base = 2^(2^-scale).
fn index(v: f64, scale: i32) -> i64 {
    (v.log2() * 2f64.powi(scale)).ceil() as i64 - 1
}

/// Fills the exponential buckets of `p` from `t`.
pub(crate) fn exponential(t: &TrendAgg, p: &mut ExponentialHistogramDataPoint) {
    let positive: Vec<(f64, u64)> = values(t).filter(|(v, _)| *v > 0.0).collect();
    p.zero_count = values(t).filter(|(v, _)| *v <= 0.0).map(|(_, c)| c).sum();
    let (Some(lo), Some(hi)) = (positive.first(), positive.last()) else {
        p.scale = MAX_SCALE;
        return;
    };
    let mut scale = MAX_SCALE;
    while scale > -10 && index(hi.0, scale) - index(lo.0, scale) + 1 > MAX_BUCKETS {
        scale -= 1;
    }
    let offset = index(lo.0, scale);
    let mut counts = vec![0u64; (index(hi.0, scale) - offset + 1) as usize];
    for (v, c) in positive {
        counts[(index(v, scale) - offset) as usize] += c;
    }
    p.scale = scale;
    p.positive = Some(Buckets {
        offset: offset as i32,
        bucket_counts: counts,
    });
}

/// Fills the explicit buckets of `p` from `t`: bucket i counts values in (bound[i-1], bound[i]].
pub(crate) fn explicit(t: &TrendAgg, p: &mut HistogramDataPoint) {
    let mut counts = vec![0u64; EXPLICIT_BOUNDS.len() + 1];
    for (v, c) in values(t) {
        let i = EXPLICIT_BOUNDS.partition_point(|b| *b < v);
        counts[i] += c;
    }
    p.explicit_bounds = EXPLICIT_BOUNDS.to_vec();
    p.bucket_counts = counts;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trend(values: &[f64]) -> TrendAgg {
        let mut t = TrendAgg::default();
        for v in values {
            t.add(*v);
        }
        t
    }

    #[test]
    fn exponential_buckets_hold_every_value_at_the_finest_scale_that_fits() {
        let t = trend(&[0.0, 1.0, 2.0, 3.0, 1000.0, 1000.0]);
        let mut p = ExponentialHistogramDataPoint::default();
        exponential(&t, &mut p);
        assert_eq!(p.zero_count, 1);
        let b = p.positive.unwrap();
        assert_eq!(b.bucket_counts.iter().sum::<u64>(), 5);
        assert!(b.bucket_counts.len() as i64 <= MAX_BUCKETS);
        // 1 to 1000 ms is about 10 doublings: scale 4 (16 buckets a doubling) would need 161
        // buckets, so scale 3.
        assert_eq!(p.scale, 3);
        let base = 2f64.powf(2f64.powi(-p.scale));
        let last = b.offset as i64 + b.bucket_counts.len() as i64 - 1;
        assert!(base.powi(last as i32) < 1000.0 && 1000.0 <= base.powi(last as i32 + 1) * 1.001);
    }

    #[test]
    fn explicit_buckets_are_the_sdk_defaults() {
        let t = trend(&[0.0, 3.0, 5.0, 7.0, 20000.0]);
        let mut p = HistogramDataPoint::default();
        explicit(&t, &mut p);
        assert_eq!(p.bucket_counts.len(), 16);
        assert_eq!(&p.bucket_counts[..3], &[1, 2, 1]);
        assert_eq!(p.bucket_counts[15], 1);
    }
}
