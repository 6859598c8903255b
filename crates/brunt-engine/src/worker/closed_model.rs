//! Closed-model executors on one worker: shared-iterations, per-vu-iterations, constant-vus
//! and ramping-vus. VU handle `k` of a scenario runs on worker `k % workers`, as a task that
//! loops iterations until the scenario stops it.

use super::slot::Slot;
use super::{join_all, VuBox, Worker, SYNC_ITERATIONS_BEFORE_YIELD};
use crate::plan::{Executor, Scenario};
use crate::steps::ramping_vus_raw_steps;
use crate::vu::VuFactory;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::task::JoinSet;

/// What closed-model VUs do each loop.
#[derive(Clone, Copy)]
enum Loop {
    /// Take iterations from the scenario's shared counter up to this total.
    Shared(u64),
    /// This many iterations per VU.
    PerVu(u64),
    /// Until stopped.
    Forever,
}

impl<F: VuFactory> Worker<F> {
    /// shared-iterations, per-vu-iterations, constant-vus and ramping-vus.
    pub(super) async fn run_closed(self: Rc<Self>, si: usize, start: Instant) {
        let spec = self.spec(si).clone();
        let tuple = self.shared.plan.tuple().clone();
        let regular_end = start + spec.regular_duration();
        let hard_end = start + spec.max_duration();
        let mut tasks = JoinSet::new();
        let mut handles: Vec<Option<Rc<Slot>>> = Vec::new();
        // The executors with a fixed number of VUs, and what their VUs loop for.
        let fixed = match &spec.executor {
            Executor::RampingVus {
                start_vus, stages, ..
            } => {
                let raw = ramping_vus_raw_steps(*start_vus, stages, &tuple, true);
                let graceful = spec.requirements(&tuple);
                let (mut i, mut j) = (0, 0);
                let (mut cur_raw, mut cur_graceful) = (0u64, 0u64);
                // k6's iterateSteps: raw steps start and gracefully stop VUs, the graceful
                // steps (gracefulRampDown reservations) hard-stop them.
                let hard_stop_above = |n: u64, cur: &mut u64, handles: &[Option<Rc<Slot>>]| {
                    while n < *cur {
                        *cur -= 1;
                        if let Some(Some(s)) = handles.get(*cur as usize) {
                            s.hard_stop();
                        }
                    }
                    *cur = n;
                };
                while i < raw.len() {
                    let take_graceful = j < graceful.len() && graceful[j].offset < raw[i].offset;
                    let step = if take_graceful { graceful[j] } else { raw[i] };
                    if !self.sleep_until(start + step.offset).await {
                        break;
                    }
                    if take_graceful {
                        hard_stop_above(step.planned, &mut cur_graceful, &handles);
                        j += 1;
                    } else {
                        while cur_raw < step.planned {
                            self.start_handle(
                                si,
                                start,
                                cur_raw as usize,
                                Loop::Forever,
                                &mut handles,
                                &mut tasks,
                            );
                            cur_raw += 1;
                        }
                        while step.planned < cur_raw {
                            cur_raw -= 1;
                            if let Some(Some(s)) = handles.get(cur_raw as usize) {
                                s.graceful_stop();
                            }
                        }
                        i += 1;
                    }
                }
                // After the stages, the remaining reservations end once the VUs have finished.
                for step in &graceful[j..] {
                    self.drain_until(&mut tasks, start + step.offset).await;
                    if tasks.is_empty() || self.stopped() {
                        break;
                    }
                    hard_stop_above(step.planned, &mut cur_graceful, &handles);
                }
                None
            }
            Executor::SharedIterations { vus, .. } => {
                let total = spec.total_iterations(&tuple).unwrap_or(0);
                Some((tuple.scale(*vus), Loop::Shared(total)))
            }
            Executor::PerVuIterations {
                vus, iterations, ..
            } => Some((tuple.scale(*vus), Loop::PerVu(*iterations))),
            Executor::ConstantVus { vus, .. } => Some((tuple.scale(*vus), Loop::Forever)),
            Executor::ConstantArrivalRate { .. } | Executor::RampingArrivalRate { .. } => None,
        };
        if let Some((vus, mode)) = fixed {
            for k in 0..vus as usize {
                self.start_handle(si, start, k, mode, &mut handles, &mut tasks);
            }
            self.drain_until(&mut tasks, regular_end).await;
            for s in handles.iter().flatten() {
                s.graceful_stop();
            }
            self.drain_until(&mut tasks, hard_end).await;
        }
        for s in handles.iter().flatten() {
            s.hard_stop();
        }
        join_all(&self.shared.control, &mut tasks).await;
        self.finish_shared_iterations(si, &spec);
    }

    /// Starts closed-model VU handle `k` if it is this worker's; a handle gracefully stopping
    /// but still in its last iteration just goes on looping (k6's vuHandle).
    fn start_handle(
        self: &Rc<Self>,
        si: usize,
        start: Instant,
        k: usize,
        mode: Loop,
        handles: &mut Vec<Option<Rc<Slot>>>,
        tasks: &mut JoinSet<()>,
    ) {
        if k % self.shared.workers != self.index {
            return;
        }
        if handles.len() <= k {
            handles.resize(k + 1, None);
        }
        if let Some(slot) = &handles[k] {
            if slot.alive.get() && !slot.hard.get() {
                slot.active.set(true);
                return;
            }
        }
        let Some(vu) = self.take_vu() else { return };
        let slot = Slot::new();
        handles[k] = Some(slot.clone());
        tasks.spawn_local(self.clone().closed_vu(si, start, slot, vu, mode));
    }

    /// shared-iterations: the last worker to finish counts the iterations nobody started.
    fn finish_shared_iterations(&self, si: usize, spec: &Scenario) {
        let Executor::SharedIterations { .. } = &spec.executor else {
            return;
        };
        let sh = &self.shared.scenarios[si];
        let finished = sh.finished.fetch_add(1, Ordering::AcqRel) + 1;
        if finished != self.shared.workers || self.shared.control.is_stopped() {
            return;
        }
        let total = spec.total_iterations(self.shared.plan.tuple()).unwrap_or(0);
        let attempted = sh.next_iteration.load(Ordering::Acquire).min(total);
        if attempted < total {
            self.drop_iterations(si, total - attempted);
        }
    }

    async fn closed_vu(
        self: Rc<Self>,
        si: usize,
        start: Instant,
        slot: Rc<Slot>,
        mut vb: VuBox<F::Vu>,
        mode: Loop,
    ) {
        self.set_active(si, 1);
        let counter = &self.shared.scenarios[si].next_iteration;
        let mut ctx = self.iteration_ctx(si, start);
        let mut done = 0u64;
        let mut sync_streak = 0u32;
        loop {
            if !slot.active.get() || matches!(mode, Loop::PerVu(n) if done >= n) {
                break;
            }
            let number = counter.fetch_add(1, Ordering::Relaxed);
            if matches!(mode, Loop::Shared(total) if number >= total) {
                break;
            }
            ctx.iteration_in_scenario = number;
            let mut suspended = false;
            let go_on = self
                .iterate(si, &slot, &mut vb, &mut ctx, &mut suspended)
                .await;
            done += 1;
            if !go_on {
                break;
            }
            sync_streak = if suspended { 0 } else { sync_streak + 1 };
            if sync_streak >= SYNC_ITERATIONS_BEFORE_YIELD {
                sync_streak = 0;
                tokio::task::yield_now().await;
            }
        }
        // k6: a per-vu-iterations VU stopped by the end of its duration drops what it had left
        // (the interrupted iteration is neither counted nor dropped); an interrupted run drops
        // nothing.
        if let Loop::PerVu(n) = mode {
            if done < n && !self.shared.control.is_stopped() {
                self.drop_iterations(si, n - done);
            }
        }
        slot.alive.set(false);
        self.set_active(si, -1);
        self.pool.borrow_mut().push(vb);
    }
}
