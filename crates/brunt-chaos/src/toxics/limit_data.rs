//! `limit_data`: lets `bytes` bytes through, then closes the connection.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{non_negative, Action, Behaviour, Body, Piece, StageCx};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitData {
    /// Bytes allowed through before the close.
    pub bytes: i64,
}

#[derive(Debug, Default)]
pub struct State {
    /// Bytes already let through on this connection, kept across updates.
    sent: u64,
    closed: bool,
}

impl Behaviour for LimitData {
    const NAME: &'static str = "limit_data";
    type State = State;

    fn validate(&self) -> Result<(), String> {
        non_negative(&[("bytes", self.bytes)])
    }

    fn new_state(&self, _now: Instant) -> State {
        State::default()
    }

    fn push(&self, state: &mut State, piece: Piece, _cx: &mut StageCx<'_>, out: &mut Vec<Piece>) {
        if state.closed {
            return;
        }
        let Body::Data(mut data) = piece.body else {
            out.push(piece);
            return;
        };
        let limit = self.bytes.max(0) as u64;
        let room = limit.saturating_sub(state.sent) as usize;
        data.truncate(room);
        if !data.is_empty() {
            state.sent += data.len() as u64;
            out.push(Piece::data(piece.at, data));
        }
        if state.sent >= limit {
            state.closed = true;
            out.push(Piece::act(piece.at, Action::Close));
        }
    }
}
