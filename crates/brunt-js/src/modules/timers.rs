//! `setTimeout`/`setInterval` and their `clear*` (globals and `k6/timers`). Callbacks run after the
//! iteration's function returns and before the iteration ends, as in k6's event loop; the VU
//! sleeps (suspends) until the next one is due.

use super::def_public;
use crate::host::Host;
use crate::runtime::caught;
use crate::vu::IoRequest;
use rquickjs::function::{Opt, Rest};
use rquickjs::{CatchResultExt, Ctx, Function, Object, Persistent, Result, Value};
use std::rc::Rc;
use std::time::{Duration, Instant};

pub(crate) struct Timer {
    id: u32,
    due: Instant,
    every: Option<Duration>,
    f: Persistent<Function<'static>>,
    args: Vec<Persistent<Value<'static>>>,
}

/// The VU's pending timers. They must be cleared before the runtime is freed.
#[derive(Default)]
pub(crate) struct Timers {
    next_id: u32,
    pending: Vec<Timer>,
    /// The event loop's last turn ran a timer (see `run_next`).
    ran_last: bool,
}

impl Timers {
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
    }

    /// When the earliest timer is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.pending.iter().map(|t| t.due).min()
    }
}

fn add<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    f: Function<'js>,
    ms: Option<f64>,
    args: Vec<Value<'js>>,
    repeat: bool,
) -> u32 {
    let ms = ms.filter(|m| m.is_finite() && *m > 0.0).unwrap_or(0.0);
    let d = Duration::from_secs_f64(ms / 1000.0);
    let mut t = host.timers.borrow_mut();
    t.next_id += 1;
    let id = t.next_id;
    t.pending.push(Timer {
        id,
        due: Instant::now() + d,
        every: repeat.then_some(d),
        f: Persistent::save(ctx, f),
        args: args.into_iter().map(|a| Persistent::save(ctx, a)).collect(),
    });
    id
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, globals: &Object<'js>, host: &Rc<Host>) -> Result<()> {
    for (name, repeat) in [("setTimeout", false), ("setInterval", true)] {
        let h = host.clone();
        def_public(
            ctx,
            globals,
            name,
            move |ctx: Ctx<'js>,
                  f: Function<'js>,
                  ms: Opt<Option<f64>>,
                  args: Rest<Value<'js>>|
                  -> u32 { add(&ctx, &h, f, ms.0.flatten(), args.0, repeat) },
        )?;
    }
    for name in ["clearTimeout", "clearInterval"] {
        let h = host.clone();
        def_public(ctx, globals, name, move |id: Opt<Option<u32>>| {
            if let Some(id) = id.0.flatten() {
                h.timers.borrow_mut().pending.retain(|t| t.id != id);
            }
        })?;
    }
    Ok(())
}

/// Runs promise jobs, due timers and the events of open sockets until none is left.
pub(crate) fn run_pending(
    ctx: &Ctx<'_>,
    host: &Host,
) -> std::result::Result<(), crate::host::ScriptError> {
    loop {
        while ctx.execute_pending_job() {}
        if !run_next(ctx, host)? {
            return Ok(());
        }
    }
}

/// Runs what comes next on the VU's event loop: an event of a `k6/websockets` socket, or the
/// earliest timer, waiting for whichever is first; false when neither is left.
pub(crate) fn run_next(
    ctx: &Ctx<'_>,
    host: &Host,
) -> std::result::Result<bool, crate::host::ScriptError> {
    if host.websockets.borrow().pending() {
        let due = host.timers.borrow().next_due();
        // A due timer first, but not twice in a row while an event waits: a socket that always
        // has events must not hold timers off, nor a timer that is set again at once (the
        // asyncRequest pump's, while a request is in flight) hold the socket's events off.
        let events = host.websockets.borrow().has_events();
        let ran_last = std::mem::take(&mut host.timers.borrow_mut().ran_last);
        if due.is_some_and(|d| d <= Instant::now()) && !(events && ran_last) {
            host.timers.borrow_mut().ran_last = true;
            return run_next_timer(ctx, host);
        }
        if super::websockets::deliver_next(ctx, host, due)? {
            return Ok(true);
        }
        if due.is_none() {
            return Ok(host.websockets.borrow().pending());
        }
    }
    run_next_timer(ctx, host)
}

/// Waits for the earliest timer and runs its callback; false when no timer is pending.
fn run_next_timer(
    ctx: &Ctx<'_>,
    host: &Host,
) -> std::result::Result<bool, crate::host::ScriptError> {
    let next = {
        let t = host.timers.borrow();
        t.pending
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| t.due)
            .map(|(i, t)| (i, t.due))
    };
    let Some((_, due)) = next else {
        return Ok(false);
    };
    let now = Instant::now();
    if due > now && host.wait(IoRequest::Sleep(due - now)).is_err() {
        host.timers.borrow_mut().clear();
        return Err(crate::host::ScriptError::plain("the VU was stopped".into()));
    }
    // Take the earliest timer again: a callback may not run between, but be exact anyway.
    let timer = {
        let mut t = host.timers.borrow_mut();
        let Some(i) = t
            .pending
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| t.due)
            .map(|(i, _)| i)
        else {
            return Ok(false);
        };
        let timer = t.pending.swap_remove(i);
        if let Some(every) = timer.every {
            t.pending.push(Timer {
                id: timer.id,
                due: Instant::now() + every,
                every: timer.every,
                f: timer.f.clone(),
                args: timer.args.clone(),
            });
        }
        timer
    };
    let f = timer.f.restore(ctx).expect("timer of this runtime");
    let mut args = rquickjs::function::Args::new(ctx.clone(), timer.args.len());
    for a in timer.args {
        args.push_arg(a.restore(ctx).expect("timer argument of this runtime"))
            .catch(ctx)
            .map_err(|e| caught(ctx, e))?;
    }
    if let Err(e) = f.call_arg::<Value>(args).catch(ctx) {
        host.timers.borrow_mut().clear();
        return Err(caught(ctx, e));
    }
    Ok(true)
}
