//! k6's `Request Failed` warning for a request that got no response (k6 logs it unless the
//! request's `throw` is set; brunt has no `throw`). k6 logs every one, which at load-test rates is
//! thousands of lines a second; brunt logs at most [`PER_SECOND`] a second and says when it held
//! some back: the end-of-test summary counts every error.

use brunt_http::Response;
use std::io::Write;
use std::sync::Mutex;

/// Warnings printed in one second of the run before the rest are held back.
const PER_SECOND: u32 = 10;

/// The second of the last warning and how many failures met that second.
static SEEN: Mutex<(u64, u32)> = Mutex::new((u64::MAX, 0));

/// Logs `resp`'s error, if it has one, as k6 does: `WARN[0001] Request Failed  error="Get
/// \"URL\": message"`, with a hint when the server's certificate could not be verified.
pub(super) fn warn(resp: &Response) {
    let Some(error) = &resp.error else {
        return;
    };
    let secs = crate::modules::console::seconds();
    let n = {
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if seen.0 != secs {
            *seen = (secs, 0);
        }
        seen.1 += 1;
        seen.1
    };
    let line = if n <= PER_SECOND {
        // Go's `url.Error` text, which k6 logs: the method as Go spells it, the quoted URL.
        let method = resp.method.as_str();
        let method = format!("{}{}", &method[..1], method[1..].to_ascii_lowercase());
        // A URL that did not parse has none to show (k6 logs the parse error alone).
        let error = if resp.error_code == brunt_http::ErrorCode::INVALID_URL {
            error.clone()
        } else {
            format!("{method} \"{}\": {error}", resp.url)
        };
        let mut line = format!("WARN[{secs:04}] {:<45} error={:?}", "Request Failed", error);
        if error.starts_with("x509:") {
            line.push_str(&format!(" hint={:?}", brunt_output::TLS_HINT));
        }
        line
    } else if n == PER_SECOND + 1 {
        format!("WARN[{secs:04}] more requests failed in this second: their warnings are not shown, the end-of-test summary counts every error")
    } else {
        return;
    };
    let _ = writeln!(std::io::stderr(), "{line}");
}
