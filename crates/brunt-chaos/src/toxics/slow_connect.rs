//! `slow_connect` (brunt extension): waits `delay` ms (plus or minus `jitter`)
//! after accepting a client before dialing the upstream, as a slow or overloaded
//! server's accept queue would. Acts on new connections only; `stream` is ignored.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{millis, non_negative, Behaviour, Piece, Scope, StageCx};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SlowConnect {
    /// Milliseconds before the upstream is dialed.
    pub delay: i64,
    /// Milliseconds of random variation, in `[-jitter, jitter)`.
    pub jitter: i64,
}

impl Behaviour for SlowConnect {
    const NAME: &'static str = "slow_connect";
    const SCOPE: Scope = Scope::Connect;
    type State = ();

    fn validate(&self) -> Result<(), String> {
        non_negative(&[("delay", self.delay), ("jitter", self.jitter)])
    }

    fn new_state(&self, _now: Instant) {}

    fn push(&self, _state: &mut (), piece: Piece, _cx: &mut StageCx<'_>, out: &mut Vec<Piece>) {
        out.push(piece);
    }

    fn connect_delay(&self, rng: &mut SmallRng) -> Duration {
        let mut ms = self.delay;
        if self.jitter > 0 {
            ms += rng.random_range(-self.jitter..self.jitter);
        }
        millis(ms)
    }
}
