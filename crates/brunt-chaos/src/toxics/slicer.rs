//! `slicer`: cuts each chunk into smaller ones of about `average_size` bytes
//! (plus or minus `size_variation`), `delay` microseconds apart.

use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{non_negative, not_before, push_not_before, Behaviour, Body, Piece, StageCx};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Slicer {
    /// Average slice size in bytes.
    pub average_size: i64,
    /// Random variation of the slice size in bytes; should be below `average_size`.
    pub size_variation: i64,
    /// Microseconds between slices.
    pub delay: i64,
}

impl Slicer {
    /// Cut points for `[start, end)`: halves recursively, moving each cut by up to
    /// `size_variation`, until a part is within the variation of the average.
    fn cuts(&self, start: usize, end: usize, cx: &mut StageCx<'_>, out: &mut Vec<usize>) {
        let average = self.average_size.max(1) as usize;
        let variation = self.size_variation.max(0) as usize;
        if end - start <= average + variation || end - start < 2 {
            out.push(end);
            return;
        }
        let mut mid = start + (end - start) / 2;
        if variation > 0 {
            let shift = cx.rng.random_range(0..variation * 2) as isize - variation as isize;
            mid = (mid as isize + shift).clamp(start as isize + 1, end as isize - 1) as usize;
        }
        self.cuts(start, mid, cx, out);
        self.cuts(mid, end, cx, out);
    }
}

impl Behaviour for Slicer {
    const NAME: &'static str = "slicer";
    type State = Option<Instant>;

    fn validate(&self) -> Result<(), String> {
        non_negative(&[
            ("average_size", self.average_size),
            ("size_variation", self.size_variation),
            ("delay", self.delay),
        ])
    }

    fn new_state(&self, _now: Instant) -> Self::State {
        None
    }

    fn push(
        &self,
        clock: &mut Self::State,
        piece: Piece,
        cx: &mut StageCx<'_>,
        out: &mut Vec<Piece>,
    ) {
        let Body::Data(mut data) = piece.body else {
            let due = piece.at;
            push_not_before(piece, due, clock, out);
            return;
        };
        let mut cuts = Vec::new();
        self.cuts(0, data.len(), cx, &mut cuts);
        let gap = Duration::from_micros(self.delay.max(0) as u64);
        let mut at = not_before(piece.at, clock);
        let mut done = 0;
        for cut in cuts {
            out.push(Piece::data(at, data.split_to(cut - done)));
            done = cut;
            at += gap;
        }
        *clock = Some(at);
    }
}
