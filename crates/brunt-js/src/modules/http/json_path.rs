//! `res.json(selector)` without turning the whole body into JavaScript objects: the body is
//! checked to be JSON (serde_json, which allocates nothing to skip values), the selector is walked
//! over its bytes, and only the selected value becomes a JavaScript value. What the walk cannot
//! answer as JavaScript would (a key missing from an object, which JavaScript looks up on the
//! prototype; a key written with escapes; a string's `length`; an index past the end; a body that
//! is not valid JSON, whose error message comes from QuickJS, or not valid UTF-8) it leaves to the
//! full parse.

/// What a selector picks from a JSON document.
#[derive(Debug, PartialEq)]
pub(super) enum Selected<'a> {
    /// The path went through a `null`.
    Undefined,
    /// `#` on an array: its length.
    Length(usize),
    /// The selected value's JSON text.
    Raw(&'a [u8]),
}

/// The value `selector` (`a.b`, `items.0.id`, `items.#`) picks from `body`, or None when the
/// full parse must answer (see the module doc). What it picks is valid UTF-8.
pub(super) fn select<'a>(body: &'a [u8], selector: &str) -> Option<Selected<'a>> {
    // The full parse reads the body as UTF-8 with invalid bytes replaced.
    let text = std::str::from_utf8(body).ok()?;
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    let mut s = Scan { b: body, i: 0 };
    s.ws();
    let mut parts = selector.split('.').peekable();
    while let Some(part) = parts.next() {
        match s.peek() {
            b'n' => return Some(Selected::Undefined),
            b'{' => s.i = s.member(part.as_bytes())?,
            b'[' if part == "#" && parts.peek().is_none() => {
                return Some(Selected::Length(s.len()))
            }
            b'[' => s.i = s.element(index(part)?)?,
            _ => return None,
        }
    }
    let start = s.i;
    s.value();
    Some(Selected::Raw(&body[start..s.i]))
}

/// An array index as JavaScript writes one (`0`, `12`; not `01` or `+1`).
fn index(part: &str) -> Option<usize> {
    let canonical = part == "0" || (!part.starts_with('0') && !part.is_empty());
    if !canonical || !part.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// A cursor over valid JSON.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> u8 {
        self.b.get(self.i).copied().unwrap_or(0)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    /// Skips the string at the cursor; true when it holds an escape.
    fn string(&mut self) -> bool {
        let mut escaped = false;
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => {
                    escaped = true;
                    self.i += 2;
                }
                b'"' => {
                    self.i += 1;
                    break;
                }
                _ => self.i += 1,
            }
        }
        escaped
    }

    /// Skips the value at the cursor.
    fn value(&mut self) {
        match self.peek() {
            b'"' => {
                self.string();
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                while self.i < self.b.len() {
                    match self.b[self.i] {
                        b'"' => {
                            self.string();
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return;
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | 0
                ) {
                    self.i += 1;
                }
            }
        }
    }

    /// At `{`: where the value of the last member named `key` starts (JSON.parse keeps the last
    /// of duplicate keys).
    fn member(&mut self, key: &[u8]) -> Option<usize> {
        if key == b"__proto__" {
            return None;
        }
        let mut found = None;
        self.i += 1;
        loop {
            self.ws();
            if self.peek() == b'}' {
                return found;
            }
            let start = self.i + 1;
            if self.string() {
                return None;
            }
            let name = &self.b[start..self.i - 1];
            self.ws();
            self.i += 1; // ':'
            self.ws();
            if name == key {
                found = Some(self.i);
            }
            self.value();
            self.ws();
            if self.peek() == b',' {
                self.i += 1;
            }
        }
    }

    /// At `[`: the elements after the cursor, calling `each` with each one's start until it says
    /// to stop; the count seen.
    fn elements(&mut self, mut each: impl FnMut(usize) -> bool) -> usize {
        let mut n = 0;
        self.i += 1;
        loop {
            self.ws();
            if self.peek() == b']' || self.i >= self.b.len() {
                return n;
            }
            if !each(self.i) {
                return n;
            }
            n += 1;
            self.value();
            self.ws();
            if self.peek() == b',' {
                self.i += 1;
            }
        }
    }

    /// At `[`: its length.
    fn len(&mut self) -> usize {
        self.elements(|_| true)
    }

    /// At `[`: where element `at` starts.
    fn element(&mut self, at: usize) -> Option<usize> {
        let mut found = None;
        let mut n = 0;
        self.elements(|start| {
            if n == at {
                found = Some(start);
                return false;
            }
            n += 1;
            true
        });
        found
    }
}

#[cfg(test)]
mod tests {
    use super::{select, Selected};

    fn raw(body: &str, sel: &str) -> Option<String> {
        match select(body.as_bytes(), sel)? {
            Selected::Raw(r) => Some(String::from_utf8(r.to_vec()).unwrap()),
            other => Some(format!("{other:?}")),
        }
    }

    #[test]
    fn picks_members_elements_and_lengths() {
        let doc = r#" {"id":"ord-1", "items": [ {"sku":"a,}]","qty":2}, {"sku":"b"} ], "n": null, "id2": 1.5e3 } "#;
        assert_eq!(raw(doc, "id").as_deref(), Some(r#""ord-1""#));
        assert_eq!(raw(doc, "items.1.sku").as_deref(), Some(r#""b""#));
        assert_eq!(
            raw(doc, "items.0").as_deref(),
            Some(r#"{"sku":"a,}]","qty":2}"#)
        );
        assert_eq!(raw(doc, "items.#").as_deref(), Some("Length(2)"));
        assert_eq!(raw(doc, "id2").as_deref(), Some("1.5e3"));
        assert_eq!(raw(doc, "n.x").as_deref(), Some("Undefined"));
        assert_eq!(raw("[]", "#").as_deref(), Some("Length(0)"));
        // The last of duplicate keys, as JSON.parse keeps it.
        assert_eq!(raw(r#"{"a":1,"a":2}"#, "a").as_deref(), Some("2"));
    }

    #[test]
    fn leaves_to_the_full_parse_what_javascript_decides() {
        let doc = r#"{"id":"x","a\u0062":1,"arr":[1]}"#;
        // Missing keys (the prototype's), escaped keys, a string's properties, bad indexes.
        assert_eq!(raw(doc, "missing"), None);
        assert_eq!(raw(doc, "toString"), None);
        assert_eq!(raw(doc, "ab"), None);
        assert_eq!(raw(doc, "id.length"), None);
        assert_eq!(raw(doc, "arr.1"), None);
        assert_eq!(raw(doc, "arr.01"), None);
        assert_eq!(raw(doc, "arr.length"), None);
        assert_eq!(raw(doc, "arr.#.x"), None);
        // Not JSON: QuickJS gives the error.
        assert_eq!(raw(r#"{"id": }"#, "id"), None);
        assert_eq!(raw("", "id"), None);
    }
}
