//! The one HTML page behind both the dashboard and the report: page, styles, script and the chart
//! library (uPlot 1.6.32, MIT licence, vendored from the npm registry under assets/vendor/) are
//! built into the binary, so the page needs no network.

use crate::ReportData;

const TEMPLATE: &str = include_str!("../assets/page.html");
const STYLE: &str = include_str!("../assets/style.css");
const APP_JS: &str = include_str!("../assets/app.js");
const UPLOT_JS: &str = include_str!("../assets/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/vendor/uPlot.min.css");

/// The self-contained HTML report.
pub fn render(data: &ReportData) -> String {
    page(data, false)
}

/// The dashboard: the state so far, drawn at once, then followed over `/events` until the run
/// has ended.
pub(crate) fn render_live(data: &ReportData) -> String {
    page(data, data.summary.is_none())
}

fn page(data: &ReportData, live: bool) -> String {
    // `<` only occurs inside JSON strings, where `\u003c` means the same: no `</script>` can end
    // the script early.
    let json = serde_json::to_string(data)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c");
    // The data goes in last, so text in it is never taken for a placeholder.
    TEMPLATE
        .replace("{{UPLOT_CSS}}", UPLOT_CSS)
        .replace("{{STYLE}}", STYLE)
        .replace("{{UPLOT_JS}}", UPLOT_JS)
        .replace("{{APP_JS}}", APP_JS)
        .replace("{{LIVE}}", if live { "true" } else { "false" })
        .replace("{{DATA}}", &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_references_nothing_outside_itself() {
        let page = render(&ReportData::default());
        for needle in [
            "src=\"http",
            "href=\"http",
            "src='http",
            "@import",
            "url(http",
        ] {
            assert!(!page.contains(needle), "page references {needle}");
        }
        assert!(page.contains("var uPlot="), "chart library is inlined");
        assert!(!page.contains("{{"), "every placeholder is filled");
    }

    #[test]
    fn data_cannot_close_the_script_element() {
        let data = ReportData::new("</script><script>alert(1)</script>".into(), Vec::new());
        let page = render(&data);
        assert_eq!(
            page.matches("</script>").count(),
            3,
            "only the page's own scripts close"
        );
    }
}
