//! `sse_delay` (brunt extension): slows a server-sent event stream event by event. Each event
//! (bytes up to a blank line, `\n\n`) leaves `delay` ms after the later of its arrival and the
//! previous event's leaving, so the first event comes `delay` later and events come at least
//! `delay` apart; bytes between events pass without delay (in order). Use it on `downstream`.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{
    millis, non_negative, push_not_before, Behaviour, Body, EventSplitter, Piece, StageCx,
};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SseDelay {
    /// Milliseconds before each event, counted from the previous one.
    pub delay: i64,
}

#[derive(Debug, Default)]
pub struct State {
    events: EventSplitter,
    /// When the last piece left.
    last: Option<Instant>,
}

impl Behaviour for SseDelay {
    const NAME: &'static str = "sse_delay";
    type State = State;

    fn validate(&self) -> Result<(), String> {
        non_negative(&[("delay", self.delay)])
    }

    fn new_state(&self, _now: Instant) -> State {
        State::default()
    }

    fn push(&self, state: &mut State, piece: Piece, _cx: &mut StageCx<'_>, out: &mut Vec<Piece>) {
        let at = piece.at;
        let Body::Data(data) = piece.body else {
            push_not_before(piece, at, &mut state.last, out);
            return;
        };
        for (bytes, ends_event) in state.events.split(data) {
            let from = state.last.map_or(at, |l| l.max(at));
            let due = if ends_event {
                from + millis(self.delay)
            } else {
                from
            };
            push_not_before(Piece::data(due, bytes), due, &mut state.last, out);
        }
    }
}
