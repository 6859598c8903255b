//! Authentication checks, so that scripts can exercise credentials the way
//! they would against a real API: httpbin's `/basic-auth`, `/digest-auth` and `/bearer`.

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

/// `/digest-auth/{qop}/{user}/{passwd}` (httpbin's): 200 when the request carries a Digest
/// response (RFC 7616, MD5) that those credentials produce for its nonce, method and URI, else
/// 401 with a fresh challenge. The nonce is not remembered: any nonce answered right passes.
pub(crate) fn digest(req: &Received, qop: &str, user: &str, password: &str) -> Reply {
    let given = credentials(req, "Digest ")
        .and_then(|h| digest_auth::AuthorizationHeader::parse(h).ok())
        .filter(|h| h.username == user);
    if let Some(given) = given {
        let method = req.parts.method.as_str();
        let context = digest_auth::AuthContext::new_with_method(
            user,
            password,
            &given.uri,
            None::<&[u8]>,
            digest_auth::HttpMethod::from(method),
        );
        let mut expected = given.clone();
        expected.digest(&context);
        if expected.response == given.response {
            return response::json(
                StatusCode::OK,
                &json!({ "authenticated": true, "user": user }),
            );
        }
    }
    let nonce: u128 = rand::random();
    let opaque: u64 = rand::random();
    let challenge = format!(
        r#"Digest realm="target@brunt", qop="{qop}", nonce="{nonce:032x}", opaque="{opaque:016x}", algorithm=MD5, stale=FALSE"#
    );
    let mut reply = response::error(StatusCode::UNAUTHORIZED, "missing or wrong credentials");
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        reply.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    reply
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
