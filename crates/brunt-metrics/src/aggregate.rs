//! Aggregates per (metric, tag set): what workers fold samples into on the hot path, and what the
//! collector merges once a second into the run's totals and time series.

use crate::exemplar::{Exemplar, Exemplars, Trace};
use crate::registry::{MetricId, MetricType, Registry};
use crate::tags::TagSet;
use hashbrown::HashMap;
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::time::SystemTime;

/// Trend values are recorded in the histogram in thousandths of their unit: microseconds for
/// time metrics (whose values are milliseconds, as in k6), 0.001 for plain numbers.
const TREND_SCALE: f64 = 1000.0;
/// HDR precision: 3 significant digits (0.1% relative error).
const SIG_FIGS: u8 = 3;

/// Samples a series keeps exactly, so that its percentiles are k6's to the last digit; past this
/// count it answers from its histogram. Chosen by measurement (docs/benchmarks.md): 32 KiB a
/// series, and small runs (CI smoke tests, where a few samples flip a verdict) stay exact.
pub const EXACT_SAMPLES: usize = 4096;

/// `x.round() as u64` for a non-negative `x` (a trend's scaled sample), without a call to
/// libm's `round` for each sample: below 2^52 the fraction `x - trunc(x)` is exact, so halves
/// round up as `round` does; from there on `x` is whole, and past `u64::MAX` both saturate.
fn round_to_u64(x: f64) -> u64 {
    let whole = x as u64;
    if x - whole as f64 >= 0.5 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

/// A k6 Trend: exact count, sum, min and max; every sample while there are at most
/// [`EXACT_SAMPLES`], and an HDR histogram for the percentiles of larger series.
#[derive(Clone, Debug)]
pub struct TrendAgg {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub hist: Histogram<u64>,
    /// Every sample, in no order, while they number at most `EXACT_SAMPLES`; None past that.
    exact: Option<Vec<f64>>,
    /// The slowest samples taken while a sampled trace was set (see [`Aggregator::set_trace`]).
    pub exemplars: Exemplars,
    /// Zero samples in `count`, `min` and `max` but not yet in `hist` and `exact`
    /// ([`add_zero_later`](Self::add_zero_later)); always 0 outside a worker's [`Aggregator`].
    zeros_later: u64,
}

impl Default for TrendAgg {
    fn default() -> Self {
        TrendAgg {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            hist: Histogram::new(SIG_FIGS).expect("3 significant figures is a valid HDR precision"),
            exact: Some(Vec::new()),
            exemplars: Exemplars::default(),
            zeros_later: 0,
        }
    }
}

impl TrendAgg {
    /// A trend known only by its histogram (read back from a results file): its percentiles are
    /// the histogram's estimate.
    pub fn from_histogram(count: u64, sum: f64, min: f64, max: f64, hist: Histogram<u64>) -> Self {
        TrendAgg {
            count,
            sum,
            min,
            max,
            hist,
            exact: (count == 0).then(Vec::new),
            exemplars: Exemplars::default(),
            zeros_later: 0,
        }
    }

    pub fn add(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if let Some(samples) = &mut self.exact {
            if samples.len() < EXACT_SAMPLES {
                samples.push(v);
            } else {
                self.exact = None;
            }
        }
        // Negative values cannot live in an HDR histogram; they count as 0 for percentiles while
        // min, max and avg stay exact.
        let scaled = round_to_u64(v.max(0.0) * TREND_SCALE);
        // The histogram auto-resizes; past u64 range it saturates rather than losing the sample.
        if self.hist.record(scaled).is_err() {
            self.hist.saturating_record(scaled);
        }
    }

    /// A sample of +0.0 (a request's connecting and TLS times on a kept-alive connection): its
    /// count, min and max now, as [`add`](Self::add) takes them, and its place in the histogram
    /// and the exact samples when [`record_zeros`](Self::record_zeros) is called, all of a
    /// series' zeros in one HDR record. Its sum is unchanged by a +0.0 (it starts at +0.0, and
    /// no sum of samples is -0.0).
    fn add_zero_later(&mut self) {
        self.count += 1;
        self.min = self.min.min(0.0);
        self.max = self.max.max(0.0);
        self.zeros_later += 1;
    }

    /// Puts the zeros [`add_zero_later`](Self::add_zero_later) counted where
    /// [`add`](Self::add) would have: the exact samples (in no order, so at the end; dropped
    /// if the count is past [`EXACT_SAMPLES`], as `add` drops them) and the histogram.
    fn record_zeros(&mut self) {
        let n = std::mem::take(&mut self.zeros_later);
        if n == 0 {
            return;
        }
        if let Some(samples) = &mut self.exact {
            if self.count <= EXACT_SAMPLES as u64 {
                samples.resize(samples.len() + n as usize, 0.0);
            } else {
                self.exact = None;
            }
        }
        // 0 is in every histogram's range: recording it cannot fail.
        let _ = self.hist.record_n(0, n);
    }

    pub fn merge(&mut self, other: &TrendAgg) {
        if other.count == 0 {
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.exact = match (self.exact.take(), &other.exact) {
            (Some(mut mine), Some(theirs)) if mine.len() + theirs.len() <= EXACT_SAMPLES => {
                mine.extend_from_slice(theirs);
                Some(mine)
            }
            _ => None,
        };
        // Both histograms auto-resize, so adding never fails on range.
        let _ = self.hist.add(&other.hist);
        self.exemplars.merge(&other.exemplars);
    }

    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    /// Samples above `bound` (or at it too, with `inclusive`): the bad events of a latency SLO.
    /// Exact while every sample is kept; past that, the histogram's count, within its 0.1%.
    pub fn count_over(&self, bound: f64, inclusive: bool) -> u64 {
        let over = |v: f64| v > bound || (inclusive && v == bound);
        match &self.exact {
            Some(samples) => samples.iter().filter(|&&v| over(v)).count() as u64,
            None => {
                let scaled = (bound.max(0.0) * TREND_SCALE).round() as u64;
                let below = match (inclusive, scaled) {
                    (true, 0) => 0,
                    (true, b) => self.hist.count_between(0, b - 1),
                    (false, b) => self.hist.count_between(0, b),
                };
                self.count.saturating_sub(below)
            }
        }
    }

    /// Whether [`percentile`](Self::percentile) is exact (every sample is kept) rather than the
    /// histogram's estimate.
    pub fn is_exact(&self) -> bool {
        self.exact.is_some()
    }

    /// Percentile `p` in 0..=100 as k6 computes it: the samples in order, linear interpolation
    /// between the two closest ranks (rank `p/100 * (count-1)`). Exact while every sample is
    /// kept; past that, the same interpolation between the histogram's values at those ranks,
    /// within 0.1% of k6's answer (docs/k6-compatibility.md).
    pub fn percentile(&self, p: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = (p / 100.0).clamp(0.0, 1.0) * (self.count - 1) as f64;
        let (below, above) = (rank.floor(), rank.ceil());
        let (j, k) = match &self.exact {
            Some(samples) => order_stats(samples, below as usize, above as usize),
            None => (
                self.hist_at_rank(below as u64),
                self.hist_at_rank(above as u64),
            ),
        };
        j + (k - j) * (rank - below)
    }

    /// The histogram's value at 0-based `rank` in sorted order: the lowest value of its bucket
    /// (exact for values recorded at whole thousandths, where the highest equivalent would print
    /// 20 ms as 20.01 ms), clamped to the exact min and max, which are the first and last ranks.
    fn hist_at_rank(&self, rank: u64) -> f64 {
        if rank == 0 {
            return self.min;
        }
        if rank + 1 >= self.count {
            return self.max;
        }
        let mut seen = 0;
        for bucket in self.hist.iter_recorded() {
            seen += bucket.count_at_value();
            if seen > rank {
                let v = self.hist.lowest_equivalent(bucket.value_iterated_to()) as f64;
                return (v / TREND_SCALE).clamp(self.min, self.max);
            }
        }
        self.max
    }

    pub fn min_or_zero(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.min
        }
    }

    pub fn max_or_zero(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.max
        }
    }
}

/// The `i`-th and `j`-th smallest samples (0-based, `i <= j <= i + 1`), in linear time.
fn order_stats(samples: &[f64], i: usize, j: usize) -> (f64, f64) {
    let mut v = samples.to_vec();
    let (_, at_i, rest) = v.select_nth_unstable_by(i, f64::total_cmp);
    let at_i = *at_i;
    let at_j = if j == i {
        at_i
    } else {
        rest.iter().copied().min_by(f64::total_cmp).unwrap_or(at_i)
    };
    (at_i, at_j)
}

/// One series' aggregate, by metric type.
#[derive(Clone, Debug)]
pub enum Agg {
    /// Sum of values.
    Counter {
        sum: f64,
    },
    /// Last value set, with the extremes seen.
    Gauge {
        value: f64,
        min: f64,
        max: f64,
    },
    /// Non-zero values count as passes.
    Rate {
        passes: u64,
        total: u64,
    },
    Trend(Box<TrendAgg>),
}

impl Agg {
    pub fn new(t: MetricType) -> Agg {
        match t {
            MetricType::Counter => Agg::Counter { sum: 0.0 },
            MetricType::Gauge => Agg::Gauge {
                value: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
            },
            MetricType::Rate => Agg::Rate {
                passes: 0,
                total: 0,
            },
            MetricType::Trend => Agg::Trend(Box::default()),
        }
    }

    #[inline]
    pub fn add(&mut self, v: f64) {
        match self {
            Agg::Counter { sum } => *sum += v,
            Agg::Gauge { value, min, max } => {
                *value = v;
                *min = min.min(v);
                *max = max.max(v);
            }
            Agg::Rate { passes, total } => {
                *total += 1;
                if v != 0.0 {
                    *passes += 1;
                }
            }
            Agg::Trend(t) => t.add(v),
        }
    }

    /// Folds `other` (a later or parallel aggregate of the same metric) into this one.
    pub fn merge(&mut self, other: &Agg) {
        match (self, other) {
            (Agg::Counter { sum }, Agg::Counter { sum: o }) => *sum += o,
            (
                Agg::Gauge { value, min, max },
                Agg::Gauge {
                    value: ov,
                    min: omin,
                    max: omax,
                },
            ) if omin.is_finite() => {
                *value = *ov;
                *min = min.min(*omin);
                *max = max.max(*omax);
            }
            (
                Agg::Rate { passes, total },
                Agg::Rate {
                    passes: op,
                    total: ot,
                },
            ) => {
                *passes += op;
                *total += ot;
            }
            (Agg::Trend(t), Agg::Trend(o)) => t.merge(o),
            // An empty gauge changes nothing; types are fixed per metric id by the registry, so
            // mixed merges cannot happen.
            _ => {}
        }
    }

    pub fn metric_type(&self) -> MetricType {
        match self {
            Agg::Counter { .. } => MetricType::Counter,
            Agg::Gauge { .. } => MetricType::Gauge,
            Agg::Rate { .. } => MetricType::Rate,
            Agg::Trend(_) => MetricType::Trend,
        }
    }

    /// A k6 aggregation method by name (`avg`, `min`, `max`, `med`, `p(N)`, `count`, `rate`, `value`,
    /// `passes`, `fails`), or None when the metric type has no such statistic.
    /// `elapsed_secs` turns a counter's sum into its per-second rate.
    pub fn stat(&self, name: &str, elapsed_secs: f64) -> Option<f64> {
        match self {
            Agg::Counter { sum } => match name {
                "count" => Some(*sum),
                "rate" => Some(if elapsed_secs > 0.0 {
                    sum / elapsed_secs
                } else {
                    0.0
                }),
                _ => None,
            },
            Agg::Gauge { value, min, max } => match name {
                "value" => Some(*value),
                "min" => Some(if min.is_finite() { *min } else { 0.0 }),
                "max" => Some(if max.is_finite() { *max } else { 0.0 }),
                _ => None,
            },
            Agg::Rate { passes, total } => match name {
                "rate" => Some(if *total > 0 {
                    *passes as f64 / *total as f64
                } else {
                    0.0
                }),
                "passes" => Some(*passes as f64),
                "fails" => Some((total - passes) as f64),
                _ => None,
            },
            Agg::Trend(t) => match name {
                "avg" => Some(t.avg()),
                "min" => Some(t.min_or_zero()),
                "max" => Some(t.max_or_zero()),
                "med" => Some(t.percentile(50.0)),
                "count" => Some(t.count as f64),
                _ => parse_percentile(name).map(|p| t.percentile(p)),
            },
        }
    }
}

/// `p(95)` or `p(99.9)` to 95.0 / 99.9.
pub fn parse_percentile(name: &str) -> Option<f64> {
    let inner = name.strip_prefix("p(")?.strip_suffix(')')?;
    let p: f64 = inner.trim().parse().ok()?;
    (0.0..=100.0).contains(&p).then_some(p)
}

/// One raw sample, kept only when a per-sample output (`--out json`, `--out csv`) is on.
#[derive(Clone, Debug)]
pub struct RawSample {
    pub metric: MetricId,
    pub tags: TagSet,
    pub value: f64,
    pub time: SystemTime,
    /// The trace of the request the sample belongs to (k6's `trace_id` metadata).
    pub trace: Option<Trace>,
}

/// Aggregates keyed by series. hashbrown rather than std: its fast default hasher (the key is a
/// u32 and a precomputed u64) keeps merging cheap, and `Aggregator` looks up tag sets with it.
pub type SeriesMap = HashMap<(MetricId, TagSet), Agg>;

/// A worker's private aggregates: no lock and, once a series exists, no allocation on `add`.
/// They are kept by tag set, then by metric: a request's samples share one tag set, so
/// [`add_all`](Self::add_all) records them with one lookup of the tag set and finds each
/// metric where it was the time before. The lookup is usually a pointer comparison with one of
/// the [`RECENT`] tag sets used last (a request records to the same few, its own, its VU's and
/// its iteration's, time after time), else one hash lookup (the tag set's cached hash and,
/// usually, one pointer comparison).
pub struct Aggregator {
    registry: Arc<Registry>,
    /// Each tag set's place in `groups`.
    places: HashMap<TagSet, usize>,
    groups: Vec<(TagSet, Group)>,
    /// The tag sets used last, as the callers passed them, with their places in `groups`.
    recent: Vec<(TagSet, usize)>,
    /// The entry of `recent` that the next tag set not in it replaces, once it is full.
    evict: usize,
    raw: Option<Vec<RawSample>>,
    /// The trace samples belong to while it is set.
    trace: Option<Trace>,
}

/// How many of the tag sets used last an [`Aggregator`] finds by pointer. An iteration of a
/// usual script adds to several in turn (a request's, one per check, the VU's own for its custom
/// metrics and the iteration): with fewer places than sets, each replaces one the next add needs.
const RECENT: usize = 16;

/// One tag set's series, in the order their metrics were first added.
#[derive(Default)]
struct Group(Vec<(MetricId, Agg)>);

impl Group {
    /// Adds each sample to its metric's series; `registry` types the series it creates.
    fn add_all(&mut self, samples: &[(MetricId, f64)], trace: Option<Trace>, registry: &Registry) {
        // Samples come in the same order call after call: the next metric is usually the one
        // after the last found.
        let mut next = 0;
        for &(metric, value) in samples {
            let i = match self.0.get(next) {
                Some((m, _)) if *m == metric => next,
                _ => match self.0.iter().position(|(m, _)| *m == metric) {
                    Some(i) => i,
                    None => {
                        let kind = registry.def(metric).metric_type;
                        self.0.push((metric, Agg::new(kind)));
                        self.0.len() - 1
                    }
                },
            };
            next = i + 1;
            let a = &mut self.0[i].1;
            match trace {
                None => match a {
                    // A trend's zeros (a kept-alive request's connecting and TLS times) go
                    // into its histogram all at once, when the interval is handed over.
                    Agg::Trend(t) if value.to_bits() == 0 => t.add_zero_later(),
                    a => a.add(value),
                },
                Some(trace) => {
                    a.add(value);
                    offer_exemplar(a, value, trace);
                }
            }
        }
    }
}

/// What a worker hands to the collector once a second.
#[derive(Default)]
pub struct Interval {
    pub series: SeriesMap,
    pub raw: Vec<RawSample>,
}

impl Aggregator {
    /// `keep_raw` keeps every sample too, for per-sample outputs.
    pub fn new(registry: Arc<Registry>, keep_raw: bool) -> Self {
        Aggregator {
            registry,
            places: HashMap::new(),
            groups: Vec::new(),
            recent: Vec::with_capacity(RECENT),
            evict: 0,
            raw: keep_raw.then(Vec::new),
            trace: None,
        }
    }

    /// Samples added from now on belong to `trace` (a request's, while its samples are recorded;
    /// a script's `exec.vu.metrics.metadata.trace_id`): raw samples carry it, and trends keep
    /// the slowest of a sampled trace as exemplars. Returns the trace set before.
    pub fn set_trace(&mut self, trace: Option<Trace>) -> Option<Trace> {
        std::mem::replace(&mut self.trace, trace)
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    #[inline]
    pub fn add(&mut self, metric: MetricId, tags: &TagSet, value: f64) {
        self.add_all(tags, &[(metric, value)])
    }

    /// As [`add`](Self::add), with the sample's time taken from `time` only if raw samples are kept.
    #[inline]
    pub fn add_at(
        &mut self,
        metric: MetricId,
        tags: &TagSet,
        value: f64,
        time: impl FnOnce() -> SystemTime,
    ) {
        self.add_all_at(tags, &[(metric, value)], time)
    }

    /// Samples of several metrics with the same tags, taken at the same moment (a request's):
    /// one lookup of the tag set for all of them.
    #[inline]
    pub fn add_all(&mut self, tags: &TagSet, samples: &[(MetricId, f64)]) {
        self.add_all_at(tags, samples, SystemTime::now)
    }

    /// As [`add_all`](Self::add_all), with the samples' time taken from `time` only if raw
    /// samples are kept.
    pub fn add_all_at(
        &mut self,
        tags: &TagSet,
        samples: &[(MetricId, f64)],
        time: impl FnOnce() -> SystemTime,
    ) {
        if let Some(raw) = &mut self.raw {
            let time = time();
            raw.extend(samples.iter().map(|&(metric, value)| RawSample {
                metric,
                tags: tags.clone(),
                value,
                time,
                trace: self.trace,
            }));
        }
        let i = self.place(tags);
        self.groups[i]
            .1
            .add_all(samples, self.trace, &self.registry);
    }

    /// The place in `groups` of the group for `tags`, made if there is none.
    #[inline]
    fn place(&mut self, tags: &TagSet) -> usize {
        if let Some(&(_, i)) = self.recent.iter().find(|(t, _)| t.same(tags)) {
            return i;
        }
        let i = match self.places.get(tags) {
            Some(&i) => i,
            None => {
                // Keyed by the thread's shared copy, which the VUs record with: a lookup is
                // then one pointer comparison instead of a comparison of every pair.
                let shared = crate::intern(tags.clone());
                self.places.insert(shared.clone(), self.groups.len());
                self.groups.push((shared, Group::default()));
                self.groups.len() - 1
            }
        };
        if self.recent.len() < RECENT {
            self.recent.push((tags.clone(), i));
        } else {
            self.recent[self.evict] = (tags.clone(), i);
            self.evict = (self.evict + 1) % RECENT;
        }
        i
    }

    /// Hands over everything gathered since the last call.
    pub fn take(&mut self) -> Interval {
        let mut series = SeriesMap::new();
        self.places.clear();
        self.recent.clear();
        for (tags, group) in self.groups.drain(..) {
            for (metric, mut agg) in group.0 {
                if let Agg::Trend(t) = &mut agg {
                    t.record_zeros();
                }
                series.insert((metric, tags.clone()), agg);
            }
        }
        Interval {
            series,
            raw: self.raw.as_mut().map(std::mem::take).unwrap_or_default(),
        }
    }
}

/// A trend keeps a sample of a sampled trace when it is among its slowest.
fn offer_exemplar(a: &mut Agg, value: f64, trace: Trace) {
    if let Agg::Trend(t) = a {
        if trace.sampled && t.exemplars.wants(value) {
            t.exemplars.offer(Exemplar {
                value,
                time_ns: unix_nanos(SystemTime::now()),
                trace,
            });
        }
    }
}

/// Nanoseconds since the Unix epoch.
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Merged aggregates (a run's totals, or one time bucket).
#[derive(Clone, Default, Debug)]
pub struct Snapshot {
    pub series: SeriesMap,
}

impl Snapshot {
    pub fn merge_series(&mut self, other: &SeriesMap) {
        for (k, a) in other {
            match self.series.get_mut(k) {
                Some(mine) => mine.merge(a),
                None => {
                    self.series.insert(k.clone(), a.clone());
                }
            }
        }
    }

    /// Adds another instance's aggregates of the same stretch of time (instances of a
    /// distributed run, each on its own execution segment): as [`merge_series`](Self::merge_series),
    /// except that the `vus` and `vus_max` gauges add up, since each instance ran its own VUs.
    pub fn merge_instance(&mut self, other: &SeriesMap) {
        for (k, a) in other {
            match (self.series.get_mut(k), a) {
                (
                    Some(Agg::Gauge { value, min, max }),
                    Agg::Gauge {
                        value: v,
                        min: lo,
                        max: hi,
                    },
                ) if matches!(k.0, crate::builtin::VUS | crate::builtin::VUS_MAX) => {
                    *value += v;
                    *min += lo;
                    *max += hi;
                }
                (Some(mine), _) => mine.merge(a),
                (None, _) => {
                    self.series.insert(k.clone(), a.clone());
                }
            }
        }
    }

    /// The metric over all its tag sets, or None if it has no samples.
    pub fn metric(&self, metric: MetricId) -> Option<Agg> {
        self.fold(metric, |_| true)
    }

    /// The sub-metric: samples whose tags contain every pair of `selector`.
    pub fn submetric(&self, metric: MetricId, selector: &TagSet) -> Option<Agg> {
        self.fold(metric, |t| t.contains_all(selector))
    }

    fn fold(&self, metric: MetricId, keep: impl Fn(&TagSet) -> bool) -> Option<Agg> {
        let mut out: Option<Agg> = None;
        for ((m, t), a) in &self.series {
            if *m != metric || !keep(t) {
                continue;
            }
            match &mut out {
                Some(o) => o.merge(a),
                None => out = Some(a.clone()),
            }
        }
        out
    }

    /// Ids of the metrics that have samples.
    pub fn metric_ids(&self) -> Vec<MetricId> {
        let mut ids: Vec<MetricId> = self.series.keys().map(|(m, _)| *m).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::builtin;

    #[test]
    fn trend_samples_round_into_the_histogram_as_round_does() {
        let edges = [
            0.0,
            0.4999999999999999,
            0.5,
            1.5,
            2.5,
            1234.5,
            1234.4999,
            (1u64 << 52) as f64 + 1.0,
            (1u64 << 53) as f64,
            u64::MAX as f64,
            1e300,
            f64::INFINITY,
        ];
        for x in edges {
            assert_eq!(round_to_u64(x), x.round() as u64, "{x}");
        }
        // A spread of values: every thousandth between 0 and 100 ms, scaled as recorded.
        for i in 0..100_000u32 {
            let x = f64::from(i) * 0.001 * TREND_SCALE + 0.5;
            assert_eq!(round_to_u64(x), x.round() as u64, "{x}");
        }
    }

    #[test]
    fn equal_tag_sets_built_apart_are_one_series_interval_after_interval() {
        let mut agg = Aggregator::new(Arc::new(Registry::new()), false);
        let mine = TagSet::new([("status", "200"), ("url", "http://a/")]);
        let theirs = TagSet::new([("url", "http://a/"), ("status", "200")]);
        for _ in 0..2 {
            let shared = crate::intern(theirs.clone());
            agg.add(builtin::HTTP_REQS, &mine, 1.0);
            agg.add(builtin::HTTP_REQS, &shared, 1.0);
            agg.add(builtin::HTTP_REQS, &theirs, 1.0);
            let series = agg.take().series;
            assert_eq!(series.len(), 1);
            assert_eq!(
                series[&(builtin::HTTP_REQS, mine.clone())].stat("count", 1.0),
                Some(3.0)
            );
        }
    }

    /// More tag sets than the aggregator finds by pointer, in turn and out of turn: each
    /// sample lands in its own set's series, interval after interval.
    #[test]
    fn many_tag_sets_in_turn_keep_their_own_series() {
        let mut agg = Aggregator::new(Arc::new(Registry::new()), false);
        let sets: Vec<TagSet> = (0..RECENT + 3)
            .map(|i| TagSet::new([("n", i.to_string())]))
            .collect();
        for _ in 0..2 {
            for round in 0..3 {
                for (i, t) in sets.iter().enumerate() {
                    agg.add(builtin::HTTP_REQS, t, i as f64);
                    // A copy of an earlier set, equal but not the same allocation.
                    let again = TagSet::new([("n", (i / 2).to_string())]);
                    agg.add_all(&again, &[(builtin::DATA_SENT, 1.0)]);
                    if round == 1 {
                        agg.add(builtin::HTTP_REQS, &sets[0], 0.0);
                    }
                }
            }
            let series = agg.take().series;
            assert_eq!(series.len(), 2 * sets.len() - sets.len() / 2);
            for (i, t) in sets.iter().enumerate() {
                let sum = series[&(builtin::HTTP_REQS, t.clone())].stat("count", 1.0);
                assert_eq!(sum, Some(3.0 * i as f64));
                let sent = series.get(&(builtin::DATA_SENT, t.clone()));
                let want = [2usize * i, 2 * i + 1]
                    .iter()
                    .filter(|&&j| j < sets.len())
                    .count();
                assert_eq!(
                    sent.and_then(|a| a.stat("count", 1.0)),
                    (want > 0).then_some(3.0 * want as f64)
                );
            }
        }
    }

    /// A worker's trend with zeros among its samples (recorded when the interval is handed
    /// over) is the trend `add` makes of the same samples, below and past the exact samples.
    #[test]
    fn zeros_recorded_later_make_the_same_trend() {
        for n in [7usize, EXACT_SAMPLES - 3, EXACT_SAMPLES + 500] {
            let values: Vec<f64> = (0..n)
                .map(|i| match i % 5 {
                    0 | 3 => 0.0,
                    4 if i % 7 == 0 => -0.0,
                    _ => (i % 97) as f64 * 0.25,
                })
                .collect();
            let mut agg = Aggregator::new(Arc::new(Registry::new()), false);
            let tags = TagSet::new([("n", n.to_string())]);
            let mut want = TrendAgg::default();
            for &v in &values {
                agg.add(builtin::HTTP_REQ_CONNECTING, &tags, v);
                want.add(v);
            }
            let series = agg.take().series;
            let Agg::Trend(got) = &series[&(builtin::HTTP_REQ_CONNECTING, tags)] else {
                panic!("a trend");
            };
            assert_eq!(got.count, want.count);
            assert_eq!(got.sum.to_bits(), want.sum.to_bits());
            assert_eq!(got.min.to_bits(), want.min.to_bits());
            assert_eq!(got.max.to_bits(), want.max.to_bits());
            assert_eq!(got.is_exact(), want.is_exact(), "{n}");
            assert_eq!(got.is_exact(), n <= EXACT_SAMPLES);
            assert_eq!(got.hist, want.hist);
            for p in [0.0, 10.0, 25.0, 50.0, 90.0, 95.0, 99.0, 100.0] {
                assert_eq!(got.percentile(p), want.percentile(p), "p({p}) of {n}");
            }
            for bound in [0.0, 1.0] {
                for inclusive in [false, true] {
                    assert_eq!(
                        got.count_over(bound, inclusive),
                        want.count_over(bound, inclusive)
                    );
                }
            }
        }
    }

    #[test]
    fn count_over_counts_the_samples_past_a_bound() {
        let mut t = TrendAgg::default();
        for v in 1..=10 {
            t.add(v as f64 * 100.0);
        }
        assert_eq!(t.count_over(500.0, false), 5);
        assert_eq!(t.count_over(500.0, true), 6);
        let mut big = TrendAgg::default();
        for v in 0..10_000 {
            big.add(v as f64 / 10.0);
        }
        assert!(!big.is_exact());
        assert_eq!(big.count_over(900.0, false), 999);
    }

    #[test]
    fn trend_stats_follow_k6_names() {
        let mut t = Agg::new(MetricType::Trend);
        for v in 1..=100 {
            t.add(v as f64);
        }
        assert_eq!(t.stat("count", 1.0), Some(100.0));
        assert_eq!(t.stat("avg", 1.0), Some(50.5));
        assert_eq!(t.stat("min", 1.0), Some(1.0));
        assert_eq!(t.stat("max", 1.0), Some(100.0));
        // k6's interpolation between the closest ranks: rank 0.95 * 99 = 94.05.
        assert_eq!(t.stat("p(95)", 1.0), Some(95.05));
        assert_eq!(t.stat("med", 1.0), Some(50.5));
        assert_eq!(t.stat("rate", 1.0), None);
    }

    #[test]
    fn rate_and_counter_stats() {
        let mut r = Agg::new(MetricType::Rate);
        for v in [1.0, 0.0, 1.0, 1.0] {
            r.add(v);
        }
        assert_eq!(r.stat("rate", 1.0), Some(0.75));
        assert_eq!(r.stat("fails", 1.0), Some(1.0));
        let mut c = Agg::new(MetricType::Counter);
        c.add(10.0);
        c.add(20.0);
        assert_eq!(c.stat("count", 2.0), Some(30.0));
        assert_eq!(c.stat("rate", 2.0), Some(15.0));
    }

    #[test]
    fn worker_intervals_merge_into_totals_and_submetrics() {
        let reg = Arc::new(Registry::new());
        let ok = TagSet::new([("status", "200")]);
        let bad = TagSet::new([("status", "500")]);
        let mut w1 = Aggregator::new(reg.clone(), false);
        let mut w2 = Aggregator::new(reg, true);
        w1.add(builtin::HTTP_REQ_DURATION, &ok, 10.0);
        w2.add(builtin::HTTP_REQ_DURATION, &ok, 20.0);
        w2.add(builtin::HTTP_REQ_DURATION, &bad, 300.0);
        let mut snap = Snapshot::default();
        snap.merge_series(&w1.take().series);
        let i2 = w2.take();
        assert_eq!(i2.raw.len(), 2);
        snap.merge_series(&i2.series);
        let all = snap.metric(builtin::HTTP_REQ_DURATION).unwrap();
        assert_eq!(all.stat("count", 1.0), Some(3.0));
        assert_eq!(all.stat("max", 1.0), Some(300.0));
        let sub = snap.submetric(builtin::HTTP_REQ_DURATION, &ok).unwrap();
        assert_eq!(sub.stat("avg", 1.0), Some(15.0));
        assert!(snap.metric(builtin::HTTP_REQS).is_none());
    }

    #[test]
    fn instances_add_their_vus_and_merge_the_rest() {
        let reg = Arc::new(Registry::new());
        let none = TagSet::empty();
        let second = |vus: f64, ms: f64| {
            let mut a = Aggregator::new(reg.clone(), false);
            a.add(builtin::VUS, &none, vus);
            a.add(builtin::HTTP_REQ_DURATION, &none, ms);
            a.take().series
        };
        let mut snap = Snapshot::default();
        snap.merge_instance(&second(3.0, 10.0));
        snap.merge_instance(&second(4.0, 30.0));
        assert_eq!(
            snap.metric(builtin::VUS).unwrap().stat("value", 1.0),
            Some(7.0)
        );
        let d = snap.metric(builtin::HTTP_REQ_DURATION).unwrap();
        assert_eq!(d.stat("count", 1.0), Some(2.0));
        assert_eq!(d.stat("avg", 1.0), Some(20.0));
    }
}
