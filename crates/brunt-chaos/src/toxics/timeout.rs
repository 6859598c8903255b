//! `timeout`: swallows all data; closes the connection once no data has arrived
//! for `timeout` ms (0 = hold it open forever). Removing the toxic closes the
//! connections it held, as in Toxiproxy.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{millis, non_negative, Action, Behaviour, Body, Piece, StageCx};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeout {
    /// Milliseconds of silence before the connection is closed; 0 never closes.
    pub timeout: i64,
}

#[derive(Debug)]
pub struct State {
    deadline: Option<Instant>,
    closed: bool,
}

impl Timeout {
    fn deadline_from(&self, from: Instant) -> Option<Instant> {
        (self.timeout > 0).then(|| from + millis(self.timeout))
    }
}

impl Behaviour for Timeout {
    const NAME: &'static str = "timeout";
    type State = State;

    fn validate(&self) -> Result<(), String> {
        non_negative(&[("timeout", self.timeout)])
    }

    fn new_state(&self, now: Instant) -> State {
        State {
            deadline: self.deadline_from(now),
            closed: false,
        }
    }

    fn push(&self, state: &mut State, piece: Piece, _cx: &mut StageCx<'_>, out: &mut Vec<Piece>) {
        match piece.body {
            Body::Data(_) => state.deadline = self.deadline_from(piece.at),
            _ => out.push(piece),
        }
    }

    fn deadline(&self, state: &State) -> Option<Instant> {
        state.deadline.filter(|_| !state.closed)
    }

    fn on_deadline(&self, state: &mut State, now: Instant, out: &mut Vec<Piece>) {
        state.closed = true;
        out.push(Piece::act(now, Action::Close));
    }

    fn on_remove(&self, state: &mut State, now: Instant, out: &mut Vec<Piece>) {
        self.on_deadline(state, now, out);
    }

    fn on_update(&self, state: &mut State, now: Instant) {
        state.deadline = self.deadline_from(now);
    }
}
