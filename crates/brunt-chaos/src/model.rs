//! The configured state of proxies and toxics, and their JSON shapes (field
//! names and order as Toxiproxy writes them).

use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::toxics::{Direction, Scope, ToxicKind};

/// A toxic as configured on a proxy.
#[derive(Clone, Debug)]
pub(crate) struct Toxic {
    pub name: String,
    /// The `stream` value as given (Toxiproxy echoes it back unchanged).
    pub stream: String,
    pub direction: Direction,
    pub toxicity: f32,
    pub kind: ToxicKind,
}

/// A toxic with identity and revision, so live connections can tell a new
/// toxic from an updated one.
#[derive(Debug)]
pub(crate) struct ToxicEntry {
    pub uid: u64,
    pub rev: u64,
    pub toxic: Toxic,
}

/// The toxics of one proxy, published to its live connections on every change.
pub(crate) type Chain = Arc<Vec<Arc<ToxicEntry>>>;

impl ToxicEntry {
    /// Whether this toxic is a stage of the link carrying data in `dir`.
    pub fn acts_on(&self, dir: Direction) -> bool {
        match self.toxic.kind.scope() {
            Scope::Stream => self.toxic.direction == dir,
            Scope::Requests => dir == Direction::Upstream,
            Scope::Connect => false,
        }
    }
}

/// Toxicity as Go writes a float32: `1`, `0.5`, never `1.0` or `0.5000000`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GoFloat(pub f32);

impl Serialize for GoFloat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(format!("{v}").parse().unwrap_or(v as f64))
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ToxicView<'a> {
    pub attributes: &'a ToxicKind,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub stream: &'a str,
    pub toxicity: GoFloat,
}

impl Toxic {
    pub fn view(&self) -> ToxicView<'_> {
        ToxicView {
            attributes: &self.kind,
            name: &self.name,
            kind: self.kind.type_name(),
            stream: &self.stream,
            toxicity: GoFloat(self.toxicity),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ProxyView<'a> {
    pub name: &'a str,
    pub listen: &'a str,
    pub upstream: &'a str,
    pub enabled: bool,
    pub toxics: Vec<ToxicView<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toxicity_is_written_like_go() {
        let j = |v| serde_json::to_string(&GoFloat(v)).unwrap();
        assert_eq!(j(1.0), "1");
        assert_eq!(j(0.0), "0");
        assert_eq!(j(0.5), "0.5");
        assert_eq!(j(0.3), "0.3");
    }
}
