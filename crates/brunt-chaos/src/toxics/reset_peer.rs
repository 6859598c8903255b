//! `reset_peer`: on the first data (or close) from the source, waits `timeout` ms
//! and then resets the connection (TCP RST); the data is discarded.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{millis, non_negative, Action, Behaviour, Piece, StageCx};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResetPeer {
    /// Milliseconds between the first data and the reset; 0 resets at once.
    pub timeout: i64,
}

impl Behaviour for ResetPeer {
    const NAME: &'static str = "reset_peer";
    /// Whether the reset is already scheduled.
    type State = bool;

    fn validate(&self) -> Result<(), String> {
        non_negative(&[("timeout", self.timeout)])
    }

    fn new_state(&self, _now: Instant) -> bool {
        false
    }

    fn push(&self, fired: &mut bool, piece: Piece, _cx: &mut StageCx<'_>, out: &mut Vec<Piece>) {
        if !*fired {
            *fired = true;
            out.push(Piece::act(piece.at + millis(self.timeout), Action::Reset));
        }
    }
}
