//! Streaming response bodies: a [`BodySink`] receives a body piece by piece, each piece with the
//! instant its bytes were read off the connection, instead of the client buffering the whole
//! body. LLM token streams and server-sent events are measured from these stamps.

use http::HeaderMap;
use std::ops::ControlFlow;
use std::time::Instant;

/// Receives one response as it arrives, for [`Client::send_streaming`](crate::Client::send_streaming).
pub trait BodySink {
    /// The response head (status and headers), before any body byte. Interim (1xx) responses
    /// are skipped.
    fn head(&mut self, status: u16, headers: &HeaderMap);

    /// Body bytes (decoded from chunked framing) as they arrived; `at` is when the read that
    /// brought them completed. Returning `Break` stops reading: the response ends there and
    /// its connection is closed rather than reused.
    fn data(&mut self, at: Instant, bytes: &[u8]) -> ControlFlow<()>;
}
