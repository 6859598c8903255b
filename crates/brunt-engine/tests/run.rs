//! End-to-end runs of the engine with a fake VU that sleeps instead of sending requests.

use brunt_engine::arrival::{Arrival, ArrivalFeed};
use brunt_engine::{
    run, Control, HookFailure, IterationCtx, IterationOutcome, Options, Plan, RunControl, RunEnd,
    RunError, RunOptions, RunOutcome, Vu, VuError, VuFactory, VuInit, WorkerMetrics,
};
use brunt_metrics::{builtin, MetricType, Registry, TagSet, ValueType};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the fake VUs saw, shared with the test.
#[derive(Default)]
struct Seen {
    created: AtomicU64,
    setups: AtomicU64,
    teardowns: AtomicU64,
    iterations: AtomicU64,
    max_lag_ms: AtomicU64,
    scenarios: Mutex<BTreeSet<String>>,
    execs: Mutex<BTreeSet<String>>,
    env: Mutex<BTreeSet<String>>,
    ids: Mutex<Vec<u64>>,
    /// The payloads of fed iterations.
    fed: Mutex<Vec<u64>>,
}

#[derive(Clone, Copy, Default)]
enum Behaviour {
    #[default]
    Sleep,
    /// Blocks the worker thread for 300 ms on the 10th iteration (a stalled event loop).
    StallOnce,
    /// Blocks the worker thread for 30 ms in every iteration (CPU-bound work).
    Block,
    /// `test.abort()` on the 5th iteration.
    AbortAt5,
    /// Every iteration fails (throws), which k6 still counts.
    Fail,
    /// A bug: panics on the 3rd iteration.
    PanicAt3,
    /// `setup()` throws.
    FailSetup,
    /// `setup()` and `teardown()` take a second.
    SlowHooks,
}

struct Factory {
    delay: Duration,
    behaviour: Behaviour,
    seen: Arc<Seen>,
    fail_init: bool,
}

struct FakeVu {
    delay: Duration,
    behaviour: Behaviour,
    seen: Arc<Seen>,
    metrics: WorkerMetrics,
    custom: brunt_metrics::MetricId,
}

impl VuFactory for Factory {
    type Vu = FakeVu;
    fn create(&self, init: VuInit) -> Result<FakeVu, VuError> {
        if self.fail_init && init.id_in_instance > 1 {
            return Err(VuError(
                "ReferenceError: x is not defined at init (script.js:3:5)".into(),
            ));
        }
        self.seen.created.fetch_add(1, Ordering::Relaxed);
        self.seen.ids.lock().unwrap().push(init.id_in_instance);
        let custom = init
            .metrics
            .borrow()
            .registry()
            .register("hooks", MetricType::Counter, ValueType::Default)
            .unwrap();
        Ok(FakeVu {
            delay: self.delay,
            behaviour: self.behaviour,
            seen: self.seen.clone(),
            metrics: init.metrics,
            custom,
        })
    }
}

impl Vu for FakeVu {
    async fn iteration(&mut self, ctx: &IterationCtx) -> IterationOutcome {
        let n = self.seen.iterations.fetch_add(1, Ordering::Relaxed);
        self.seen
            .scenarios
            .lock()
            .unwrap()
            .insert(ctx.scenario.name.clone());
        self.seen
            .execs
            .lock()
            .unwrap()
            .insert(ctx.scenario.exec.clone());
        for (k, v) in &ctx.scenario.env {
            self.seen.env.lock().unwrap().insert(format!("{k}={v}"));
        }
        if let Some(n) = ctx.payload.as_ref().and_then(|p| p.downcast_ref::<u64>()) {
            self.seen.fed.lock().unwrap().push(*n);
        }
        if let Some(lag) = ctx.scheduled_lag {
            self.seen
                .max_lag_ms
                .fetch_max(lag.as_millis() as u64, Ordering::Relaxed);
        }
        match self.behaviour {
            Behaviour::StallOnce if n == 10 => std::thread::sleep(Duration::from_millis(300)),
            Behaviour::Block => std::thread::sleep(Duration::from_millis(30)),
            Behaviour::AbortAt5 if n == 5 => return IterationOutcome::AbortTest("enough".into()),
            Behaviour::PanicAt3 if n == 3 => panic!("VU bug"),
            _ => {}
        }
        tokio::time::sleep(self.delay).await;
        match self.behaviour {
            Behaviour::Fail => IterationOutcome::Failed,
            _ => IterationOutcome::Completed,
        }
    }

    async fn setup(&mut self) -> Result<(), VuError> {
        self.seen.setups.fetch_add(1, Ordering::Relaxed);
        match self.behaviour {
            Behaviour::FailSetup => {
                return Err(VuError("Error: no token at setup (script.js:9:11)".into()))
            }
            Behaviour::SlowHooks => tokio::time::sleep(Duration::from_secs(1)).await,
            _ => {}
        }
        self.metrics
            .borrow_mut()
            .add(self.custom, &TagSet::empty(), 1.0);
        Ok(())
    }

    async fn teardown(&mut self) -> Result<(), VuError> {
        self.seen.teardowns.fetch_add(1, Ordering::Relaxed);
        if let Behaviour::SlowHooks = self.behaviour {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        self.metrics
            .borrow_mut()
            .add(self.custom, &TagSet::empty(), 1.0);
        Ok(())
    }
}

fn factory(delay_ms: u64, behaviour: Behaviour) -> (Arc<Factory>, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let f = Arc::new(Factory {
        delay: Duration::from_millis(delay_ms),
        behaviour,
        seen: seen.clone(),
        fail_init: false,
    });
    (f, seen)
}

fn plan(json: &str) -> Plan {
    Plan::from_options(&Options::from_json(json).unwrap()).unwrap()
}

fn go(json: &str, f: Arc<Factory>, workers: usize) -> RunOutcome {
    let opts = RunOptions {
        workers,
        ..RunOptions::default()
    };
    run(&plan(json), f, Arc::new(Registry::new()), opts).unwrap()
}

fn count(o: &RunOutcome, metric: brunt_metrics::MetricId) -> f64 {
    o.snapshot
        .metric(metric)
        .and_then(|a| a.stat("count", 1.0))
        .unwrap_or(0.0)
}

#[test]
fn shared_iterations_run_exactly_the_total() {
    let (f, seen) = factory(2, Behaviour::Sleep);
    let o = go(r#"{"vus": 4, "iterations": 50}"#, f, 2);
    assert_eq!(o.end, RunEnd::Completed);
    assert_eq!(count(&o, builtin::ITERATIONS), 50.0);
    assert_eq!(seen.iterations.load(Ordering::Relaxed), 50);
    assert_eq!(count(&o, builtin::DROPPED_ITERATIONS), 0.0);
    let durations = o.snapshot.metric(builtin::ITERATION_DURATION).unwrap();
    assert!(durations.stat("min", 1.0).unwrap() >= 2.0);
    // Iterations carry the scenario tag.
    let tagged = o
        .snapshot
        .submetric(builtin::ITERATIONS, &TagSet::new([("scenario", "default")]))
        .unwrap();
    assert_eq!(tagged.stat("count", 1.0), Some(50.0));
}

#[test]
fn a_run_of_a_few_milliseconds_reports_its_vus() {
    // 50 iterations of 1 ms over 5 VUs end long before the first once-a-second report: the
    // final partial interval must still show the VUs that ran (k6: vus max=5), not max=0.
    let (f, _) = factory(1, Behaviour::Sleep);
    let o = go(r#"{"vus": 5, "iterations": 50}"#, f, 2);
    assert_eq!(o.end, RunEnd::Completed);
    assert!(o.elapsed < Duration::from_millis(900), "{:?}", o.elapsed);
    assert_eq!(count(&o, builtin::ITERATIONS), 50.0);
    let vus = o.snapshot.metric(builtin::VUS).unwrap();
    assert_eq!(vus.stat("max", 1.0), Some(5.0));
    let vus_max = o.snapshot.metric(builtin::VUS_MAX).unwrap();
    assert_eq!(vus_max.stat("value", 1.0), Some(5.0));
    assert_eq!(vus_max.stat("max", 1.0), Some(5.0));
}

#[test]
fn per_vu_iterations_and_failed_iterations_count() {
    let (f, seen) = factory(1, Behaviour::Fail);
    let o = go(
        r#"{"scenarios": {"p": {"executor": "per-vu-iterations", "vus": 3, "iterations": 4}}}"#,
        f,
        2,
    );
    assert_eq!(count(&o, builtin::ITERATIONS), 12.0);
    assert_eq!(
        seen.created.load(Ordering::Relaxed),
        4,
        "3 VUs + the setup VU"
    );
    let mut ids = seen.ids.lock().unwrap().clone();
    ids.sort();
    assert_eq!(ids, [0, 1, 2, 3]);
    assert_eq!(seen.setups.load(Ordering::Relaxed), 1);
    assert_eq!(seen.teardowns.load(Ordering::Relaxed), 1);
    let hooks = o.snapshot.metric(
        Registry::new()
            .register("hooks", MetricType::Counter, ValueType::Default)
            .unwrap(),
    );
    assert_eq!(
        hooks.and_then(|a| a.stat("count", 1.0)),
        Some(2.0),
        "setup and teardown samples count"
    );
}

#[test]
fn constant_vus_loop_for_the_duration() {
    let (f, _) = factory(100, Behaviour::Sleep);
    let started = Instant::now();
    let o = go(r#"{"vus": 2, "duration": "1s"}"#, f, 2);
    let took = started.elapsed();
    let n = count(&o, builtin::ITERATIONS);
    assert!((16.0..=22.0).contains(&n), "{n} iterations");
    assert!(took < Duration::from_millis(1800), "{took:?}");
    let vus_max = o.snapshot.metric(builtin::VUS_MAX).unwrap();
    assert_eq!(vus_max.stat("value", 1.0), Some(2.0));
}

#[test]
fn ramping_vus_follow_the_stages() {
    let (f, _) = factory(50, Behaviour::Sleep);
    let o = go(
        r#"{"stages": [{"duration": "1s", "target": 4}, {"duration": "1s", "target": 4}, {"duration": "500ms", "target": 0}]}"#,
        f,
        2,
    );
    assert_eq!(o.end, RunEnd::Completed);
    let vus = o.snapshot.metric(builtin::VUS).unwrap();
    assert_eq!(vus.stat("max", 1.0), Some(4.0));
    // About 0+1+2+3 VU-seconds in the ramp, 4 in the plateau, ~1 in the ramp-down: ~10 s of
    // 50 ms iterations.
    let n = count(&o, builtin::ITERATIONS);
    assert!((120.0..=230.0).contains(&n), "{n} iterations");
}

#[test]
fn constant_arrival_rate_keeps_the_schedule() {
    let (f, _) = factory(1, Behaviour::Sleep);
    let o = go(
        r#"{"scenarios": {"open": {"executor": "constant-arrival-rate", "rate": 1000, "timeUnit": "1s", "duration": "2s", "preAllocatedVUs": 100}}}"#,
        f,
        2,
    );
    let done = count(&o, builtin::ITERATIONS);
    let dropped = count(&o, builtin::DROPPED_ITERATIONS);
    // Exactly 2000 are scheduled; a machine busy with other work may make a few late enough
    // to be dropped.
    assert_eq!(done + dropped, 2000.0, "{done} done, {dropped} dropped");
    assert!(done >= 1900.0, "{done} done");
    assert!(o.elapsed < Duration::from_millis(2600), "{:?}", o.elapsed);
}

#[test]
fn arrival_rate_drops_iterations_when_no_vu_is_free() {
    let (f, _) = factory(50, Behaviour::Sleep);
    let o = go(
        r#"{"scenarios": {"open": {"executor": "constant-arrival-rate", "rate": 100, "duration": "1s", "preAllocatedVUs": 1, "maxVUs": 2}}}"#,
        f,
        2,
    );
    let done = count(&o, builtin::ITERATIONS);
    let dropped = count(&o, builtin::DROPPED_ITERATIONS);
    assert_eq!(done + dropped, 100.0, "{done} done, {dropped} dropped");
    assert!(
        (25.0..=45.0).contains(&done),
        "{done} done with 2 VUs at 50 ms"
    );
    let tagged = o
        .snapshot
        .submetric(
            builtin::DROPPED_ITERATIONS,
            &TagSet::new([("scenario", "open")]),
        )
        .unwrap();
    assert_eq!(tagged.stat("count", 1.0), Some(dropped));
    assert_eq!(
        o.snapshot
            .metric(builtin::VUS_MAX)
            .unwrap()
            .stat("value", 1.0),
        Some(2.0)
    );
}

#[test]
fn ramping_arrival_rate_runs_the_area_under_the_curve() {
    let (f, _) = factory(1, Behaviour::Sleep);
    let o = go(
        r#"{"scenarios": {"r": {"executor": "ramping-arrival-rate", "startRate": 0, "stages": [{"duration": "1s", "target": 200}, {"duration": "500ms", "target": 200}], "preAllocatedVUs": 10}}}"#,
        f,
        1,
    );
    // 100 in the ramp + 100 on the plateau, the one exactly at the end excluded.
    assert_eq!(count(&o, builtin::ITERATIONS), 199.0);
}

/// A scenario's `arrival: 'gamma:0.3'` reaches its executor: the run starts exactly the
/// iterations of the seeded gamma schedule (not k6's 199 of the same curve).
#[test]
fn arrival_option_spaces_the_starts() {
    use brunt_engine::arrival::{ramping_gamma_arrival_times, Arrivals};
    use brunt_engine::steps::StageSpec;
    let (f, _) = factory(1, Behaviour::Sleep);
    let o = go(
        r#"{"scenarios": {"r": {"executor": "ramping-arrival-rate", "startRate": 0, "stages": [{"duration": "1s", "target": 200}, {"duration": "500ms", "target": 200}], "preAllocatedVUs": 50, "arrival": "gamma:0.3"}}}"#,
        f,
        1,
    );
    let Ok(Arrivals::Gamma { burstiness, seed }) = Arrivals::parse("gamma:0.3", "r") else {
        panic!("gamma:0.3 is a gamma process");
    };
    let stages = [
        StageSpec {
            duration: Duration::from_secs(1),
            target: 200,
        },
        StageSpec {
            duration: Duration::from_millis(500),
            target: 200,
        },
    ];
    let full = brunt_engine::ExecutionTuple::full();
    let want =
        ramping_gamma_arrival_times(0, Duration::from_secs(1), &stages, burstiness, seed, &full)
            .count() as f64;
    assert_ne!(want, 199.0, "a gamma schedule, not the ticker's");
    let started = count(&o, builtin::ITERATIONS) + count(&o, builtin::DROPPED_ITERATIONS);
    assert_eq!(started, want);
}

/// Starts from a list, as `brunt replay`'s log feeds them.
struct ListFeed(Mutex<std::collections::VecDeque<(Duration, u64)>>);

impl ArrivalFeed for ListFeed {
    fn next(&self) -> Option<Arrival> {
        let (offset, n) = self.0.lock().unwrap().pop_front()?;
        Some(Arrival {
            offset,
            payload: Box::new(n),
        })
    }
}

fn fed_run(starts: &[(u64, u64)], duration: &str) -> (RunOutcome, Arc<Seen>) {
    let (f, seen) = factory(1, Behaviour::Sleep);
    let list = starts
        .iter()
        .map(|&(ms, n)| (Duration::from_millis(ms), n))
        .collect();
    let plan = plan(&format!(
        r#"{{"scenarios": {{"r": {{"executor": "constant-arrival-rate", "rate": 1, "duration": "{duration}", "preAllocatedVUs": 20, "maxVUs": 20}}}}}}"#
    ))
    .with_feed(Arc::new(ListFeed(Mutex::new(list))));
    let opts = RunOptions {
        workers: 2,
        ..RunOptions::default()
    };
    let o = run(&plan, f, Arc::new(Registry::new()), opts).unwrap();
    (o, seen)
}

#[test]
fn a_feed_hands_each_payload_to_one_iteration_and_its_end_ends_the_scenario() {
    let starts: Vec<(u64, u64)> = (0..40).map(|i| (i * 5, i)).collect();
    let (o, seen) = fed_run(&starts, "30s");
    let mut fed = seen.fed.lock().unwrap().clone();
    fed.sort_unstable();
    assert_eq!(
        fed,
        (0..40).collect::<Vec<u64>>(),
        "iterations {} dropped {}",
        count(&o, builtin::ITERATIONS),
        count(&o, builtin::DROPPED_ITERATIONS)
    );
    assert_eq!(count(&o, builtin::ITERATIONS), 40.0);
    // The feed ended after 0.2 s: the scenario does not wait for its 30 s.
    assert!(o.elapsed < Duration::from_secs(10), "{:?}", o.elapsed);
    // Starts at or past the duration are not fed.
    let (o, seen) = fed_run(&[(0, 1), (500, 2), (1000, 3), (1500, 4)], "1s");
    assert_eq!(*seen.fed.lock().unwrap(), vec![1, 2]);
    assert_eq!(count(&o, builtin::ITERATIONS), 2.0);
}

#[test]
fn graceful_stop_cancels_iterations_that_run_too_long() {
    let (f, _) = factory(3000, Behaviour::Sleep);
    let started = Instant::now();
    let o = go(
        r#"{"scenarios": {"c": {"executor": "constant-vus", "vus": 2, "duration": "1s", "gracefulStop": "500ms"}}}"#,
        f,
        1,
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        count(&o, builtin::ITERATIONS),
        0.0,
        "interrupted iterations are not counted"
    );
    assert_eq!(o.end, RunEnd::Completed);

    let (f, _) = factory(1300, Behaviour::Sleep);
    let o = go(
        r#"{"scenarios": {"c": {"executor": "constant-vus", "vus": 2, "duration": "1s", "gracefulStop": "2s"}}}"#,
        f,
        1,
    );
    assert_eq!(
        count(&o, builtin::ITERATIONS),
        2.0,
        "finished within gracefulStop"
    );
}

#[test]
fn per_vu_iterations_past_max_duration_are_dropped() {
    let (f, _) = factory(400, Behaviour::Sleep);
    let o = go(
        r#"{"scenarios": {"p": {"executor": "per-vu-iterations", "vus": 1, "iterations": 10, "maxDuration": "1s", "gracefulStop": "0s"}}}"#,
        f,
        1,
    );
    let done = count(&o, builtin::ITERATIONS);
    let dropped = count(&o, builtin::DROPPED_ITERATIONS);
    assert_eq!(done, 2.0);
    assert_eq!(
        dropped, 7.0,
        "the interrupted third is neither counted nor dropped"
    );
}

#[test]
fn run_control_stop_interrupts_and_still_tears_down() {
    let (f, seen) = factory(20, Behaviour::Sleep);
    let control = RunControl::new();
    let stopper = control.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        stopper.stop();
    });
    let opts = RunOptions {
        workers: 2,
        control,
        ..RunOptions::default()
    };
    let started = Instant::now();
    let o = run(
        &plan(r#"{"vus": 4, "duration": "30s"}"#),
        f,
        Arc::new(Registry::new()),
        opts,
    )
    .unwrap();
    t.join().unwrap();
    assert_eq!(o.end, RunEnd::Interrupted);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(count(&o, builtin::ITERATIONS) > 10.0);
    assert_eq!(seen.teardowns.load(Ordering::Relaxed), 1);
}

#[test]
fn observer_sees_ticks_and_can_abort() {
    let (f, _) = factory(10, Behaviour::Sleep);
    let ticks = Arc::new(Mutex::new(Vec::new()));
    let seen_ticks = ticks.clone();
    let opts = RunOptions {
        workers: 2,
        observer: Some(Box::new(move |t| {
            seen_ticks.lock().unwrap().push((
                t.elapsed,
                t.is_final,
                t.progress.iterations,
                t.progress.scenarios[0].description.clone(),
            ));
            if t.elapsed >= Duration::from_millis(1900) && !t.is_final {
                Control::Abort("http_req_duration p(95)<1 crossed".into())
            } else {
                Control::Continue
            }
        })),
        ..RunOptions::default()
    };
    let o = run(
        &plan(r#"{"vus": 2, "duration": "20s"}"#),
        f,
        Arc::new(Registry::new()),
        opts,
    )
    .unwrap();
    assert_eq!(
        o.end,
        RunEnd::Aborted("http_req_duration p(95)<1 crossed".into())
    );
    let ticks = ticks.lock().unwrap();
    assert!(ticks.len() >= 3, "{} ticks", ticks.len());
    assert!(ticks.last().unwrap().1, "a final tick comes last");
    assert!(ticks[0].2 > 0);
    assert_eq!(ticks[0].3, "2 looping VUs for 20s (gracefulStop: 30s)");
    assert!(o.elapsed < Duration::from_secs(4));
}

#[test]
fn test_abort_ends_the_run() {
    let (f, _) = factory(5, Behaviour::AbortAt5);
    let o = go(r#"{"vus": 1, "duration": "10s"}"#, f, 1);
    assert_eq!(o.end, RunEnd::TestAborted("enough".into()));
    assert_eq!(count(&o, builtin::ITERATIONS), 5.0);
}

#[test]
fn scheduled_lag_grows_when_the_worker_stalls() {
    let (f, seen) = factory(1, Behaviour::StallOnce);
    let o = go(
        r#"{"scenarios": {"open": {"executor": "constant-arrival-rate", "rate": 100, "duration": "1s", "preAllocatedVUs": 20}}}"#,
        f,
        1,
    );
    let lag = seen.max_lag_ms.load(Ordering::Relaxed);
    assert!(lag >= 200, "max scheduled lag {lag} ms");
    assert!(o.saturation.is_saturated());
    assert!(o.saturation.max_event_loop_lag >= Duration::from_millis(200));
}

#[test]
fn lagging_seconds_count_each_second_once_whatever_the_workers() {
    let (f, _) = factory(1, Behaviour::Block);
    let o = go(r#"{"vus": 4, "duration": "2s"}"#, f, 4);
    let s = &o.saturation;
    let seconds = o.elapsed.as_secs_f64().ceil() as u64;
    assert!(s.lagging_seconds >= 1, "{s:?}");
    assert!(
        s.lagging_seconds <= s.observed_seconds && s.observed_seconds <= seconds,
        "{s:?} in a run of {:?}",
        o.elapsed
    );
}

#[test]
fn scenarios_run_in_parallel_with_their_exec_env_and_start_time() {
    let (f, seen) = factory(10, Behaviour::Sleep);
    let started = Instant::now();
    let o = go(
        r#"{"tags": {"run": "x"}, "scenarios": {
            "a": {"executor": "shared-iterations", "vus": 2, "iterations": 10, "exec": "login", "env": {"MODE": "a"}},
            "b": {"executor": "per-vu-iterations", "vus": 1, "iterations": 3, "startTime": "500ms", "tags": {"team": "b"}}
        }}"#,
        f,
        2,
    );
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(count(&o, builtin::ITERATIONS), 13.0);
    assert_eq!(
        *seen.scenarios.lock().unwrap(),
        BTreeSet::from(["a".to_string(), "b".to_string()])
    );
    assert_eq!(
        *seen.execs.lock().unwrap(),
        BTreeSet::from(["login".to_string(), "default".to_string()])
    );
    assert_eq!(
        *seen.env.lock().unwrap(),
        BTreeSet::from(["MODE=a".to_string()])
    );
    let b = o
        .snapshot
        .submetric(
            builtin::ITERATIONS,
            &TagSet::new([("scenario", "b"), ("team", "b"), ("run", "x")]),
        )
        .unwrap();
    assert_eq!(b.stat("count", 1.0), Some(3.0));
}

#[test]
fn vu_init_errors_fail_the_run() {
    let seen = Arc::new(Seen::default());
    let f = Arc::new(Factory {
        delay: Duration::from_millis(1),
        behaviour: Behaviour::Sleep,
        seen,
        fail_init: true,
    });
    let err = run(
        &plan(r#"{"vus": 3, "iterations": 3}"#),
        f,
        Arc::new(Registry::new()),
        RunOptions {
            workers: 2,
            ..RunOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, RunError::VuInit(_)));
    assert!(err.to_string().contains("script.js:3:5"), "{err}");
}

#[test]
fn segmented_instances_together_do_the_work_of_one() {
    let mut total = 0.0;
    for seg in ["0:1/3", "1/3:2/3", "2/3:1"] {
        let (f, _) = factory(1, Behaviour::Sleep);
        let o = go(
            &format!(
                r#"{{"executionSegment": "{seg}", "executionSegmentSequence": "0,1/3,2/3,1", "scenarios": {{
                    "s": {{"executor": "shared-iterations", "vus": 5, "iterations": 29}},
                    "r": {{"executor": "constant-arrival-rate", "rate": 50, "duration": "1s", "preAllocatedVUs": 5}}
                }}}}"#
            ),
            f,
            1,
        );
        total += count(&o, builtin::ITERATIONS);
    }
    assert_eq!(total, 29.0 + 50.0);
}

#[test]
fn a_panicking_vu_ends_the_run_as_crashed() {
    let (f, _) = factory(1, Behaviour::PanicAt3);
    let o = go(r#"{"vus": 2, "duration": "10s"}"#, f, 2);
    match o.end {
        RunEnd::Crashed(m) => assert!(m.contains("VU bug"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(o.elapsed < Duration::from_secs(3));
}

#[test]
fn a_failing_setup_fails_the_run_before_the_scenarios() {
    let (f, seen) = factory(1, Behaviour::FailSetup);
    let err = run(
        &plan(r#"{"vus": 2, "iterations": 10}"#),
        f,
        Arc::new(Registry::new()),
        RunOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, RunError::Setup(_)));
    assert!(err.to_string().contains("script.js:9:11"), "{err}");
    assert_eq!(seen.iterations.load(Ordering::Relaxed), 0);
}

#[test]
fn graceful_ramp_down_interrupts_ramped_down_vus_after_its_timeout() {
    let (f, _) = factory(700, Behaviour::Sleep);
    let started = Instant::now();
    // Two VUs for 1s, then straight to 0: their second iterations (0.7s..1.4s) are still
    // running at 1s, and gracefulRampDown (200ms) ends before they finish.
    let o = go(
        r#"{"scenarios": {"r": {"executor": "ramping-vus", "startVUs": 2, "gracefulRampDown": "200ms", "gracefulStop": "5s",
            "stages": [{"duration": "1s", "target": 2}, {"duration": "0s", "target": 0}]}}}"#,
        f,
        2,
    );
    assert_eq!(count(&o, builtin::ITERATIONS), 2.0);
    assert!(
        started.elapsed() < Duration::from_millis(1600),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn progress_reaches_one_for_finished_scenarios() {
    let (f, _) = factory(5, Behaviour::Sleep);
    let last = Arc::new(Mutex::new(None));
    let keep = last.clone();
    let opts = RunOptions {
        workers: 1,
        observer: Some(Box::new(move |t| {
            *keep.lock().unwrap() = Some(t.progress.clone());
            Control::Continue
        })),
        ..RunOptions::default()
    };
    run(
        &plan(r#"{"vus": 2, "iterations": 20}"#),
        f,
        Arc::new(Registry::new()),
        opts,
    )
    .unwrap();
    let p = last.lock().unwrap().clone().unwrap();
    assert_eq!(p.iterations, 20);
    assert_eq!(p.scenarios[0].fraction, 1.0);
    assert!(p.scenarios[0].done);
    assert_eq!(p.max_vus, 2);
    assert_eq!(p.initialized_vus, 2);
}

#[test]
fn min_iteration_duration_pads_short_iterations() {
    let (f, _) = factory(1, Behaviour::Sleep);
    let o = go(
        r#"{"vus": 1, "duration": "1s", "minIterationDuration": "200ms"}"#,
        f,
        1,
    );
    let n = count(&o, builtin::ITERATIONS);
    assert!((4.0..=6.0).contains(&n), "{n} iterations");
    // The padding is not part of iteration_duration, as in k6.
    let max = o
        .snapshot
        .metric(builtin::ITERATION_DURATION)
        .unwrap()
        .stat("max", 1.0)
        .unwrap();
    assert!(max < 100.0, "{max} ms");
}

#[test]
fn hooks_that_run_too_long_time_out() {
    let (f, _) = factory(1, Behaviour::SlowHooks);
    let err = run(
        &plan(r#"{"vus": 1, "iterations": 1, "setupTimeout": "200ms"}"#),
        f,
        Arc::new(Registry::new()),
        RunOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, RunError::SetupTimeout(d) if d == Duration::from_millis(200)));
    assert_eq!(err.to_string(), "setup() timed out after 200ms");

    let (f, _) = factory(1, Behaviour::SlowHooks);
    let o = run(
        &plan(r#"{"vus": 1, "iterations": 1, "teardownTimeout": "300ms"}"#),
        f,
        Arc::new(Registry::new()),
        RunOptions {
            setup: false,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        o.teardown_error,
        Some(HookFailure::TimedOut(Duration::from_millis(300)))
    );
    assert_eq!(count(&o, builtin::ITERATIONS), 1.0);
}

/// The fake VU, declared cheap to create (as `brunt quick`'s VUs are).
struct CheapFactory(Factory);

impl VuFactory for CheapFactory {
    type Vu = FakeVu;
    const CHEAP_INIT: bool = true;
    fn create(&self, init: VuInit) -> Result<FakeVu, VuError> {
        self.0.create(init)
    }
}

#[test]
fn cheap_vus_take_iterations_instead_of_dropping_them_up_to_max_vus() {
    let (f, seen) = factory(50, Behaviour::Sleep);
    let f = Arc::new(CheapFactory(Arc::try_unwrap(f).ok().unwrap()));
    let json = r#"{"scenarios": {"open": {"executor": "constant-arrival-rate", "rate": 100, "duration": "1s", "preAllocatedVUs": 1, "maxVUs": 20}}}"#;
    let o = run(
        &plan(json),
        f,
        Arc::new(Registry::new()),
        RunOptions::default(),
    )
    .unwrap();
    assert_eq!(count(&o, builtin::ITERATIONS), 100.0);
    assert_eq!(count(&o, builtin::DROPPED_ITERATIONS), 0.0);
    let created = seen.created.load(Ordering::Relaxed);
    assert!((2..=20).contains(&created), "{created} VUs for 5 in flight");
}

#[test]
fn samplers_add_to_the_run_on_each_tick_and_at_the_end() {
    let (f, _) = factory(10, Behaviour::Sleep);
    let registry = Arc::new(Registry::new());
    let outside = registry
        .register("outside", MetricType::Counter, ValueType::Default)
        .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    let opts = RunOptions {
        workers: 1,
        samplers: vec![Box::new(move |agg| {
            seen.fetch_add(1, Ordering::Relaxed);
            agg.add(outside, &TagSet::new([("monitor", "m")]), 1.0);
        })],
        ..RunOptions::default()
    };
    let o = run(&plan(r#"{"vus": 1, "duration": "1s"}"#), f, registry, opts).unwrap();
    let calls = calls.load(Ordering::Relaxed) as f64;
    assert!(calls >= 1.0, "called at least for the last tick");
    // Every call's sample is in the totals, the last one's too.
    assert_eq!(count(&o, outside), calls);
}

/// Starts `json` paused on a thread; returns once the run waits at its start gate.
fn start_paused(
    json: &'static str,
    f: Arc<Factory>,
    opts: RunOptions,
) -> std::thread::JoinHandle<RunOutcome> {
    use brunt_engine::ExecutionStatus;
    let execution = opts.execution.clone();
    let runner =
        std::thread::spawn(move || run(&plan(json), f, Arc::new(Registry::new()), opts).unwrap());
    while execution.status() != ExecutionStatus::PausedBeforeRun {
        std::thread::sleep(Duration::from_millis(5));
    }
    runner
}

/// `--paused`: the VUs are initialised and nothing runs (not even `setup()`) until the gate
/// opens; a hook asked for meanwhile runs on the hook VU; then the run goes as usual.
#[test]
fn a_paused_run_waits_at_its_start_gate_and_runs_hooks_asked_for_meanwhile() {
    use brunt_engine::{Execution, ExecutionStatus, Hook};
    let (f, seen) = factory(1, Behaviour::Sleep);
    let execution = Execution::paused();
    let opts = RunOptions {
        workers: 2,
        setup: false,
        teardown: false,
        execution: execution.clone(),
        ..RunOptions::default()
    };
    let runner = start_paused(r#"{"vus": 3, "iterations": 9}"#, f, opts);
    assert_eq!(execution.counts().vus_initialized, 3);
    assert!(!execution.has_started());
    assert_eq!(seen.iterations.load(Ordering::Relaxed), 0);
    assert_eq!(execution.run_hook(Hook::Setup), Ok(()));
    assert_eq!(
        seen.setups.load(Ordering::Relaxed),
        1,
        "setup() ran on request"
    );
    execution.set_paused(false).unwrap();
    let o = runner.join().unwrap();
    assert_eq!(o.end, RunEnd::Completed);
    assert_eq!(count(&o, builtin::ITERATIONS), 9.0);
    assert_eq!(
        seen.setups.load(Ordering::Relaxed),
        1,
        "--no-setup: not again"
    );
    assert_eq!(execution.status(), ExecutionStatus::Ended);
    assert!(execution.has_started() && execution.has_ended());
}

/// A stop while paused ends the run there: no test, as k6's stop from its REST API.
#[test]
fn a_stop_while_paused_ends_the_run_before_it_starts() {
    use brunt_engine::{Execution, ExecutionStatus};
    let (f, seen) = factory(1, Behaviour::Sleep);
    let control = RunControl::new();
    let opts = RunOptions {
        workers: 1,
        execution: Execution::paused(),
        control: control.clone(),
        ..RunOptions::default()
    };
    let execution = opts.execution.clone();
    let runner = start_paused(r#"{"vus": 2, "iterations": 4}"#, f, opts);
    control.stop_from_api();
    let o = runner.join().unwrap();
    assert_eq!(o.end, RunEnd::StoppedFromApi);
    assert_eq!(seen.iterations.load(Ordering::Relaxed), 0);
    assert_eq!(seen.setups.load(Ordering::Relaxed), 0);
    assert_eq!(execution.status(), ExecutionStatus::Interrupted);
}
