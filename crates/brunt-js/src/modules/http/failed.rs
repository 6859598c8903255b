//! k6's `Request Failed` warning for a request that got no response (k6 logs it unless the
//! `throw` option is set, when the request throws instead). k6 logs every one, which at load-test rates is
//! thousands of lines a second; brunt logs at most [`PER_SECOND`] a second and says when it held
//! some back: the end-of-test summary counts every error.

use brunt_engine::log::{self, Level};
use brunt_http::Response;
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
    let secs = brunt_engine::log::seconds();
    let n = {
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if seen.0 != secs {
            *seen = (secs, 0);
        }
        seen.1 += 1;
        seen.1
    };
    if n <= PER_SECOND {
        let error = go_error(resp, error);
        let mut fields = vec![("error", error.as_str())];
        if error.starts_with("x509:") {
            fields.push(("hint", brunt_output::TLS_HINT));
        }
        log::log(Level::Warn, "Request Failed", &fields);
    } else if n == PER_SECOND + 1 {
        log::warn("more requests failed in this second: their warnings are not shown, the end-of-test summary counts every error");
    }
}

/// Go's `url.Error` text for a failed request, which k6 logs and throws with `throw`: the method
/// as Go spells it and the quoted URL before the message (`Get "URL": message`).
pub(super) fn go_error(resp: &Response, error: &str) -> String {
    // A URL that did not parse has none to show (k6 gives the parse error alone).
    if resp.error_code == brunt_http::ErrorCode::INVALID_URL {
        return error.to_string();
    }
    let method = resp.method.as_str();
    let method = format!("{}{}", &method[..1], method[1..].to_ascii_lowercase());
    format!("{method} \"{}\": {error}", resp.url)
}
