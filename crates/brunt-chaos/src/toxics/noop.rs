//! `noop`: passes everything through. Toxiproxy registers it as a type too.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{Behaviour, Piece, StageCx};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Noop {}

impl Behaviour for Noop {
    const NAME: &'static str = "noop";
    type State = ();

    fn new_state(&self, _now: Instant) {}

    fn push(&self, _state: &mut (), piece: Piece, _cx: &mut StageCx<'_>, out: &mut Vec<Piece>) {
        out.push(piece);
    }
}
