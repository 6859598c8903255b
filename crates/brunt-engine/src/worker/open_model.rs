//! Open-model executors on one worker: constant-arrival-rate and ramping-arrival-rate. The
//! worker dispatches every `n`-th scheduled iteration to a free VU of its own, stamped with the
//! intended start; with no VU free the iteration is dropped and, within `maxVUs`, one more VU
//! is initialised, as in k6 — unless the factory's VUs are cheap to create
//! ([`VuFactory::CHEAP_INIT`]), in which case a new VU takes the iteration at once.

use super::slot::{Job, NextJob, Slot};
use super::{join_all, share, VuBox, Worker};
use crate::arrival::{
    constant_arrival_times, gamma_arrival_times, ramping_arrival_times,
    ramping_gamma_arrival_times, Arrivals, Payload,
};
use crate::plan::{Executor, Plan, Scenario};
use crate::vu::VuFactory;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// A start on this worker: its iteration number, offset from the scenario's start and payload.
type Start = (u64, Duration, Option<Payload>);

/// Workers an arrival-rate scenario runs on: no more than it has pre-allocated VUs, so that a
/// small pool is not split into useless slivers.
pub(super) fn arrival_workers(pre_allocated: u64, workers: usize) -> usize {
    workers.min(pre_allocated.max(1) as usize)
}

/// An arrival-rate scenario's pre-allocated VUs on this instance and the offsets of this
/// instance's iterations (striped by k6's tuple re-cut by `maxVUs`, spaced as the plan's
/// [`Arrivals`] say); None for other executors or when this instance has no VUs for it.
fn arrival_schedule(
    spec: &Scenario,
    plan: &Plan,
) -> Option<(u64, Box<dyn Iterator<Item = Duration>>)> {
    let tuple = plan.tuple();
    let executor = &spec.executor;
    // The scenario's own `arrival` first, then the plan's (constant-arrival-rate only).
    let arrivals = spec.arrival;
    let times: Box<dyn Iterator<Item = Duration>> = match executor {
        Executor::ConstantArrivalRate {
            rate,
            time_unit,
            duration,
            max_vus,
            ..
        } => {
            let recut = tuple.for_value(*max_vus)?;
            match arrivals.unwrap_or(plan.arrivals()) {
                Arrivals::Ticker => {
                    Box::new(constant_arrival_times(*rate, *time_unit, *duration, &recut))
                }
                Arrivals::Gamma { burstiness, seed } => Box::new(gamma_arrival_times(
                    *rate, *time_unit, *duration, burstiness, seed, &recut,
                )),
            }
        }
        Executor::RampingArrivalRate {
            start_rate,
            time_unit,
            stages,
            max_vus,
            ..
        } => {
            let recut = tuple.for_value(*max_vus)?;
            match arrivals.unwrap_or_default() {
                Arrivals::Ticker => Box::new(ramping_arrival_times(
                    *start_rate,
                    *time_unit,
                    stages,
                    &recut,
                )),
                Arrivals::Gamma { burstiness, seed } => Box::new(ramping_gamma_arrival_times(
                    *start_rate,
                    *time_unit,
                    stages,
                    burstiness,
                    seed,
                    &recut,
                )),
            }
        }
        _ => return None,
    };
    let (pre, max) = executor.arrival_pool(tuple)?;
    (max > 0).then_some((pre, times))
}

/// Claims one of the scenario's VUs beyond the pre-allocated ones, if any is left.
fn take_unplanned(unplanned: &AtomicU64) -> bool {
    unplanned
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

impl<F: VuFactory> Worker<F> {
    /// k6's warning when an arrival-rate scenario drops an iteration with all its VUs busy
    /// and none left to create, once per scenario in the whole run.
    fn warn_insufficient(&self, si: usize, spec: &Scenario) {
        let shared = &self.shared.scenarios[si];
        if shared.warned_insufficient.swap(true, Ordering::AcqRel) {
            return;
        }
        let max = spec
            .executor
            .arrival_pool(self.shared.plan.tuple())
            .map_or(0, |(_, max)| max);
        crate::log::log(
            crate::log::Level::Warn,
            &format!("Insufficient VUs, reached {max} active VUs and cannot initialize more"),
            &[("executor", spec.executor.name()), ("scenario", &spec.name)],
        );
    }

    /// A constant-arrival-rate scenario's starts pulled from the plan's feed, numbered in the
    /// order the workers pull them, up to the scenario's `duration`; None without a feed.
    fn fed_starts(
        self: &Rc<Self>,
        si: usize,
        spec: &Scenario,
    ) -> Option<Box<dyn Iterator<Item = Start>>> {
        let feed = self.shared.plan.feed()?.clone();
        if !matches!(spec.executor, Executor::ConstantArrivalRate { .. }) {
            return None;
        }
        let (w, end) = (self.clone(), spec.regular_duration());
        Some(Box::new(std::iter::from_fn(move || {
            let a = feed.next().filter(|a| a.offset < end)?;
            let j = w.shared.scenarios[si]
                .next_iteration
                .fetch_add(1, Ordering::AcqRel);
            Some((j, a.offset, Some(a.payload)))
        })))
    }

    /// constant-arrival-rate and ramping-arrival-rate.
    pub(super) async fn run_arrival(self: Rc<Self>, si: usize, start: Instant) {
        let spec = self.spec(si).clone();
        let Some((pre, times)) = arrival_schedule(&spec, &self.shared.plan) else {
            return;
        };
        let workers = arrival_workers(pre, self.shared.workers);
        if self.index >= workers {
            return;
        }
        let idle: Rc<RefCell<Vec<Rc<Slot>>>> = Rc::new(RefCell::new(Vec::new()));
        let all: Rc<RefCell<Vec<Rc<Slot>>>> = Rc::new(RefCell::new(Vec::new()));
        let mut tasks = JoinSet::new();
        for _ in 0..share(pre, workers, self.index) {
            let Some(vu) = self.take_vu() else { break };
            self.spawn_arrival_vu(si, start, vu, &idle, &all, &mut tasks);
        }
        let creating = Rc::new(Cell::new(false));
        let unplanned = &self.shared.scenarios[si].unplanned_left;
        let (fed, index) = (self.fed_starts(si, &spec), self.index);
        let is_fed = fed.is_some();
        let starts: Box<dyn Iterator<Item = Start>> = match fed {
            Some(fed) => fed,
            None => Box::new(
                times
                    .enumerate()
                    .filter(move |(j, _)| j % workers == index)
                    .map(|(j, offset)| (j as u64, offset, None)),
            ),
        };
        for (j, offset, payload) in starts {
            let due = start + offset;
            if !self.sleep_until(due).await {
                break;
            }
            let mut free = idle.borrow_mut().pop();
            if free.is_none() {
                // VUs that finished meanwhile may not have run yet on this thread: let them
                // (other threads would have, in k6), then decide whether to drop.
                tokio::task::yield_now().await;
                free = idle.borrow_mut().pop();
            }
            if free.is_none() && F::CHEAP_INIT && take_unplanned(unplanned) {
                // A VU that costs next to nothing to create starts this iteration now rather
                // than dropping it: the open model then holds up to maxVUs requests in flight.
                if let Some(vu) = self.take_vu() {
                    self.spawn_arrival_vu(si, start, vu, &idle, &all, &mut tasks);
                    free = idle.borrow_mut().pop();
                }
            }
            match free {
                Some(slot) => {
                    slot.job.set(Some(Job {
                        intended: due,
                        iteration: j,
                        payload,
                    }));
                    slot.wake();
                }
                None => {
                    self.drop_iterations(si, 1);
                    if unplanned.load(Ordering::Acquire) == 0 {
                        self.warn_insufficient(si, &spec);
                    }
                    // Like k6: start initialising one more VU in the background if allowed.
                    if !creating.get() && take_unplanned(unplanned) {
                        creating.set(true);
                        let (w, idle, all, creating) =
                            (self.clone(), idle.clone(), all.clone(), creating.clone());
                        tasks.spawn_local(async move {
                            tokio::task::yield_now().await;
                            if let Some(vu) = w.take_vu() {
                                let mut inner = JoinSet::new();
                                w.spawn_arrival_vu(si, start, vu, &idle, &all, &mut inner);
                                creating.set(false);
                                join_all(&w.shared.control, &mut inner).await;
                            }
                        });
                    }
                }
            }
        }
        if !is_fed {
            // A fed scenario ends with its feed; a computed schedule keeps its length.
            self.sleep_until(start + spec.regular_duration()).await;
        }
        for s in all.borrow().iter() {
            s.graceful_stop();
        }
        self.drain_until(&mut tasks, start + spec.max_duration())
            .await;
        for s in all.borrow().iter() {
            s.hard_stop();
        }
        join_all(&self.shared.control, &mut tasks).await;
    }

    fn spawn_arrival_vu(
        self: &Rc<Self>,
        si: usize,
        start: Instant,
        vu: VuBox<F::Vu>,
        idle: &Rc<RefCell<Vec<Rc<Slot>>>>,
        all: &Rc<RefCell<Vec<Rc<Slot>>>>,
        tasks: &mut JoinSet<()>,
    ) {
        let slot = Slot::new();
        all.borrow_mut().push(slot.clone());
        // Free from now on: a job given before the task first runs waits in the slot.
        idle.borrow_mut().push(slot.clone());
        tasks.spawn_local(self.clone().arrival_vu(si, start, slot, vu, idle.clone()));
    }

    async fn arrival_vu(
        self: Rc<Self>,
        si: usize,
        start: Instant,
        slot: Rc<Slot>,
        mut vb: VuBox<F::Vu>,
        idle: Rc<RefCell<Vec<Rc<Slot>>>>,
    ) {
        let mut ctx = self.iteration_ctx(si, start);
        while let Some(job) = NextJob(&slot).await {
            self.set_active(si, 1);
            ctx.iteration_in_scenario = job.iteration;
            ctx.scheduled_lag = Some(Instant::now().saturating_duration_since(job.intended));
            ctx.payload = job.payload;
            let mut suspended = false;
            let go_on = self
                .iterate(si, &slot, &mut vb, &mut ctx, &mut suspended)
                .await;
            self.set_active(si, -1);
            if !go_on {
                break;
            }
            idle.borrow_mut().push(slot.clone());
            if !suspended {
                // Let the dispatcher and other VUs run between back-to-back iterations.
                tokio::task::yield_now().await;
            }
        }
        slot.alive.set(false);
        self.pool.borrow_mut().push(vb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_pools_are_not_split_across_workers() {
        assert_eq!(arrival_workers(1, 8), 1);
        assert_eq!(arrival_workers(0, 8), 1);
        assert_eq!(arrival_workers(100, 8), 8);
    }
}
