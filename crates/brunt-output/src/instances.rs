//! A coordinated run's breakdown by instance (`brunt coordinator`): what each instance did and
//! how it went, under `brunt.instances` in the summary data and `--summary-export`, and as a
//! short block after the text summary, so that an instance that lagged or was lost is named.

use serde::Serialize;
use serde_json::Value;

/// One instance of a coordinated run, as the coordinator saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InstanceFacts {
    /// Its index in the run (`--instance-index`), 0-based.
    pub index: usize,
    /// What it called itself when it joined (host name and process id).
    pub name: String,
    /// Its execution segment, e.g. `1/4:2/4`.
    pub segment: String,
    pub requests: u64,
    /// Requests that failed (`http_req_failed`).
    pub errors: u64,
    pub iterations: u64,
    /// Why it was lost (it stopped reporting), when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<String>,
    /// Its own generator's worst event-loop lag, and the seconds in which it lagged.
    pub max_event_loop_lag_ms: f64,
    pub lagging_seconds: u64,
    /// How late its reports came at worst, beside the first instance's report of the same second.
    pub max_report_delay_ms: f64,
}

impl InstanceFacts {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn line(&self) -> String {
        let mut s = format!(
            "{} {} ({}): {} requests, {} errors, {} iterations",
            self.index, self.name, self.segment, self.requests, self.errors, self.iterations
        );
        if self.max_event_loop_lag_ms > 0.0 {
            s.push_str(&format!(
                ", event loop lag up to {:.0} ms",
                self.max_event_loop_lag_ms
            ));
        }
        if let Some(why) = &self.lost {
            s.push_str(&format!(", LOST: {why}"));
        }
        s
    }
}

/// The block printed after the summary: one line per instance, then the one that lagged most
/// (its event loop, or its reports), when any did.
pub(crate) fn lines(list: &[InstanceFacts], indent: &str) -> Vec<String> {
    if list.is_empty() {
        return Vec::new();
    }
    let mut out = vec![format!("{indent}instances ({}):", list.len())];
    out.extend(list.iter().map(|i| format!("{indent}  * {}", i.line())));
    let worst = list.iter().max_by(|a, b| {
        let key = |i: &InstanceFacts| i.max_event_loop_lag_ms.max(i.max_report_delay_ms);
        key(a).total_cmp(&key(b))
    });
    if let Some(w) = worst.filter(|w| w.lagging_seconds > 0 || w.max_report_delay_ms >= 1000.0) {
        out.push(format!(
            "{indent}  lagged most: instance {} {} (event loop over 10 ms in {} second(s), up to {:.0} ms; reports up to {:.0} ms late)",
            w.index, w.name, w.lagging_seconds, w.max_event_loop_lag_ms, w.max_report_delay_ms
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_names_each_instance_and_the_one_that_lagged() {
        let a = InstanceFacts {
            index: 0,
            name: "a".into(),
            segment: "0:1/2".into(),
            requests: 10,
            iterations: 10,
            ..Default::default()
        };
        let b = InstanceFacts {
            index: 1,
            name: "b".into(),
            segment: "1/2:1".into(),
            lagging_seconds: 3,
            max_event_loop_lag_ms: 40.0,
            lost: Some("no report for 3s".into()),
            ..Default::default()
        };
        let text = lines(&[a.clone(), b], "").join("\n");
        assert!(text.contains("instances (2):"), "{text}");
        assert!(
            text.contains("* 0 a (0:1/2): 10 requests, 0 errors, 10 iterations"),
            "{text}"
        );
        assert!(text.contains("LOST: no report for 3s"), "{text}");
        assert!(text.contains("lagged most: instance 1 b"), "{text}");
        assert_eq!(lines(&[a], "").len(), 2, "nobody lagged");
        assert!(lines(&[], "").is_empty());
    }
}
