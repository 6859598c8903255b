//! `http_latency` (brunt extension): holds a share of HTTP/1.1 requests whose path
//! matches `path` for `latency` ms (plus or minus `jitter`) before they reach the
//! upstream, so their responses arrive that much later. Toxicity is the share of
//! matching requests.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{
    frame_requests, jittered, non_negative, not_before, roll_request, Behaviour, Piece, Scope,
    StageCx,
};
use crate::http_frame::{RequestFramer, Segment};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpLatency {
    /// Milliseconds added to each affected request.
    pub latency: i64,
    /// Milliseconds of random variation, in `[-jitter, jitter)`.
    pub jitter: i64,
    /// Request path pattern (`*` matches anything); empty matches every path.
    pub path: String,
}

#[derive(Debug, Default)]
pub struct State {
    framer: RequestFramer,
    last: Option<Instant>,
}

impl Behaviour for HttpLatency {
    const NAME: &'static str = "http_latency";
    const SCOPE: Scope = Scope::Requests;
    type State = State;

    fn validate(&self) -> Result<(), String> {
        non_negative(&[("latency", self.latency), ("jitter", self.jitter)])
    }

    fn new_state(&self, _now: Instant) -> State {
        State::default()
    }

    fn push(&self, state: &mut State, piece: Piece, cx: &mut StageCx<'_>, out: &mut Vec<Piece>) {
        let at = piece.at;
        let (segments, other) = frame_requests(&mut state.framer, piece.body);
        for segment in segments {
            match segment {
                Segment::Head { bytes, path } => {
                    let mut due = at;
                    if roll_request(&self.path, &path, cx) {
                        due += jittered(self.latency, self.jitter, cx);
                    }
                    out.push(Piece::data(not_before(due, &mut state.last), bytes));
                }
                Segment::Body(bytes) | Segment::Opaque(bytes) => {
                    out.push(Piece::data(not_before(at, &mut state.last), bytes));
                }
                Segment::End => {}
            }
        }
        if let Some(body) = other {
            let at = not_before(at, &mut state.last);
            out.push(Piece { at, body });
        }
    }
}
