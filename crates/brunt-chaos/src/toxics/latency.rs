//! `latency`: delays every chunk by `latency` ms, plus or minus up to `jitter` ms.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{jittered, non_negative, push_not_before, Behaviour, Body, Piece, StageCx};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    /// Milliseconds added to each chunk.
    pub latency: i64,
    /// Milliseconds of random variation, in `[-jitter, jitter)`.
    pub jitter: i64,
}

impl Latency {
    fn delay(&self, cx: &mut StageCx<'_>) -> Duration {
        jittered(self.latency, self.jitter, cx)
    }
}

impl Behaviour for Latency {
    const NAME: &'static str = "latency";
    /// When the last piece left: later pieces never overtake it.
    type State = Option<Instant>;

    fn validate(&self) -> Result<(), String> {
        non_negative(&[("latency", self.latency), ("jitter", self.jitter)])
    }

    fn new_state(&self, _now: Instant) -> Self::State {
        None
    }

    fn push(
        &self,
        last: &mut Self::State,
        piece: Piece,
        cx: &mut StageCx<'_>,
        out: &mut Vec<Piece>,
    ) {
        let due = match piece.body {
            Body::Data(_) => piece.at + self.delay(cx),
            _ => piece.at,
        };
        push_not_before(piece, due, last, out);
    }
}
