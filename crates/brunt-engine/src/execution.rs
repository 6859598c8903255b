//! Where a run stands, for a control surface outside the engine (k6's REST API): k6's execution
//! status, the start gate of `--paused`, the live VU counts, and the `setup()`/`teardown()`
//! calls the surface asks for while the test waits to start or lingers after its end (k6's
//! `--linger`). The collector moves it along; the
//! gate is the collector's own wait between VU initialisation and `setup()`, as k6's scheduler
//! waits, so there is no second scheduler.

use crate::plan::Plan;
use crate::worker::{InstanceCounts, Shared};
use std::collections::VecDeque;
use std::sync::{mpsc, Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// k6's `lib.ExecutionStatus`, numbered as k6 numbers it (the REST API reports the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
#[repr(u32)]
pub enum ExecutionStatus {
    #[default]
    Created = 0,
    InitVus = 1,
    InitExecutors = 2,
    InitDone = 3,
    PausedBeforeRun = 4,
    Started = 5,
    Setup = 6,
    Running = 7,
    Teardown = 8,
    Ended = 9,
    Interrupted = 10,
    MarkedAsFailed = 11,
}

/// A hook the control surface asks the engine to run on its setup/teardown VU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Setup,
    Teardown,
}

/// Why a pause or resume was refused (k6's words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PauseError {
    #[error("execution is already paused")]
    AlreadyPaused,
    /// k6 v1 has no executor that pauses once started: only the start can wait.
    #[error("{executor} executor '{scenario}' doesn't support pause and resume operations after its start")]
    AfterStart {
        executor: &'static str,
        scenario: String,
    },
}

type HookReply = mpsc::Sender<Result<(), String>>;

/// The run's execution state, shared between the collector and whoever watches or steers it.
#[derive(Clone, Default)]
pub struct Execution {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    status: Mutex<ExecutionStatus>,
    /// The start gate (`--paused`) and the hooks asked for while it is closed.
    gate: Mutex<Gate>,
    wake: Condvar,
    /// Set by the collector once the workers exist: live VU counts and the first scenario.
    shared: OnceLock<Arc<Shared>>,
    test_start: OnceLock<Instant>,
    test_end: OnceLock<Instant>,
}

#[derive(Default)]
struct Gate {
    paused: bool,
    /// After the test, until the lingering ends (`--linger`).
    lingering: bool,
    hooks: VecDeque<(Hook, HookReply)>,
}

impl Execution {
    /// A run that waits, VUs initialised, until [`Execution::set_paused`]`(false)` (k6's
    /// `--paused`).
    pub fn paused() -> Execution {
        let e = Execution::default();
        e.gate().paused = true;
        e
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.inner.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn status(&self) -> ExecutionStatus {
        *self.inner.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_status(&self, s: ExecutionStatus) {
        *self.inner.status.lock().unwrap_or_else(|e| e.into_inner()) = s;
    }

    pub fn is_paused(&self) -> bool {
        self.gate().paused
    }

    /// The test has started (setup included): it is past the start gate.
    pub fn has_started(&self) -> bool {
        self.inner.test_start.get().is_some()
    }

    pub fn has_ended(&self) -> bool {
        self.inner.test_end.get().is_some()
    }

    /// Time since the test started, up to its end (k6's current test run duration).
    pub fn elapsed(&self) -> Duration {
        match (self.inner.test_start.get(), self.inner.test_end.get()) {
            (Some(s), Some(e)) => e.saturating_duration_since(*s),
            (Some(s), None) => s.elapsed(),
            _ => Duration::ZERO,
        }
    }

    /// Live VU and iteration counts of this instance (zero before the workers exist).
    pub fn counts(&self) -> InstanceCounts {
        self.inner
            .shared
            .get()
            .map(|s| s.counts())
            .unwrap_or_default()
    }

    /// k6's `SetPaused`: before the start, un-pausing opens the gate; anything else is refused,
    /// as k6 v1 refuses it for every executor.
    pub fn set_paused(&self, pause: bool) -> Result<(), PauseError> {
        let mut gate = self.gate();
        if gate.paused && !self.has_started() {
            if pause {
                return Err(PauseError::AlreadyPaused);
            }
            gate.paused = false;
            self.inner.wake.notify_all();
            return Ok(());
        }
        let (executor, scenario) = self
            .inner
            .shared
            .get()
            .and_then(|s| first_scenario(&s.plan))
            .unwrap_or(("shared-iterations", crate::plan::DEFAULT_SCENARIO.into()));
        Err(PauseError::AfterStart { executor, scenario })
    }

    /// Runs `setup()` or `teardown()` on the run's hook VU while the test waits at the start
    /// gate or lingers after its end, blocking the caller until it ends; refused while the test
    /// runs.
    pub fn run_hook(&self, hook: Hook) -> Result<(), String> {
        let (tx, rx) = mpsc::channel();
        {
            let mut gate = self.gate();
            let waiting = gate.paused && self.status() == ExecutionStatus::PausedBeforeRun;
            if !(waiting || gate.lingering) {
                return Err(format!(
                    "brunt runs {}() through the REST API only while the test is paused before its start (--paused) or after its end with --linger",
                    match hook {
                        Hook::Setup => "setup",
                        Hook::Teardown => "teardown",
                    }
                ));
            }
            gate.hooks.push_back((hook, tx));
            self.inner.wake.notify_all();
        }
        rx.recv()
            .unwrap_or_else(|_| Err("the run ended before the hook ran".into()))
    }

    pub(crate) fn attach(&self, shared: Arc<Shared>) {
        let _ = self.inner.shared.set(shared);
    }

    pub(crate) fn mark_started(&self, at: Instant) {
        let _ = self.inner.test_start.set(at);
    }

    pub(crate) fn mark_ended(&self) {
        let _ = self.inner.test_end.set(Instant::now());
    }

    /// Opens (or closes) the run to hooks after the test (`--linger`); closing it drops the
    /// hooks still queued, whose callers hear that the run ended.
    pub(crate) fn set_lingering(&self, lingering: bool) {
        let mut gate = self.gate();
        gate.lingering = lingering;
        if !lingering {
            gate.hooks.clear();
        }
    }

    /// The collector's wait at the start gate, or while lingering: returns the next hook asked
    /// for, or None once the gate is open (the lingering over) or `give_up` says to stop waiting
    /// (checked every `poll`).
    pub(crate) fn wait_at_gate(
        &self,
        poll: Duration,
        give_up: impl Fn() -> bool,
    ) -> Option<(Hook, HookReply)> {
        let mut gate = self.gate();
        loop {
            if let Some(h) = gate.hooks.pop_front() {
                return Some(h);
            }
            if !(gate.paused || gate.lingering) || give_up() {
                return None;
            }
            gate = self
                .inner
                .wake
                .wait_timeout(gate, poll)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

fn first_scenario(plan: &Plan) -> Option<(&'static str, String)> {
    plan.scenarios()
        .first()
        .map(|s| (s.executor.name(), s.name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_run_resumes_once_and_refuses_a_second_pause_as_k6() {
        let e = Execution::paused();
        assert_eq!(e.set_paused(true), Err(PauseError::AlreadyPaused));
        assert_eq!(e.set_paused(false), Ok(()));
        assert!(!e.is_paused());
        assert!(matches!(
            e.set_paused(true),
            Err(PauseError::AfterStart { .. })
        ));
    }

    #[test]
    fn hooks_are_refused_outside_the_start_gate() {
        let e = Execution::default();
        let err = e.run_hook(Hook::Setup).unwrap_err();
        assert!(err.contains("paused before its start"), "{err}");
    }

    #[test]
    fn the_gate_hands_out_hooks_then_opens() {
        let e = Execution::paused();
        e.set_status(ExecutionStatus::PausedBeforeRun);
        let asker = {
            let e = e.clone();
            std::thread::spawn(move || e.run_hook(Hook::Setup))
        };
        let (hook, reply) = e.wait_at_gate(Duration::from_millis(10), || false).unwrap();
        assert_eq!(hook, Hook::Setup);
        reply.send(Ok(())).unwrap();
        assert_eq!(asker.join().unwrap(), Ok(()));
        e.set_paused(false).unwrap();
        assert!(e
            .wait_at_gate(Duration::from_millis(10), || false)
            .is_none());
    }

    /// `--linger`: after the test, hooks are taken until the lingering ends, then refused.
    #[test]
    fn a_lingering_run_takes_hooks_until_the_linger_ends() {
        let e = Execution::default();
        e.set_status(ExecutionStatus::Ended);
        assert!(e.run_hook(Hook::Teardown).is_err(), "not lingering yet");
        e.set_lingering(true);
        let asker = {
            let e = e.clone();
            std::thread::spawn(move || e.run_hook(Hook::Teardown))
        };
        let (hook, reply) = e.wait_at_gate(Duration::from_millis(10), || false).unwrap();
        assert_eq!(hook, Hook::Teardown);
        reply.send(Ok(())).unwrap();
        assert_eq!(asker.join().unwrap(), Ok(()));
        e.set_lingering(false);
        let err = e.run_hook(Hook::Setup).unwrap_err();
        assert!(err.contains("--linger"), "{err}");
        assert!(e
            .wait_at_gate(Duration::from_millis(10), || false)
            .is_none());
    }
}
