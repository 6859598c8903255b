//! `latency`: delays every chunk by `latency` ms, plus or minus up to `jitter` ms.

use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{millis, not_before, Behaviour, Body, Piece, StageCx};

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
        let mut ms = self.latency;
        if self.jitter > 0 {
            ms += cx.rng.random_range(-self.jitter..self.jitter);
        }
        millis(ms)
    }
}

impl Behaviour for Latency {
    const NAME: &'static str = "latency";
    /// When the last piece left: later pieces never overtake it.
    type State = Option<Instant>;

    fn new_state(&self, _now: Instant) -> Self::State {
        None
    }

    fn push(
        &self,
        last: &mut Self::State,
        mut piece: Piece,
        cx: &mut StageCx<'_>,
        out: &mut Vec<Piece>,
    ) {
        let due = match piece.body {
            Body::Data(_) => piece.at + self.delay(cx),
            _ => piece.at,
        };
        piece.at = not_before(due, last);
        out.push(piece);
    }
}
