//! Chaos Toolkit's `${name}` substitution from the configuration and the secrets.
//!
//! Chaos Toolkit uses Python's `string.Template.safe_substitute`: `$name` and `${name}` are
//! replaced when the name is known and left as written otherwise, `$$` is a literal `$`, and a
//! string that is exactly one placeholder takes the value's own type (a number stays a number).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::{Map, Value};

/// Python's `Template.pattern` with its default identifier, case-insensitive as Python's is.
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\$(?:(\$)|([_a-z][_a-z0-9]*)|\{([_a-z][_a-z0-9]*)\})").expect("valid regex")
});

/// The values an experiment substitutes: its configuration, then each secrets scope.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    /// Configuration entries, resolved (environment entries read).
    pub configuration: Map<String, Value>,
    /// Secrets by scope, resolved.
    pub secrets: BTreeMap<String, Map<String, Value>>,
    /// Environment variables activities set for later ones (the toxiproxy extension's
    /// `<proxy>_PORT`), passed to processes the experiment starts.
    pub env: BTreeMap<String, String>,
}

impl Vars {
    /// The value of `name`: the configuration first, then the secrets scopes.
    pub fn lookup(&self, name: &str) -> Option<&Value> {
        self.configuration
            .get(name)
            .or_else(|| self.secrets.values().find_map(|scope| scope.get(name)))
    }

    /// Substitutes every string in `value`, recursively.
    pub fn substitute(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => self.substitute_str(s),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.substitute(v)).collect()),
            Value::Object(map) => Value::Object(self.substitute_map(map)),
            other => other.clone(),
        }
    }

    /// Substitutes every value of a mapping, recursively.
    pub fn substitute_map(&self, map: &Map<String, Value>) -> Map<String, Value> {
        map.iter()
            .map(|(k, v)| (k.clone(), self.substitute(v)))
            .collect()
    }

    /// Substitutes one string; a string that is exactly one known placeholder keeps the value's type.
    pub fn substitute_str(&self, s: &str) -> Value {
        if let Some(c) = PLACEHOLDER.captures(s) {
            let whole = c.get(0).expect("group 0");
            if whole.start() == 0 && whole.end() == s.len() {
                if let Some(v) = c.get(2).or(c.get(3)).and_then(|n| self.lookup(n.as_str())) {
                    return v.clone();
                }
            }
        }
        let out = PLACEHOLDER.replace_all(s, |c: &Captures| {
            if c.get(1).is_some() {
                return "$".to_string();
            }
            let name = c.get(2).or(c.get(3)).expect("a name group").as_str();
            match self.lookup(name) {
                Some(v) => python_str(v),
                None => c[0].to_string(),
            }
        });
        Value::String(out.into_owned())
    }

    /// Substitutes a string and renders the result as text (for URLs, paths, headers).
    pub fn text(&self, s: &str) -> String {
        python_str(&self.substitute_str(s))
    }
}

/// How Python's `str()` renders a value inside a string.
pub fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.configuration.insert("host".into(), json!("127.0.0.1"));
        v.configuration.insert("port".into(), json!(8080));
        let mut scope = Map::new();
        scope.insert("token".into(), json!("s3cret"));
        v.secrets.insert("api".into(), scope);
        v
    }

    #[test]
    fn a_lone_placeholder_keeps_its_type_and_text_is_interpolated() {
        let v = vars();
        assert_eq!(v.substitute_str("${port}"), json!(8080));
        assert_eq!(v.substitute_str("$port"), json!(8080));
        assert_eq!(
            v.substitute_str("http://${host}:${port}/"),
            json!("http://127.0.0.1:8080/")
        );
        assert_eq!(v.substitute_str("Bearer ${token}"), json!("Bearer s3cret"));
    }

    #[test]
    fn unknown_names_stay_and_double_dollar_is_a_dollar() {
        let v = vars();
        assert_eq!(v.substitute_str("${nope} $$5"), json!("${nope} $5"));
        assert_eq!(v.substitute_str("${nope}"), json!("${nope}"));
    }

    #[test]
    fn substitution_reaches_into_lists_and_maps() {
        let v = vars();
        assert_eq!(
            v.substitute(&json!({"a": ["${host}", 1], "b": {"c": "${port}"}})),
            json!({"a": ["127.0.0.1", 1], "b": {"c": 8080}})
        );
    }
}
