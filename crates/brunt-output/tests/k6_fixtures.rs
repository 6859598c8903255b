//! brunt's renderers against files k6 itself wrote (see fixtures/README.md): the export derived
//! from k6's handleSummary data must equal k6's own export, and the text summary's fixed-value
//! lines must equal k6's.

use brunt_output::{summary_export, text_summary, TextOptions};
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn k6_data() -> Value {
    serde_json::from_str(&fixture("k6_handle_summary_data.json")).unwrap()
}

#[test]
fn summary_export_equals_k6s() {
    let k6: Value = serde_json::from_str(&fixture("k6_summary_export.json")).unwrap();
    assert_eq!(summary_export(&k6_data()), k6);
}

#[test]
fn text_summary_lines_equal_k6s() {
    let mine = text_summary(&k6_data(), &TextOptions::default());
    let k6 = fixture("k6_legacy_summary.txt");
    // Lines whose values the script fixes (rates per second and timings of the run itself vary,
    // and k6 1.x prints Rate counts as "N out of M" where brunt keeps k6 0.5x's ✓/✗).
    let fixed = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                [
                    "t_plain", "t_time", "{ k:a }", "one", "two", "↳", "grp", "inner",
                ]
                .iter()
                .any(|k| l.contains(k))
            })
            .map(String::from)
            .collect()
    };
    let expected = fixed(&k6);
    assert_eq!(expected.len(), 8, "{k6}");
    assert_eq!(fixed(&mine), expected, "\n{mine}");
}
