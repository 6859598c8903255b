//! API errors with Toxiproxy's messages and status codes.

use serde::Serialize;

/// An error as the API reports it: `{"error": message, "status": code}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Human-readable message, Toxiproxy's wording where Toxiproxy has one.
    #[serde(rename = "error")]
    pub message: String,
    /// HTTP status code.
    #[serde(rename = "status")]
    pub status: u16,
}

impl ApiError {
    pub(crate) fn new(message: impl Into<String>, status: u16) -> Self {
        Self {
            message: message.into(),
            status,
        }
    }

    pub(crate) fn bad_request_body(detail: impl std::fmt::Display) -> Self {
        Self::new(format!("bad request body: {detail}"), 400)
    }

    pub(crate) fn missing_field(field: &str) -> Self {
        Self::new(format!("missing required field: {field}"), 400)
    }

    pub(crate) fn proxy_not_found() -> Self {
        Self::new("proxy not found", 404)
    }

    pub(crate) fn proxy_exists() -> Self {
        Self::new("proxy already exists", 409)
    }

    pub(crate) fn invalid_stream() -> Self {
        Self::new(
            "stream was invalid, can be either upstream or downstream",
            400,
        )
    }

    pub(crate) fn invalid_toxic_type() -> Self {
        Self::new("invalid toxic type", 400)
    }

    pub(crate) fn toxic_exists() -> Self {
        Self::new("toxic already exists", 409)
    }

    pub(crate) fn toxic_not_found() -> Self {
        Self::new("toxic not found", 404)
    }

    /// A listen address that cannot be read or resolved: 500 with Go's text, as
    /// Toxiproxy answers it.
    pub(crate) fn listen_address(detail: impl std::fmt::Display) -> Self {
        Self::new(format!("listen tcp: {detail}"), 500)
    }

    /// Toxiproxy answers bind failures (address in use, not allowed) with 500 and
    /// Go's error text, which names the resolved address.
    pub(crate) fn listen(addr: &str, err: &std::io::Error) -> Self {
        let reason = match err.kind() {
            std::io::ErrorKind::AddrInUse => "bind: address already in use".to_string(),
            std::io::ErrorKind::PermissionDenied => "bind: permission denied".to_string(),
            std::io::ErrorKind::AddrNotAvailable => {
                "bind: cannot assign requested address".to_string()
            }
            _ => err.to_string(),
        };
        Self::new(format!("listen tcp {addr}: {reason}"), 500)
    }
}
