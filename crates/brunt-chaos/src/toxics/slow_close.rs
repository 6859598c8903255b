//! `slow_close`: holds the close (FIN) back for `delay` ms after the source closed.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{millis, non_negative, push_not_before, Behaviour, Body, Piece, StageCx};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SlowClose {
    /// Milliseconds to hold the close.
    pub delay: i64,
}

impl Behaviour for SlowClose {
    const NAME: &'static str = "slow_close";
    type State = Option<Instant>;

    fn validate(&self) -> Result<(), String> {
        non_negative(&[("delay", self.delay)])
    }

    fn new_state(&self, _now: Instant) -> Self::State {
        None
    }

    fn push(
        &self,
        last: &mut Self::State,
        piece: Piece,
        _cx: &mut StageCx<'_>,
        out: &mut Vec<Piece>,
    ) {
        let due = match piece.body {
            Body::Eof => piece.at + millis(self.delay),
            _ => piece.at,
        };
        push_not_before(piece, due, last, out);
    }
}
