//! What both summary layouts draw with (`text.rs`, the legacy one, and `text_report.rs`, k6's
//! current one): k6's glyphs, ANSI colours, and the width of a line as a terminal shows it.

pub(crate) const PASS: &str = "✓";
pub(crate) const FAIL: &str = "✗";
/// Heads a group or section.
pub(crate) const TITLE: &str = "█";
/// Heads a group's details or a sub-section.
pub(crate) const SUBTITLE: &str = "↳";

pub(crate) const BOLD: u8 = 1;
pub(crate) const FAINT: u8 = 2;
pub(crate) const RED: u8 = 31;
pub(crate) const GREEN: u8 = 32;
pub(crate) const CYAN: u8 = 36;
pub(crate) const WHITE: u8 = 37;

/// Wraps text in ANSI colour codes when colours are on.
pub(crate) struct Painter(pub(crate) bool);

impl Painter {
    pub(crate) fn paint(&self, text: &str, codes: &[u8]) -> String {
        if !self.0 || codes.is_empty() {
            return text.to_string();
        }
        let codes: Vec<String> = codes.iter().map(u8::to_string).collect();
        format!("\x1b[{}m{text}\x1b[0m", codes.join(";"))
    }
}

/// Characters, not bytes: the glyphs are multi-byte.
pub(crate) fn width(s: &str) -> usize {
    s.chars().count()
}
