//! `bandwidth`: limits throughput to `rate` KB/s (1 KB = 1000 bytes, as Toxiproxy).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{non_negative, not_before, push_not_before, Behaviour, Body, Piece, StageCx};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Bandwidth {
    /// Kilobytes per second; 0 means unlimited.
    pub rate: i64,
}

impl Behaviour for Bandwidth {
    const NAME: &'static str = "bandwidth";
    /// Virtual clock: when the link finishes sending what it already let through.
    type State = Option<Instant>;

    fn validate(&self) -> Result<(), String> {
        non_negative(&[("rate", self.rate)])
    }

    fn new_state(&self, _now: Instant) -> Self::State {
        None
    }

    fn push(
        &self,
        clock: &mut Self::State,
        piece: Piece,
        _cx: &mut StageCx<'_>,
        out: &mut Vec<Piece>,
    ) {
        let Body::Data(mut data) = piece.body else {
            let due = piece.at;
            push_not_before(piece, due, clock, out);
            return;
        };
        if self.rate <= 0 {
            out.push(Piece::data(not_before(piece.at, clock), data));
            return;
        }
        // Send in slices of 100 ms worth of data so a slow rate trickles rather than bursts.
        let slice = (self.rate as usize).saturating_mul(100).max(1);
        let mut start = not_before(piece.at, clock);
        while !data.is_empty() {
            let part = data.split_to(slice.min(data.len()));
            let nanos = part.len() as u64 * 1_000_000 / self.rate as u64;
            start += Duration::from_nanos(nanos);
            out.push(Piece::data(start, part));
        }
        *clock = Some(start);
    }
}
