//! The run's outputs as one value: opened from `--out` values, fed each tick of the engine (raw
//! samples to those that want them, the second's aggregates to all), finished at the end with
//! their problems collected. The reporter uses it; a front end with its own observer can too.

use crate::{IntervalView, OutSpec, OutputError, SampleSink};
use brunt_engine::Tick;
use brunt_metrics::{Registry, Thresholds};
use std::time::SystemTime;

/// Every output of a run, by the name used in messages.
#[derive(Default)]
pub struct Outputs {
    sinks: Vec<(String, Box<dyn SampleSink>)>,
    errors: Vec<String>,
}

impl Outputs {
    /// Opens every `--out` value, so a bad path fails before the run.
    pub fn open(specs: &[OutSpec], thresholds: &Thresholds) -> Result<Outputs, OutputError> {
        let mut outputs = Outputs::default();
        for spec in specs {
            outputs.add(&spec.to_string(), spec.open(thresholds)?);
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

    /// Feeds one tick; takes its raw samples. An output that fails is dropped and its error kept
    /// for [`finish`](Self::finish): the run goes on.
    pub fn tick(&mut self, tick: &mut Tick, registry: &Registry, scenarios: &[String]) {
        let raw = std::mem::take(&mut tick.interval.raw);
        let view = IntervalView {
            elapsed: tick.elapsed,
            time: SystemTime::now(),
            series: &tick.interval.series,
            total: tick.total,
            registry,
            scenarios,
            is_final: tick.is_final,
        };
        let errors = &mut self.errors;
        self.sinks.retain_mut(|(name, sink)| {
            let written = if raw.is_empty() {
                Ok(())
            } else {
                sink.write(&raw, registry)
            };
            match written.and_then(|()| sink.interval(&view)) {
                Ok(()) => true,
                Err(e) => {
                    errors.push(format!("output {name} stopped: {e}"));
                    false
                }
            }
        });
    }

    /// Flushes and closes every output; returns the problems met during the run and the notes of
    /// the outputs (e.g. samples a down backend never got).
    pub fn finish(&mut self) -> Vec<String> {
        let mut problems = std::mem::take(&mut self.errors);
        for (name, sink) in &mut self.sinks {
            if let Err(e) = sink.finish() {
                problems.push(format!("output {name}: {e}"));
            }
            problems.extend(sink.notes());
        }
        self.sinks.clear();
        problems
    }
}
