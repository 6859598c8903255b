//! Resource stress inside brunt's own process: `cpu` (N busy threads) and `memory` (N MB
//! allocated and touched), each for a duration. Threads rather than child processes, so a
//! worker cannot outlive brunt whatever way it exits, and the stress ends when the activity
//! is dropped (an interrupted experiment).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{arguments, seconds};
use crate::provider::ActivityFailed;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CpuArgs {
    workers: usize,
    duration: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryArgs {
    megabytes: usize,
    duration: f64,
}

/// A parsed stress.
#[derive(Clone, Debug)]
pub enum Stress {
    /// `workers` threads spinning for `duration`.
    Cpu { workers: usize, duration: Duration },
    /// `megabytes` held for `duration`.
    Memory {
        megabytes: usize,
        duration: Duration,
    },
}

impl Stress {
    pub(super) fn parse(func: &str, args: &Value) -> Result<Self, String> {
        if func == "cpu" {
            let a: CpuArgs = arguments(args)?;
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if a.workers == 0 || a.workers > 4 * cores {
                return Err(format!(
                    "arguments.workers: between 1 and {} (4 per core here), not {}",
                    4 * cores,
                    a.workers
                ));
            }
            Ok(Stress::Cpu {
                workers: a.workers,
                duration: seconds("duration", a.duration)?,
            })
        } else {
            let a: MemoryArgs = arguments(args)?;
            if a.megabytes == 0 {
                return Err("arguments.megabytes: at least 1".into());
            }
            Ok(Stress::Memory {
                megabytes: a.megabytes,
                duration: seconds("duration", a.duration)?,
            })
        }
    }

    pub(super) async fn run(&self) -> Result<Value, ActivityFailed> {
        match self {
            Stress::Cpu { workers, duration } => {
                let busy = Busy::start(*workers)?;
                tokio::time::sleep(*duration).await;
                drop(busy);
                Ok(json!({"workers": workers, "duration": duration.as_secs_f64()}))
            }
            Stress::Memory {
                megabytes,
                duration,
            } => {
                let bytes = megabytes * 1024 * 1024;
                let mut held: Vec<u8> = Vec::new();
                held.try_reserve_exact(bytes)
                    .map_err(|e| ActivityFailed(format!("cannot allocate {megabytes} MB: {e}")))?;
                // Written, not only reserved, so that the pages are resident.
                held.resize(bytes, 0xA5);
                tokio::time::sleep(*duration).await;
                drop(std::hint::black_box(held));
                Ok(json!({"megabytes": megabytes, "duration": duration.as_secs_f64()}))
            }
        }
    }
}

/// Spinning threads, stopped when dropped.
struct Busy(Arc<AtomicBool>);

impl Busy {
    fn start(workers: usize) -> Result<Self, ActivityFailed> {
        // Made first, so that a failed spawn stops the workers already started.
        let busy = Busy(Arc::new(AtomicBool::new(false)));
        for i in 0..workers {
            let stop = busy.0.clone();
            std::thread::Builder::new()
                .name(format!("brunt-stress-cpu-{i}"))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
                .map_err(|e| ActivityFailed(format!("cannot start a CPU worker: {e}")))?;
        }
        Ok(busy)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
