//! Paths to routes: `/api/orders/123` and `/api/orders/456` are one route,
//! `/api/orders/{id}`. Segments that are numbers (`{id}`), UUIDs (`{uuid}`) or hash-like tokens
//! (`{hash}`: long hex, or long letters-and-digits such as base64 ids) become placeholders;
//! `--route PATTERN`s are tried first, so a user names what detection misses
//! (`/users/{name}/profile`).

/// What a variable segment looks like; placeholders are named after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    Id,
    Uuid,
    Hash,
}

impl SegmentKind {
    pub fn placeholder(self) -> &'static str {
        match self {
            SegmentKind::Id => "{id}",
            SegmentKind::Uuid => "{uuid}",
            SegmentKind::Hash => "{hash}",
        }
    }
}

/// The kind of a variable-looking segment, None for one that names something.
pub fn classify(seg: &str) -> Option<SegmentKind> {
    let b = seg.as_bytes();
    if b.is_empty() {
        return None;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return Some(SegmentKind::Id);
    }
    if b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    {
        return Some(SegmentKind::Uuid);
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if b.len() >= 16 && digits > 0 && b.iter().all(u8::is_ascii_hexdigit) {
        return Some(SegmentKind::Hash);
    }
    let token = b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_');
    let letters = b.iter().filter(|c| c.is_ascii_alphabetic()).count();
    if b.len() >= 20 && token && digits >= 2 && letters >= 2 {
        return Some(SegmentKind::Hash);
    }
    None
}

/// A `--route` pattern: literal segments and `{name}` segments that match any one segment.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    segments: Vec<Option<String>>,
}

impl Pattern {
    /// Reads `/users/{name}/profile`; the error names the pattern.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if !text.starts_with('/') {
            return Err(format!("--route '{text}': a pattern starts with '/'"));
        }
        let segments = text[1..]
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) if !name.is_empty() && !name.contains(['{', '}']) => Ok(None),
                    _ if s.contains(['{', '}']) => Err(format!(
                        "--route '{text}': segment '{s}' is neither literal nor a whole {{name}}"
                    )),
                    _ => Ok(Some(s.to_string())),
                },
            )
            .collect::<Result<_, _>>()?;
        Ok(Pattern {
            text: text.to_string(),
            segments,
        })
    }

    fn matches(&self, path: &str) -> bool {
        let mut n = 0;
        for (i, seg) in path[1..].split('/').enumerate() {
            match self.segments.get(i) {
                Some(Some(lit)) if lit != seg => return false,
                Some(_) => n += 1,
                None => return false,
            }
        }
        n == self.segments.len()
    }
}

/// Normalises paths into routes, reusing its buffer: one call per log line.
#[derive(Debug, Default)]
pub struct Normaliser {
    patterns: Vec<Pattern>,
    buf: String,
}

impl Normaliser {
    pub fn new(patterns: Vec<Pattern>) -> Normaliser {
        Normaliser {
            patterns,
            buf: String::new(),
        }
    }

    /// The route of `path` (no query), borrowed from the normaliser until the next call.
    pub fn route(&mut self, path: &str) -> &str {
        if !path.starts_with('/') {
            return "(not a path)";
        }
        if let Some(p) = self.patterns.iter().find(|p| p.matches(path)) {
            return &p.text;
        }
        self.buf.clear();
        for seg in path[1..].split('/') {
            self.buf.push('/');
            match classify(seg) {
                Some(kind) => self.buf.push_str(kind.placeholder()),
                None => self.buf.push_str(seg),
            }
        }
        &self.buf
    }
}

/// The variable segments of `path` under `route`, in order (for sampling ids to replay).
pub fn variables<'p>(route: &str, path: &'p str) -> impl Iterator<Item = &'p str> {
    let route_segs: Vec<bool> = route
        .split('/')
        .map(|s| s.starts_with('{') && s.ends_with('}'))
        .collect();
    path.split('/')
        .zip(route_segs)
        .filter_map(|(seg, var)| var.then_some(seg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_uuids_and_hashes_become_placeholders() {
        let mut n = Normaliser::default();
        assert_eq!(n.route("/api/orders/123"), "/api/orders/{id}");
        assert_eq!(
            n.route("/u/3f2504e0-4f89-11d3-9a0c-0305e82c3301/x"),
            "/u/{uuid}/x"
        );
        assert_eq!(n.route("/blob/9f86d081884c7d65"), "/blob/{hash}");
        assert_eq!(n.route("/t/dGhpc2lzYXRva2VuMTIzNDU2"), "/t/{hash}");
        // Words stay, even long ones or with a digit.
        assert_eq!(n.route("/api/v2/orders"), "/api/v2/orders");
        assert_eq!(n.route("/internationalization"), "/internationalization");
        assert_eq!(n.route("/"), "/");
        assert_eq!(n.route("*"), "(not a path)");
    }

    #[test]
    fn patterns_win_over_detection() {
        let p = Pattern::parse("/users/{name}/profile").unwrap();
        let mut n = Normaliser::new(vec![p]);
        assert_eq!(n.route("/users/alice/profile"), "/users/{name}/profile");
        assert_eq!(n.route("/users/alice"), "/users/alice");
        assert_eq!(n.route("/users/7/profile/x"), "/users/{id}/profile/x");
        assert!(Pattern::parse("users").is_err());
        assert!(Pattern::parse("/a/{b")
            .unwrap_err()
            .contains("segment '{b'"));
    }

    #[test]
    fn variables_follow_the_route() {
        let v: Vec<_> = variables("/a/{id}/b/{uuid}", "/a/7/b/xyz").collect();
        assert_eq!(v, ["7", "xyz"]);
    }
}
