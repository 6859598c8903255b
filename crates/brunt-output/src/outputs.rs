//! The run's outputs as one value: opened from `--out` values, fed each tick of the engine (raw
//! samples to those that want them, the second's aggregates to all), finished at the end with
//! their failed writes and notes collected. The reporter uses it; a front end with its own
//! observer can too.

use crate::{IntervalView, OutSpec, OutputError, PhaseSplit, SampleSink};
use brunt_engine::Tick;
use brunt_metrics::{Registry, Snapshot, Thresholds};
use std::time::{Duration, SystemTime};

/// Every output of a run, by the name used in messages (`--out csv=FILE`).
#[derive(Default)]
pub struct Outputs {
    sinks: Vec<(String, Box<dyn SampleSink>)>,
    /// Writes that failed, each naming its output.
    failed: Vec<String>,
}

impl Outputs {
    /// Opens every `--out` value, so a bad path fails before the run. `phases` is the run's
    /// `--warm-up` or `--cold-cache` split, which the results file records.
    pub fn open(
        specs: &[OutSpec],
        thresholds: &Thresholds,
        phases: Option<PhaseSplit>,
    ) -> Result<Outputs, OutputError> {
        let mut outputs = Outputs::default();
        for spec in specs {
            outputs.add(&spec.flag(), spec.open(thresholds, phases)?);
        }
        Ok(outputs)
    }

    /// Adds an output that is not an `--out` value (the live dashboard).
    pub fn add(&mut self, name: &str, sink: Box<dyn SampleSink>) {
        self.sinks.push((name.to_string(), sink));
    }

    /// True when some output needs every sample (the engine's `keep_raw`).
    pub fn wants_raw(&self) -> bool {
        self.sinks.iter().any(|(_, s)| s.wants_raw())
    }

    /// Feeds one tick; takes its raw samples. `judged` is what thresholds judge and the time it
    /// covers (the tick's total and elapsed time, or what came after a `--warm-up`). An output
    /// that fails is dropped and its error kept for [`finish`](Self::finish): the run goes on.
    /// Returns the errors of this tick, if any.
    pub fn tick(
        &mut self,
        tick: &mut Tick,
        judged: (&Snapshot, Duration),
        registry: &Registry,
        scenarios: &[String],
    ) -> &[String] {
        let raw = std::mem::take(&mut tick.interval.raw);
        let view = IntervalView {
            elapsed: tick.elapsed,
            time: SystemTime::now(),
            series: &tick.interval.series,
            total: tick.total,
            judged: judged.0,
            judged_elapsed: judged.1,
            registry,
            scenarios,
            is_final: tick.is_final,
        };
        let before = self.failed.len();
        let failed = &mut self.failed;
        self.sinks.retain_mut(|(name, sink)| {
            let written = if raw.is_empty() {
                Ok(())
            } else {
                sink.write(&raw, registry)
            };
            match written.and_then(|()| sink.interval(&view)) {
                Ok(()) => true,
                Err(e) => {
                    failed.push(format!("cannot write {name}: {e}"));
                    false
                }
            }
        });
        &self.failed[before..]
    }

    /// Flushes and closes every output; returns the writes that failed during the run or now,
    /// and the outputs' notes (e.g. samples a down backend never got, which it counts rather
    /// than fails on).
    pub fn finish(&mut self) -> (Vec<String>, Vec<String>) {
        let mut failed = std::mem::take(&mut self.failed);
        let mut notes = Vec::new();
        for (name, sink) in &mut self.sinks {
            if let Err(e) = sink.finish() {
                failed.push(format!("cannot write {name}: {e}"));
            }
            notes.extend(sink.notes());
        }
        self.sinks.clear();
        (failed, notes)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use brunt_metrics::{builtin, Interval, RawSample, TagSet};
    use std::io;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts the ticks it is fed.
    struct Counting(Arc<AtomicUsize>);

    impl SampleSink for Counting {
        fn write(&mut self, _: &[RawSample], _: &Registry) -> io::Result<()> {
            Ok(())
        }
        fn finish(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn interval(&mut self, _: &IntervalView<'_>) -> io::Result<()> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    /// A tick carrying `n` raw samples.
    fn feed(outputs: &mut Outputs, registry: &Registry, n: usize) -> Vec<String> {
        let raw = (0..n)
            .map(|i| RawSample {
                metric: builtin::HTTP_REQ_DURATION,
                tags: TagSet::empty(),
                value: i as f64,
                time: SystemTime::now(),
                trace: None,
            })
            .collect();
        let total = Snapshot::default();
        let mut tick = Tick {
            elapsed: Duration::from_secs(1),
            interval: Interval {
                raw,
                ..Interval::default()
            },
            total: &total,
            progress: Default::default(),
            is_final: false,
        };
        let judged = (&total, tick.elapsed);
        outputs.tick(&mut tick, judged, registry, &[]).to_vec()
    }

    /// A disk that fills mid-run: the output stops with an error naming it, the others go on,
    /// and the error is still there at the end for the exit code.
    #[test]
    fn a_write_that_fails_mid_run_is_kept_and_the_run_goes_on() {
        let registry = Registry::new();
        let spec: OutSpec = "csv=/dev/full".parse().unwrap();
        let mut outputs = Outputs::open(&[spec], &Thresholds::default(), None).unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        outputs.add("counting", Box::new(Counting(ticks.clone())));
        // More than the file's buffer: the write reaches the device.
        let now = feed(&mut outputs, &registry, 20_000);
        assert_eq!(now.len(), 1, "{now:?}");
        assert!(
            now[0].starts_with("cannot write --out csv=/dev/full: No space left on device"),
            "{now:?}"
        );
        assert!(feed(&mut outputs, &registry, 10).is_empty(), "said once");
        assert_eq!(ticks.load(Ordering::Relaxed), 2, "the other output goes on");
        let (failed, notes) = outputs.finish();
        assert_eq!(failed, now);
        assert!(notes.is_empty(), "{notes:?}");
    }
}
