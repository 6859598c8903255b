//! Toxics: one module per type, each a stage in a per-connection, per-direction
//! pipeline of byte chunks.
//!
//! A stage never sleeps itself. It stamps each [`Piece`] with the instant it may
//! leave the stage (`at`), computed from the instant it arrived, and the link
//! writes pieces in order once their instant has come. Because every stage is
//! FIFO and works from timestamps, running the stages one after another per
//! chunk gives the same schedule as Toxiproxy's goroutine-per-stage pipeline,
//! without a task or a channel hop per stage.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::SmallRng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

mod bandwidth;
mod http_latency;
mod http_reset;
mod http_status;
mod latency;
mod limit_data;
mod loss_rate;
mod noop;
mod reset_peer;
mod slicer;
mod slow_close;
mod slow_connect;
mod sse_cut;
mod sse_delay;
mod timeout;

/// Which way data flows through a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    Upstream,
    /// Server to client.
    Downstream,
}

impl Direction {
    /// Parses a `stream` value the way Toxiproxy does (case-insensitive).
    pub fn parse(stream: &str) -> Option<Self> {
        match stream.to_ascii_lowercase().as_str() {
            "upstream" => Some(Self::Upstream),
            "downstream" => Some(Self::Downstream),
            _ => None,
        }
    }

    /// The lower-case name used in JSON and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upstream => "upstream",
            Self::Downstream => "downstream",
        }
    }
}

/// Where a toxic takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// A stage in the link of the toxic's own stream; toxicity is rolled once per connection.
    Stream,
    /// A stage that reads HTTP/1.1 requests (client to server, whatever `stream` says);
    /// toxicity is rolled once per request.
    Requests,
    /// Acts when a connection is opened, before any data flows.
    Connect,
}

/// A unit travelling through a link.
#[derive(Debug)]
pub(crate) struct Piece {
    /// When the piece may leave the stage that last stamped it.
    pub at: Instant,
    pub body: Body,
}

#[derive(Debug)]
pub(crate) enum Body {
    Data(Bytes),
    /// The source closed its sending side; becomes a FIN to the destination.
    Eof,
    Act(Action),
}

/// Something a toxic makes happen to the whole connection.
#[derive(Debug)]
pub(crate) enum Action {
    /// Close both sides gracefully (FIN).
    Close,
    /// Close both sides with TCP RST.
    Reset,
    /// Send these bytes to the client as a response (from the client-to-server link).
    Respond(Bytes),
    /// Let this many further response bytes reach the client, then reset the connection.
    ArmReset(u64),
}

impl Piece {
    pub fn data(at: Instant, data: Bytes) -> Self {
        Self {
            at,
            body: Body::Data(data),
        }
    }

    pub fn act(at: Instant, action: Action) -> Self {
        Self {
            at,
            body: Body::Act(action),
        }
    }
}

/// Per-connection context handed to a stage.
pub(crate) struct StageCx<'a> {
    /// Seeded per (proxy, connection, toxic): reproducible with `--seed`.
    pub rng: &'a mut SmallRng,
    /// The toxic's toxicity, for toxics that roll per request.
    pub toxicity: f32,
}

/// Behaviour of one toxic type: its attributes (the JSON `attributes` object) and
/// how a stage with those attributes transforms pieces.
pub(crate) trait Behaviour:
    Clone + Default + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The Toxiproxy `type` name.
    const NAME: &'static str;
    const SCOPE: Scope = Scope::Stream;
    /// Per-connection state, kept across attribute updates.
    type State: Send + 'static;

    fn new_state(&self, now: Instant) -> Self::State;

    /// Checks attribute values beyond their JSON types.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// Takes one piece, pushes zero or more pieces with `at` not earlier than any
    /// piece this stage pushed before.
    fn push(
        &self,
        state: &mut Self::State,
        piece: Piece,
        cx: &mut StageCx<'_>,
        out: &mut Vec<Piece>,
    );

    /// A moment at which the stage wants [`Behaviour::on_deadline`] called even without input.
    fn deadline(&self, _state: &Self::State) -> Option<Instant> {
        None
    }

    fn on_deadline(&self, _state: &mut Self::State, _now: Instant, _out: &mut Vec<Piece>) {}

    /// Called on a live connection when the toxic is removed from the proxy.
    fn on_remove(&self, _state: &mut Self::State, _now: Instant, _out: &mut Vec<Piece>) {}

    /// Called after new attributes were applied to a live connection.
    fn on_update(&self, _state: &mut Self::State, _now: Instant) {}

    /// Delay before dialing the upstream, for [`Scope::Connect`] toxics.
    fn connect_delay(&self, _rng: &mut SmallRng) -> Duration {
        Duration::ZERO
    }
}

/// A running stage, type-erased.
pub(crate) trait Stage: Send {
    fn push(&mut self, piece: Piece, cx: &mut StageCx<'_>, out: &mut Vec<Piece>);
    fn deadline(&self) -> Option<Instant>;
    fn on_deadline(&mut self, now: Instant, out: &mut Vec<Piece>);
    fn on_remove(&mut self, now: Instant, out: &mut Vec<Piece>);
    fn update(&mut self, kind: &ToxicKind, now: Instant);
}

struct Running<B: Behaviour> {
    attrs: B,
    state: B::State,
}

/// Extracts a behaviour's attributes from the enum of all kinds.
trait FromKind: Sized {
    fn from_kind(kind: &ToxicKind) -> Option<&Self>;
}

impl<B: Behaviour + FromKind> Stage for Running<B> {
    fn push(&mut self, piece: Piece, cx: &mut StageCx<'_>, out: &mut Vec<Piece>) {
        self.attrs.push(&mut self.state, piece, cx, out);
    }

    fn deadline(&self) -> Option<Instant> {
        self.attrs.deadline(&self.state)
    }

    fn on_deadline(&mut self, now: Instant, out: &mut Vec<Piece>) {
        self.attrs.on_deadline(&mut self.state, now, out);
    }

    fn on_remove(&mut self, now: Instant, out: &mut Vec<Piece>) {
        self.attrs.on_remove(&mut self.state, now, out);
    }

    fn update(&mut self, kind: &ToxicKind, now: Instant) {
        if let Some(attrs) = B::from_kind(kind) {
            self.attrs = attrs.clone();
            self.attrs.on_update(&mut self.state, now);
        }
    }
}

/// Why a toxic's type or attributes were rejected.
#[derive(Debug)]
pub(crate) enum KindError {
    UnknownType,
    Attributes(String),
}

macro_rules! toxic_kinds {
    ($($variant:ident => $module:ident :: $ty:ident),* $(,)?) => {
        /// A toxic's type together with its attributes.
        #[derive(Clone, Debug)]
        pub enum ToxicKind {
            $(#[allow(missing_docs)] $variant($module::$ty),)*
        }

        $(impl FromKind for $module::$ty {
            fn from_kind(kind: &ToxicKind) -> Option<&Self> {
                match kind {
                    ToxicKind::$variant(attrs) => Some(attrs),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        })*

        /// Serializes as the `attributes` object, fields in declaration order as Go writes them.
        impl Serialize for ToxicKind {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Self::$variant(a) => a.serialize(s),)*
                }
            }
        }

        /// Every toxic type name this proxy knows.
        pub const TOXIC_TYPES: &[&str] = &[$(<$module::$ty as Behaviour>::NAME),*];

        impl ToxicKind {
            /// The Toxiproxy `type` name.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$module::$ty as Behaviour>::NAME,)*
                }
            }

            /// The `attributes` object as JSON.
            pub fn attributes(&self) -> Value {
                match self {
                    $(Self::$variant(a) => serde_json::to_value(a).unwrap_or(Value::Null),)*
                }
            }

            /// Whether `type_name` names a known toxic.
            pub(crate) fn known(type_name: &str) -> bool {
                TOXIC_TYPES.contains(&type_name)
            }

            /// Builds a kind from its type name and an optional `attributes` object;
            /// missing attributes take their zero value, as in Toxiproxy.
            pub(crate) fn parse(type_name: &str, attributes: Option<&Value>) -> Result<Self, KindError> {
                let attributes = match attributes {
                    None | Some(Value::Null) => Value::Object(Default::default()),
                    Some(v) => v.clone(),
                };
                match type_name {
                    $(<$module::$ty as Behaviour>::NAME => {
                        let attrs: $module::$ty = serde_path_to_error::deserialize(attributes)
                            .map_err(|e| KindError::Attributes(format!("attributes.{}: {}", e.path(), e.inner())))?;
                        attrs.validate().map_err(KindError::Attributes)?;
                        Ok(Self::$variant(attrs))
                    })*
                    _ => Err(KindError::UnknownType),
                }
            }

            pub(crate) fn scope(&self) -> Scope {
                match self {
                    $(Self::$variant(_) => <$module::$ty as Behaviour>::SCOPE,)*
                }
            }

            pub(crate) fn stage(&self, now: Instant) -> Box<dyn Stage> {
                match self {
                    $(Self::$variant(a) => Box::new(Running { attrs: a.clone(), state: a.new_state(now) }),)*
                }
            }

            pub(crate) fn connect_delay(&self, rng: &mut SmallRng) -> Duration {
                match self {
                    $(Self::$variant(a) => a.connect_delay(rng),)*
                }
            }
        }
    };
}

toxic_kinds! {
    Noop => noop::Noop,
    Latency => latency::Latency,
    Bandwidth => bandwidth::Bandwidth,
    SlowClose => slow_close::SlowClose,
    Timeout => timeout::Timeout,
    ResetPeer => reset_peer::ResetPeer,
    Slicer => slicer::Slicer,
    LimitData => limit_data::LimitData,
    LossRate => loss_rate::LossRate,
    SlowConnect => slow_connect::SlowConnect,
    HttpStatus => http_status::HttpStatus,
    HttpLatency => http_latency::HttpLatency,
    HttpReset => http_reset::HttpReset,
    SseDelay => sse_delay::SseDelay,
    SseCut => sse_cut::SseCut,
}

impl ToxicKind {
    /// Applies a partial `attributes` object on top of the current ones: fields
    /// present in `patch` change, the others keep their value (Toxiproxy decodes the
    /// update into the existing attributes).
    pub(crate) fn merged(&self, patch: Option<&Value>) -> Result<Self, KindError> {
        let mut current = self.attributes();
        if let (Value::Object(into), Some(Value::Object(from))) = (&mut current, patch) {
            for (k, v) in from {
                into.insert(k.clone(), v.clone());
            }
        }
        Self::parse(self.type_name(), Some(&current))
    }
}

/// Refuses negative durations, sizes and rates, naming the first such attribute.
/// Toxiproxy takes them silently (as no delay, or no limit), which hides a typo.
pub(crate) fn non_negative(attributes: &[(&str, i64)]) -> Result<(), String> {
    match attributes.iter().find(|(_, v)| *v < 0) {
        Some((name, v)) => Err(format!("attributes.{name} must not be negative, got {v}")),
        None => Ok(()),
    }
}

/// Refuses a probability outside `[0, 1]`, naming the field.
pub(crate) fn probability<T>(field: &str, v: T) -> Result<(), String>
where
    T: PartialOrd + From<u8> + std::fmt::Display,
{
    if v >= T::from(0) && v <= T::from(1) {
        Ok(())
    } else {
        Err(format!("{field} must be between 0 and 1, got {v}"))
    }
}

/// Milliseconds from a Toxiproxy integer attribute; negative values (a jitter
/// larger than the latency) count as zero.
pub(crate) fn millis(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

/// Splits a byte stream at the ends of server-sent events (a blank line: `\n\n`, whose two
/// line feeds may arrive in different chunks), for the SSE toxics.
#[derive(Debug, Default)]
pub(crate) struct EventSplitter {
    /// The last byte seen was a line feed.
    after_lf: bool,
}

impl EventSplitter {
    /// `data` cut after each event's end: each part, and whether it ends an event.
    pub(crate) fn split(&mut self, data: Bytes) -> Vec<(Bytes, bool)> {
        let mut parts = Vec::new();
        let mut from = 0;
        for (i, &b) in data.iter().enumerate() {
            let ends = b == b'\n' && self.after_lf;
            self.after_lf = b == b'\n' && !ends;
            if ends {
                parts.push((data.slice(from..=i), true));
                from = i + 1;
            }
        }
        if from < data.len() {
            parts.push((data.slice(from..), false));
        }
        parts
    }
}

/// A piece leaving a FIFO stage may not overtake what the stage emitted before.
pub(crate) fn not_before(at: Instant, last: &mut Option<Instant>) -> Instant {
    let at = match *last {
        Some(l) if l > at => l,
        _ => at,
    };
    *last = Some(at);
    at
}

/// Stamps `piece` with `due`, or later if that would overtake what the stage
/// emitted before, and emits it.
pub(crate) fn push_not_before(
    mut piece: Piece,
    due: Instant,
    last: &mut Option<Instant>,
    out: &mut Vec<Piece>,
) {
    piece.at = not_before(due, last);
    out.push(piece);
}

/// `latency` ms plus a random variation in `[-jitter, jitter)` when `jitter` is positive.
pub(crate) fn jittered(latency: i64, jitter: i64, cx: &mut StageCx<'_>) -> Duration {
    use rand::Rng;
    let mut ms = latency;
    if jitter > 0 {
        ms += cx.rng.random_range(-jitter..jitter);
    }
    millis(ms)
}

/// Feeds a piece's body to an HTTP request framer: data comes back as segments;
/// anything else flushes a partly buffered head and comes back as itself.
pub(crate) fn frame_requests(
    framer: &mut crate::http_frame::RequestFramer,
    body: Body,
) -> (Vec<crate::http_frame::Segment>, Option<Body>) {
    let mut segments = Vec::new();
    let other = match body {
        Body::Data(data) => {
            framer.feed(data, &mut segments);
            None
        }
        other => {
            framer.flush(&mut segments);
            Some(other)
        }
    };
    (segments, other)
}

/// Decides whether an HTTP-aware toxic acts on a request.
pub(crate) fn roll_request(pattern: &str, path: &str, cx: &mut StageCx<'_>) -> bool {
    use rand::Rng;
    path_matches(pattern, path) && cx.rng.random::<f32>() < cx.toxicity
}

/// Matches a request path against a pattern where `*` stands for any run of
/// characters; an empty pattern matches every path.
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    if pattern.is_empty() {
        return true;
    }
    let path = path.split('?').next().unwrap_or(path);
    let (p, s) = (pattern.as_bytes(), path.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_at_blank_lines_across_chunks() {
        let mut s = EventSplitter::default();
        let parts = s.split(Bytes::from_static(b"data: a\n\ndata: b\n"));
        assert_eq!(
            parts,
            [
                (Bytes::from_static(b"data: a\n\n"), true),
                (Bytes::from_static(b"data: b\n"), false)
            ]
        );
        assert_eq!(
            s.split(Bytes::from_static(b"\n\r\n")),
            [
                (Bytes::from_static(b"\n"), true),
                (Bytes::from_static(b"\r\n"), false)
            ]
        );
    }

    fn stamps(kind: &ToxicKind, chunks: &[(u64, &'static [u8])]) -> Vec<(u64, String)> {
        let t0 = Instant::now();
        let mut stage = kind.stage(t0);
        let mut rng = <SmallRng as rand::SeedableRng>::seed_from_u64(1);
        let mut cx = StageCx {
            rng: &mut rng,
            toxicity: 1.0,
        };
        let mut out = Vec::new();
        for &(ms, bytes) in chunks {
            let piece = Piece::data(t0 + Duration::from_millis(ms), Bytes::from_static(bytes));
            stage.push(piece, &mut cx, &mut out);
        }
        out.iter()
            .map(|p| {
                let ms = p.at.duration_since(t0).as_millis() as u64;
                match &p.body {
                    Body::Data(b) => (ms, String::from_utf8_lossy(b).into_owned()),
                    Body::Act(a) => (ms, format!("{a:?}")),
                    Body::Eof => (ms, "eof".into()),
                }
            })
            .collect()
    }

    #[test]
    fn sse_delay_spaces_events_and_sse_cut_resets_after_n() {
        let delay = ToxicKind::parse("sse_delay", Some(&serde_json::json!({"delay": 20}))).unwrap();
        // Events arriving 5 ms apart leave 20 ms apart; the first 20 ms late; the bytes of an
        // unfinished event pass at once.
        let got = stamps(
            &delay,
            &[
                (0, b"HTTP/1.1 200 OK\r\n\r\ndata: 1\n\n"),
                (5, b"data: 2\n\nda"),
                (10, b"ta: 3\n\n"),
                (100, b"data: 4\n\n"),
            ],
        );
        let at: Vec<u64> = got.iter().map(|(ms, _)| *ms).collect();
        assert_eq!(at, [20, 40, 40, 60, 120], "{got:?}");
        let cut = ToxicKind::parse("sse_cut", Some(&serde_json::json!({"events": 2}))).unwrap();
        let got = stamps(
            &cut,
            &[
                (0, b"data: 1\n\ndata: 2\n\ndata: 3\n\n"),
                (5, b"data: 4\n\n"),
            ],
        );
        let bodies: Vec<&str> = got.iter().map(|(_, b)| b.as_str()).collect();
        assert_eq!(bodies, ["data: 1\n\n", "data: 2\n\n", "Reset"]);
        assert!(ToxicKind::parse("sse_delay", Some(&serde_json::json!({"delay": -1}))).is_err());
    }

    #[test]
    fn path_patterns() {
        assert!(path_matches("", "/anything"));
        assert!(path_matches("/api/*", "/api/orders?id=3"));
        assert!(path_matches("*/slow", "/v1/slow"));
        assert!(path_matches("/a*c*e", "/abcde"));
        assert!(!path_matches("/api/*", "/health"));
        assert!(!path_matches("/exact", "/exact/more"));
    }

    #[test]
    fn unknown_type_and_bad_attributes_are_rejected() {
        assert!(matches!(
            ToxicKind::parse("nope", None),
            Err(KindError::UnknownType)
        ));
        let bad = serde_json::json!({"latency": "slow"});
        assert!(matches!(
            ToxicKind::parse("latency", Some(&bad)),
            Err(KindError::Attributes(_))
        ));
    }

    #[test]
    fn merge_keeps_absent_attributes() {
        let k = ToxicKind::parse(
            "latency",
            Some(&serde_json::json!({"latency": 100, "jitter": 5})),
        )
        .unwrap();
        let k = k
            .merged(Some(&serde_json::json!({"latency": 200})))
            .unwrap();
        assert_eq!(
            k.attributes(),
            serde_json::json!({"latency": 200, "jitter": 5})
        );
    }

    #[test]
    fn every_type_parses_with_no_attributes() {
        for name in TOXIC_TYPES {
            let kind = ToxicKind::parse(name, None).unwrap();
            assert_eq!(kind.type_name(), *name);
        }
    }
}
