//! What the summary's LLM section says beyond the metrics: failures grouped by cause, with the
//! first message of each, and where the token counts came from.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub(crate) struct Tally {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    ok: u64,
    by_usage: u64,
    failures: BTreeMap<String, u64>,
}

impl Tally {
    /// One request: its failure's description, or whether its tokens came from usage.
    pub fn add(&self, failure: Option<String>, by_usage: bool) {
        let mut t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match failure {
            Some(f) => *t.failures.entry(f).or_default() += 1,
            None => {
                t.ok += 1;
                t.by_usage += u64::from(by_usage);
            }
        }
    }

    /// Requests that succeeded and failed.
    pub fn counts(&self) -> (u64, u64) {
        let t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (t.ok, t.failures.values().sum())
    }

    /// The section's text.
    pub fn text(&self) -> String {
        let t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::from("\n  LLM\n");
        let counted = match (t.by_usage, t.ok) {
            (_, 0) => "no request succeeded".to_string(),
            (u, ok) if u == ok => "from the server's usage".to_string(),
            (0, _) => "one per content chunk (the server sent no usage)".to_string(),
            (u, ok) => format!("from usage for {u} of {ok} requests, else one per content chunk"),
        };
        out.push_str(&format!("    output tokens counted: {counted}\n"));
        let failed: u64 = t.failures.values().sum();
        out.push_str(&format!("    requests: {} ok, {failed} failed\n", t.ok));
        for (what, n) in &t.failures {
            out.push_str(&format!("      {n} x {what}\n"));
        }
        out
    }
}
