//! `http_reset` (brunt extension): for a share of HTTP/1.1 requests whose path
//! matches `path`, lets `after_bytes` bytes of the response reach the client and
//! then resets the connection (TCP RST), cutting the response short. Toxicity is
//! the share of matching requests.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{frame_requests, roll_request, Action, Behaviour, Piece, Scope, StageCx};
use crate::http_frame::{RequestFramer, Segment};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpReset {
    /// Response bytes let through before the reset; 0 resets before any byte.
    pub after_bytes: u64,
    /// Request path pattern (`*` matches anything); empty matches every path.
    pub path: String,
}

impl Behaviour for HttpReset {
    const NAME: &'static str = "http_reset";
    const SCOPE: Scope = Scope::Requests;
    type State = RequestFramer;

    fn new_state(&self, _now: Instant) -> RequestFramer {
        RequestFramer::default()
    }

    fn push(
        &self,
        framer: &mut RequestFramer,
        piece: Piece,
        cx: &mut StageCx<'_>,
        out: &mut Vec<Piece>,
    ) {
        let at = piece.at;
        let (segments, other) = frame_requests(framer, piece.body);
        for segment in segments {
            match segment {
                Segment::Head { bytes, path } => {
                    if roll_request(&self.path, &path, cx) {
                        out.push(Piece::act(at, Action::ArmReset(self.after_bytes)));
                    }
                    out.push(Piece::data(at, bytes));
                }
                Segment::Body(bytes) | Segment::Opaque(bytes) => out.push(Piece::data(at, bytes)),
                Segment::End => {}
            }
        }
        if let Some(body) = other {
            out.push(Piece { at, body });
        }
    }
}
