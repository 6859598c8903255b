//! `loss_rate` (brunt extension): discards each chunk with probability `rate`,
//! so the peer sees a stream with holes. Toxicity picks the share of connections
//! that suffer it; `rate: 1` on `toxicity: 0.1` drops everything on 10% of them.

use std::time::Instant;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{probability, Behaviour, Body, Piece, StageCx};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LossRate {
    /// Probability in `[0, 1]` that a chunk is dropped.
    pub rate: f64,
}

impl Behaviour for LossRate {
    const NAME: &'static str = "loss_rate";
    type State = ();

    fn validate(&self) -> Result<(), String> {
        probability("attributes.rate", self.rate)
    }

    fn new_state(&self, _now: Instant) {}

    fn push(&self, _state: &mut (), piece: Piece, cx: &mut StageCx<'_>, out: &mut Vec<Piece>) {
        if matches!(piece.body, Body::Data(_)) && cx.rng.random::<f64>() < self.rate {
            return;
        }
        out.push(piece);
    }
}
