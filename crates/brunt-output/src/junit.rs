//! JUnit XML for CI systems: one test suite for the run's thresholds, one for `brunt compare`'s
//! regression gates, a test case each, failed ones with a `<failure>`.

use crate::compare::GateResult;
use crate::verdict;
use brunt_metrics::ThresholdResult;
use std::fmt::Write as _;

/// The XML document.
pub fn render(thresholds: &[ThresholdResult], gates: &[GateResult]) -> String {
    let threshold_cases: Vec<(String, Option<String>)> = thresholds
        .iter()
        .map(|t| {
            (
                format!("{}: {}", t.metric_name, t.source),
                (!t.ok).then(|| verdict::failure(t)),
            )
        })
        .collect();
    let gate_cases: Vec<(String, Option<String>)> = gates
        .iter()
        .map(|g| (g.gate.source.clone(), (!g.ok).then(|| g.detail.clone())))
        .collect();
    let suites = [
        ("thresholds", threshold_cases),
        ("regression gates", gate_cases),
    ];
    let tests: usize = suites.iter().map(|(_, c)| c.len()).sum();
    let failures: usize = suites
        .iter()
        .map(|(_, c)| c.iter().filter(|(_, f)| f.is_some()).count())
        .sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"brunt\" tests=\"{tests}\" failures=\"{failures}\">"
    );
    for (name, cases) in &suites {
        let failed = cases.iter().filter(|(_, f)| f.is_some()).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failed}\">",
            cases.len()
        );
        for (case, failure) in cases {
            let case = escape(case);
            match failure {
                None => {
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"brunt.{name}\" name=\"{case}\"/>"
                    );
                }
                Some(msg) => {
                    let msg = escape(msg);
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"brunt.{name}\" name=\"{case}\">\n      <failure message=\"{msg}\">{msg}</failure>\n    </testcase>"
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}
