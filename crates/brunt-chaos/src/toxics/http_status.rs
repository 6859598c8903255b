//! `http_status` (brunt extension): answers a share of HTTP/1.1 requests itself
//! with `status` (e.g. 429 with `retry_after`, or 503), without the request
//! reaching the upstream. Toxicity is the share of matching requests.

use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{frame_requests, roll_request, Action, Behaviour, Piece, Scope, StageCx};
use crate::http_frame::{RequestFramer, Segment};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpStatus {
    /// Status code of the injected response.
    pub status: u16,
    /// `Retry-After` value in seconds; 0 sends no such header.
    pub retry_after: u64,
    /// Response body.
    pub body: String,
    /// Request path pattern (`*` matches anything); empty matches every path.
    pub path: String,
}

impl Default for HttpStatus {
    fn default() -> Self {
        Self {
            status: 503,
            retry_after: 0,
            body: String::new(),
            path: String::new(),
        }
    }
}

impl HttpStatus {
    fn response(&self) -> Bytes {
        let reason = http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let retry = if self.retry_after > 0 {
            format!("retry-after: {}\r\n", self.retry_after)
        } else {
            String::new()
        };
        Bytes::from(format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n{retry}x-brunt-chaos: http_status\r\n\r\n{}",
            self.status,
            self.body.len(),
            self.body
        ))
    }
}

#[derive(Debug, Default)]
pub struct State {
    framer: RequestFramer,
    /// The current request is being swallowed and answered here.
    answering: bool,
}

impl Behaviour for HttpStatus {
    const NAME: &'static str = "http_status";
    const SCOPE: Scope = Scope::Requests;
    type State = State;

    fn new_state(&self, _now: Instant) -> State {
        State::default()
    }

    fn validate(&self) -> Result<(), String> {
        if (100..=999).contains(&self.status) {
            Ok(())
        } else {
            Err(format!(
                "status {} is not a valid HTTP status code",
                self.status
            ))
        }
    }

    fn push(&self, state: &mut State, piece: Piece, cx: &mut StageCx<'_>, out: &mut Vec<Piece>) {
        let at = piece.at;
        let (segments, other) = frame_requests(&mut state.framer, piece.body);
        for segment in segments {
            match segment {
                Segment::Head { bytes, path } => {
                    state.answering = roll_request(&self.path, &path, cx);
                    if !state.answering {
                        out.push(Piece::data(at, bytes));
                    }
                }
                Segment::Body(bytes) if !state.answering => out.push(Piece::data(at, bytes)),
                Segment::Body(_) => {}
                Segment::End if state.answering => {
                    state.answering = false;
                    out.push(Piece::act(at, Action::Respond(self.response())));
                }
                Segment::End => {}
                Segment::Opaque(bytes) => out.push(Piece::data(at, bytes)),
            }
        }
        if let Some(body) = other {
            out.push(Piece { at, body });
        }
    }
}
