//! `sse_cut` (brunt extension): cuts a server-sent event stream mid-way. After `events` whole
//! events (bytes up to a blank line, `\n\n`) have passed on the connection, the rest is dropped
//! and the connection reset, as a server that dies while streaming. Use it on `downstream`;
//! `toxicity` is the share of connections cut.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{non_negative, Action, Behaviour, Body, EventSplitter, Piece, StageCx};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SseCut {
    /// Events let through before the cut.
    pub events: i64,
}

#[derive(Debug, Default)]
pub struct State {
    events: EventSplitter,
    passed: u64,
    cut: bool,
}

impl Behaviour for SseCut {
    const NAME: &'static str = "sse_cut";
    type State = State;

    fn validate(&self) -> Result<(), String> {
        non_negative(&[("events", self.events)])
    }

    fn new_state(&self, _now: Instant) -> State {
        State::default()
    }

    fn push(&self, state: &mut State, piece: Piece, _cx: &mut StageCx<'_>, out: &mut Vec<Piece>) {
        if state.cut {
            return;
        }
        let Body::Data(data) = piece.body else {
            out.push(piece);
            return;
        };
        let limit = self.events.max(0) as u64;
        if state.passed >= limit {
            state.cut = true;
            out.push(Piece::act(piece.at, Action::Reset));
            return;
        }
        for (bytes, ends_event) in state.events.split(data) {
            out.push(Piece::data(piece.at, bytes));
            state.passed += u64::from(ends_event);
            if state.passed >= limit {
                state.cut = true;
                out.push(Piece::act(piece.at, Action::Reset));
                return;
            }
        }
    }
}
