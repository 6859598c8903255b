//! Authentication checks, so that scripts can exercise credentials the way
//! they would against a real API: httpbin's `/basic-auth` and `/bearer`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use http::StatusCode;
use serde_json::json;

use crate::response::{self, Reply};
use crate::routes::Received;

/// `/basic-auth/{user}/{passwd}`: 200 when the request carries exactly those
/// Basic credentials, else 401 with a challenge (which makes clients retry with them).
pub(crate) fn basic(req: &Received, user: &str, password: &str) -> Reply {
    let matches = credentials(req, "Basic ")
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .is_some_and(|decoded| decoded == format!("{user}:{password}").as_bytes());
    if matches {
        response::json(
            StatusCode::OK,
            &json!({ "authenticated": true, "user": user }),
        )
    } else {
        challenge(r#"Basic realm="brunt target""#)
    }
}

/// `/bearer`: 200 echoing the token of an `Authorization: Bearer` header, else 401.
pub(crate) fn bearer(req: &Received) -> Reply {
    match credentials(req, "Bearer ") {
        Some(token) if !token.is_empty() => response::json(
            StatusCode::OK,
            &json!({ "authenticated": true, "token": token }),
        ),
        _ => challenge("Bearer"),
    }
}

/// The credentials after `scheme` in the Authorization header.
fn credentials<'a>(req: &'a Received, scheme: &str) -> Option<&'a str> {
    let value = req.parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = value.split_at_checked(scheme.len())?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

fn challenge(scheme: &'static str) -> Reply {
    let mut reply = response::error(StatusCode::UNAUTHORIZED, "missing or wrong credentials");
    reply
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
    reply
}
