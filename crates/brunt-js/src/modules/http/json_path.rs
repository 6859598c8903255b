//! `res.json(selector)` without turning the whole body into JavaScript objects: the body is
//! checked to be JSON (by [`valid`], which allocates nothing), the selector is walked
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
    std::str::from_utf8(body).ok()?;
    if !valid(body) {
        return None;
    }
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

/// Nesting past this is left to the full parse (serde_json's limit, which this check replaced).
const MAX_DEPTH: usize = 128;

/// Whether `b` is one JSON text (RFC 8259: a value between optional whitespace) nested at most
/// [`MAX_DEPTH`] deep, `b` being valid UTF-8. Strict: what it accepts, JSON.parse accepts;
/// what it rejects goes to the full parse, which decides. (serde_json answered this before, at
/// about five times the cost for a small body.)
fn valid(b: &[u8]) -> bool {
    let mut s = Scan { b, i: 0 };
    // The open objects (`{`) and arrays (`[`), innermost last.
    let mut open = [0u8; MAX_DEPTH];
    let mut depth = 0;
    s.ws();
    'value: loop {
        // A value starts at the cursor.
        match s.peek() {
            c @ (b'{' | b'[') => {
                let (object, close) = (c == b'{', if c == b'{' { b'}' } else { b']' });
                s.i += 1;
                s.ws();
                if s.peek() == close {
                    s.i += 1;
                } else {
                    if depth == MAX_DEPTH || (object && !s.key()) {
                        return false;
                    }
                    open[depth] = c;
                    depth += 1;
                    continue 'value;
                }
            }
            b'"' => {
                if !s.valid_string() {
                    return false;
                }
            }
            b't' => {
                if !s.literal(b"true") {
                    return false;
                }
            }
            b'f' => {
                if !s.literal(b"false") {
                    return false;
                }
            }
            b'n' => {
                if !s.literal(b"null") {
                    return false;
                }
            }
            b'-' | b'0'..=b'9' => {
                if !s.number() {
                    return false;
                }
            }
            _ => return false,
        }
        // A value ended: close what it ends, then find where the next one starts.
        loop {
            s.ws();
            if depth == 0 {
                return s.i == b.len();
            }
            let inner = open[depth - 1];
            match (inner, s.peek()) {
                (b'{', b',') => {
                    s.i += 1;
                    s.ws();
                    if !s.key() {
                        return false;
                    }
                    continue 'value;
                }
                (b'[', b',') => {
                    s.i += 1;
                    s.ws();
                    continue 'value;
                }
                (b'{', b'}') | (b'[', b']') => {
                    s.i += 1;
                    depth -= 1;
                }
                _ => return false,
            }
        }
    }
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

    /// At a member's name: the name, the colon and the whitespace after it; false when they
    /// are not JSON.
    fn key(&mut self) -> bool {
        if self.peek() != b'"' || !self.valid_string() {
            return false;
        }
        self.ws();
        if self.peek() != b':' {
            return false;
        }
        self.i += 1;
        self.ws();
        true
    }

    /// Skips the string at the cursor; false when it is not a JSON string (a control character,
    /// an unknown escape, no closing quote).
    fn valid_string(&mut self) -> bool {
        self.i += 1;
        while let Some(&c) = self.b.get(self.i) {
            self.i += 1;
            match c {
                b'"' => return true,
                b'\\' => match self.b.get(self.i) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                    Some(b'u') => {
                        let hex = self.b.get(self.i + 1..self.i + 5);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return false;
                        }
                        self.i += 5;
                    }
                    _ => return false,
                },
                0..=0x1f => return false,
                _ => {}
            }
        }
        false
    }

    /// Skips `word` at the cursor; false when it is not there.
    fn literal(&mut self, word: &[u8]) -> bool {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            return true;
        }
        false
    }

    /// Skips the number at the cursor; false when it is not a JSON number (`-?(0|[1-9]\d*)`, an
    /// optional fraction and exponent).
    fn number(&mut self) -> bool {
        if self.peek() == b'-' {
            self.i += 1;
        }
        match self.peek() {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return false,
        }
        if self.peek() == b'.' {
            self.i += 1;
            if !self.peek().is_ascii_digit() {
                return false;
            }
            self.digits();
        }
        if matches!(self.peek(), b'e' | b'E') {
            self.i += 1;
            if matches!(self.peek(), b'+' | b'-') {
                self.i += 1;
            }
            if !self.peek().is_ascii_digit() {
                return false;
            }
            self.digits();
        }
        true
    }

    fn digits(&mut self) {
        while self.peek().is_ascii_digit() {
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
    use super::{select, valid, Selected};

    /// serde_json's answer (which `select` asked before `valid`).
    fn serde_valid(b: &[u8]) -> bool {
        serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok()
    }

    #[test]
    fn valid_accepts_what_serde_json_accepts() {
        let docs = [
            r#" {"id":"ord-1","status":"created","n":[1,-0,0.5,-1.5e-3,2E+10,1e5,{},[],[[]],{"a":{}}],"t":true,"f":false,"z":null} "#,
            r#""a\"\\\/\b\f\n\r\t\u00e9\uD800""#,
            "0",
            "-0",
            "123",
            "[1,2]",
            "{}",
            "[]",
            " \t\r\n[ ] ",
            "\"é\u{2028}😀\"",
            "",
            " ",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "--1",
            "0x10",
            "1.5.5",
            "NaN",
            "Infinity",
            "tru",
            "truee",
            "nul",
            "[1,]",
            "[,1]",
            "{\"a\":1,}",
            "{,}",
            "{\"a\"}",
            "{\"a\" 1}",
            "{a:1}",
            "{'a':1}",
            "['a']",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
            "\"a",
            "\"\t\"",
            "\"\u{1f}\"",
            "[1 2]",
            "{\"a\":1 \"b\":2}",
            "[1]]",
            "{}}",
            "[",
            "{",
            "]",
            "}",
            "1 2",
            "[1,[2,[3]]]",
            "{\"a\":[{\"b\":null}]}",
            "[true,false,null]",
            "\u{0}",
            "[\u{0}]",
            "1\u{0}",
        ];
        for d in docs {
            assert_eq!(valid(d.as_bytes()), serde_valid(d.as_bytes()), "{d:?}");
        }
        // Nesting up to the limit, and past it (left to the full parse).
        for n in [1, 127, 128, 129, 200] {
            let d = "[".repeat(n) + "1" + &"]".repeat(n);
            assert_eq!(valid(d.as_bytes()), n <= 128, "{n}");
        }
        // Every one-byte change of a document: inserted, dropped or replaced by a JSON byte.
        let doc = br#"{"id":"o-1","v":[1,-2.5e3,true,null,{"k":"\u0041\n"}],"e":{}}"#;
        let alphabet = br#"{}[],:"\u0aeE+-.019tfnrl "#;
        let mut tried = 0;
        for at in 0..=doc.len() {
            let mut changed = Vec::new();
            if at < doc.len() {
                let mut d = doc.to_vec();
                d.remove(at);
                changed.push(d);
            }
            for &c in alphabet {
                let mut d = doc.to_vec();
                d.insert(at, c);
                changed.push(d);
                if at < doc.len() {
                    let mut d = doc.to_vec();
                    d[at] = c;
                    changed.push(d);
                }
            }
            for d in changed {
                tried += 1;
                assert_eq!(
                    valid(&d),
                    serde_valid(&d),
                    "{}",
                    String::from_utf8_lossy(&d)
                );
            }
        }
        assert!(tried > 3000);
    }

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
