//! k6's error codes and messages (k6 docs, "Error codes"): a failed request carries both, in its
//! response and in its samples' `error_code` and `error` tags.

use std::fmt;
use std::io;

/// A k6 error code; 0 means no error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    pub const NONE: Self = Self(0);
    pub const GENERIC: Self = Self(1000);
    pub const NON_TCP: Self = Self(1010);
    pub const INVALID_URL: Self = Self(1020);
    pub const REQUEST_TIMEOUT: Self = Self(1050);
    pub const DNS: Self = Self(1100);
    pub const DNS_NO_SUCH_HOST: Self = Self(1101);
    /// The address is in a `blacklistIPs` range.
    pub const BLACKLISTED_IP: Self = Self(1110);
    /// The host name matches a `blockHostnames` pattern.
    pub const BLOCKED_HOSTNAME: Self = Self(1111);
    pub const TCP: Self = Self(1200);
    pub const TCP_BROKEN_PIPE: Self = Self(1201);
    pub const TCP_UNKNOWN_ERRNO: Self = Self(1202);
    pub const DIAL: Self = Self(1210);
    pub const DIAL_TIMEOUT: Self = Self(1211);
    pub const DIAL_REFUSED: Self = Self(1212);
    pub const DIAL_UNKNOWN_ERRNO: Self = Self(1213);
    pub const TCP_RESET_BY_PEER: Self = Self(1220);
    pub const TLS: Self = Self(1300);
    /// Not a TLS record where one was expected (e.g. plain HTTP on an HTTPS port).
    pub const TLS_HEADER: Self = Self(1301);
    pub const X509_UNKNOWN_AUTHORITY: Self = Self(1310);
    pub const X509_HOSTNAME: Self = Self(1311);
    /// Base of the HTTP/2 GOAWAY codes: 1611 + the HTTP/2 error code, 1610 when unknown.
    pub const HTTP2_GOAWAY: Self = Self(1610);
    /// Base of the HTTP/2 stream (RST_STREAM) codes.
    pub const HTTP2_STREAM: Self = Self(1630);
    /// Base of the HTTP/2 connection error codes.
    pub const HTTP2_CONNECTION: Self = Self(1650);

    /// k6 gives a response with status >= 400 the code 1000 + status (and no error message).
    pub fn for_status(status: u16) -> Self {
        if status >= 400 {
            Self(1000 + u32::from(status))
        } else {
            Self::NONE
        }
    }

    /// k6's fixed `error` text for codes whose response and tag do not carry the cause's
    /// message (the cause is what k6 logs and throws).
    pub fn fixed_message(self) -> Option<&'static str> {
        match self {
            Self::BLACKLISTED_IP => Some("ip is blacklisted"),
            Self::BLOCKED_HOSTNAME => Some("hostname is blocked"),
            _ => None,
        }
    }

    pub fn is_none(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a request could not be built or completed: k6's code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    pub code: ErrorCode,
    pub message: String,
}

impl RequestError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RequestError {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn timeout(while_connecting: bool) -> Self {
        if while_connecting {
            Self::new(ErrorCode::DIAL_TIMEOUT, "dial: i/o timeout")
        } else {
            Self::new(ErrorCode::REQUEST_TIMEOUT, "request timeout")
        }
    }

    /// The test ended (its graceful stop ran out) while the request waited for its response.
    pub fn interrupted() -> Self {
        Self::new(
            ErrorCode::GENERIC,
            "request interrupted: the test ended before the response came (gracefulStop ran out)",
        )
    }

    /// A name that resolves to no address.
    pub(crate) fn no_such_host() -> Self {
        Self::new(ErrorCode::DNS_NO_SUCH_HOST, "lookup: no such host")
    }

    /// A failed name lookup.
    pub(crate) fn dns(host: &str, err: &io::Error) -> Self {
        // getaddrinfo's "no such name" answers.
        let msg = err.to_string();
        if msg.contains("not known") || msg.contains("No address associated") {
            Self::no_such_host()
        } else {
            Self::new(ErrorCode::DNS, format!("lookup {host}: {msg}"))
        }
    }

    /// A failed TCP connect.
    pub(crate) fn dial(err: &io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::ConnectionRefused => {
                Self::new(ErrorCode::DIAL_REFUSED, "dial: connection refused")
            }
            io::ErrorKind::TimedOut => Self::timeout(true),
            io::ErrorKind::ConnectionReset => Self::new(
                ErrorCode::TCP_RESET_BY_PEER,
                "dial: connection reset by peer",
            ),
            _ => match err.raw_os_error() {
                Some(errno) => Self::new(
                    ErrorCode::DIAL_UNKNOWN_ERRNO,
                    format!("dial: unknown errno {errno} error with msg `{err}`"),
                ),
                None => Self::new(ErrorCode::DIAL, format!("dial: {err}")),
            },
        }
    }

    /// A failed TLS handshake (tokio-rustls reports rustls errors inside an `io::Error`), in
    /// plain words: certificate problems as `x509: ...`, the rest as `tls: ...`.
    pub(crate) fn tls(err: &io::Error) -> Self {
        use rustls::{Error as TlsError, InvalidMessage};
        let Some(e) = err.get_ref().and_then(|e| e.downcast_ref::<TlsError>()) else {
            return Self::io(err, "read");
        };
        let (code, what) = match e {
            TlsError::InvalidCertificate(c) => return Self::certificate(c),
            TlsError::InvalidMessage(
                InvalidMessage::InvalidContentType | InvalidMessage::UnknownProtocolVersion,
            ) => (
                ErrorCode::TLS_HEADER,
                "first record does not look like a TLS handshake".to_string(),
            ),
            TlsError::InvalidMessage(m) => (
                ErrorCode::TLS,
                format!("the server sent a malformed message ({})", words(m)),
            ),
            TlsError::AlertReceived(a) => (
                ErrorCode::TLS,
                format!("the server ended the handshake with alert \"{}\"", words(a)),
            ),
            TlsError::PeerIncompatible(why) => (
                ErrorCode::TLS,
                format!(
                    "the server and brunt share no TLS version, cipher suite or key exchange ({})",
                    words(why)
                ),
            ),
            TlsError::PeerMisbehaved(why) => (
                ErrorCode::TLS,
                format!("the server broke the TLS protocol ({})", words(why)),
            ),
            TlsError::NoCertificatesPresented => (
                ErrorCode::TLS,
                "the server presented no certificate".to_string(),
            ),
            TlsError::InappropriateMessage { .. }
            | TlsError::InappropriateHandshakeMessage { .. } => (
                ErrorCode::TLS,
                "the server sent a message out of order".to_string(),
            ),
            TlsError::DecryptError => (
                ErrorCode::TLS,
                "the server's messages could not be decrypted".to_string(),
            ),
            other => (ErrorCode::TLS, other.to_string()),
        };
        Self::new(code, format!("tls: {what}"))
    }

    /// A server certificate that failed verification. k6's messages where k6 has a code of its
    /// own (1310, 1311); for the rest, what is wrong with the certificate.
    fn certificate(err: &rustls::CertificateError) -> Self {
        use rustls::CertificateError as C;
        let what = match err {
            C::UnknownIssuer => {
                return Self::new(ErrorCode::X509_UNKNOWN_AUTHORITY, "x509: unknown authority")
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                return Self::new(
                    ErrorCode::X509_HOSTNAME,
                    "x509: certificate doesn't match hostname",
                )
            }
            C::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
                // A self-signed certificate made as a CA (openssl req -x509's default): Go, and so
                // k6, reports it as signed by an unknown authority.
                Some(webpki::Error::CaUsedAsEndEntity) => {
                    return Self::new(
                        ErrorCode::X509_UNKNOWN_AUTHORITY,
                        "x509: certificate is a CA certificate, not a server certificate",
                    )
                }
                Some(webpki::Error::UnknownIssuer) => return Self::certificate(&C::UnknownIssuer),
                Some(webpki::Error::EndEntityUsedAsCa) => {
                    "a server certificate was used as a CA to sign the chain".to_string()
                }
                Some(webpki::Error::MaximumPathDepthExceeded) => {
                    "certificate chain is too long".to_string()
                }
                Some(webpki::Error::NameConstraintViolation) => {
                    "certificate violates its CA's name constraints".to_string()
                }
                Some(e) => format!("certificate rejected ({})", words(e)),
                None => format!("certificate rejected ({other})"),
            },
            C::BadEncoding => "certificate is malformed".to_string(),
            C::Expired | C::ExpiredContext { .. } => "certificate has expired".to_string(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "certificate is not valid yet".to_string()
            }
            C::Revoked => "certificate has been revoked".to_string(),
            C::BadSignature => "certificate's signature is invalid".to_string(),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "certificate is not for server authentication".to_string()
            }
            other => format!("certificate rejected ({})", words(other)),
        };
        Self::new(ErrorCode::TLS, format!("x509: {what}"))
    }

    /// An I/O error on an established connection; `op` is "read" or "write", as Go names it.
    pub(crate) fn io(err: &io::Error, op: &str) -> Self {
        match err.kind() {
            io::ErrorKind::ConnectionReset => Self::new(
                ErrorCode::TCP_RESET_BY_PEER,
                format!("{op}: connection reset by peer"),
            ),
            io::ErrorKind::BrokenPipe => {
                Self::new(ErrorCode::TCP_BROKEN_PIPE, format!("{op}: broken pipe"))
            }
            io::ErrorKind::UnexpectedEof => Self::new(ErrorCode::GENERIC, "EOF"),
            _ => match err.raw_os_error() {
                Some(errno) => Self::new(
                    ErrorCode::TCP_UNKNOWN_ERRNO,
                    format!(
                        "{op}: unknown errno `{errno}` on {} with message `{err}`",
                        std::env::consts::OS
                    ),
                ),
                None => Self::new(ErrorCode::TCP, format!("{op}: {err}")),
            },
        }
    }

    /// An error reported by hyper while the request was exchanged. `wrote` tells whether the
    /// request had been written, to name the failing operation.
    pub(crate) fn hyper(err: &hyper::Error, wrote: bool) -> Self {
        let op = if wrote { "read" } else { "write" };
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = source {
            if let Some(h2) = e.downcast_ref::<h2::Error>() {
                return Self::h2(h2, op);
            }
            if let Some(io) = e.downcast_ref::<io::Error>() {
                return Self::io(io, op);
            }
            source = e.source();
        }
        if err.is_incomplete_message() {
            // What Go reports when the server closes the connection before a response.
            return Self::new(ErrorCode::GENERIC, "EOF");
        }
        Self::new(ErrorCode::GENERIC, err.to_string())
    }

    fn h2(err: &h2::Error, op: &str) -> Self {
        if let Some(io) = err.get_io() {
            return Self::io(io, op);
        }
        let Some(reason) = err.reason() else {
            return Self::new(ErrorCode::GENERIC, err.to_string());
        };
        let code = u32::from(reason);
        // k6: base + 1 + the HTTP/2 code for the codes HTTP/2 defines, the base itself otherwise.
        let offset = if code <= 0xd { code + 1 } else { 0 };
        let name = h2_code_name(code);
        let (base, what) = if err.is_go_away() {
            (ErrorCode::HTTP2_GOAWAY, "received GoAway with")
        } else if err.is_reset() {
            (ErrorCode::HTTP2_STREAM, "stream error with")
        } else {
            (ErrorCode::HTTP2_CONNECTION, "connection error with")
        };
        Self::new(
            ErrorCode(base.0 + offset),
            format!("http2: {what} http2 ErrCode {name}"),
        )
    }
}

/// An error enum's variant name in lower-case words (`NoCipherSuitesInCommon` -> "no cipher
/// suites in common"), for the rustls and webpki errors whose `Display` is their `Debug`.
fn words(e: &impl fmt::Debug) -> String {
    let name = format!("{e:?}");
    let name = name.split(['(', ' ', '{']).next().unwrap_or_default();
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// HTTP/2 error code names as RFC 9113 (and Go) spell them.
fn h2_code_name(code: u32) -> String {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    match NAMES.get(code as usize) {
        Some(n) => (*n).to_string(),
        None => format!("unknown error code 0x{code:x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_errors_use_k6_codes() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(RequestError::dial(&refused).code, ErrorCode::DIAL_REFUSED);
        assert_eq!(
            RequestError::dial(&refused).message,
            "dial: connection refused"
        );
        assert_eq!(RequestError::timeout(true).code.0, 1211);
        assert_eq!(RequestError::timeout(false).code.0, 1050);
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(RequestError::io(&reset, "read").code.0, 1220);
        assert_eq!(
            RequestError::io(&reset, "read").message,
            "read: connection reset by peer"
        );
    }

    #[test]
    fn status_codes_at_or_above_400_get_1000_plus_status() {
        assert_eq!(ErrorCode::for_status(404).0, 1404);
        assert!(ErrorCode::for_status(302).is_none());
    }

    #[test]
    fn http2_errors_get_k6_16xx_codes() {
        let e = RequestError::h2(&h2::Error::from(h2::Reason::PROTOCOL_ERROR), "read");
        assert_eq!(e.code.0, 1652);
        assert_eq!(
            e.message,
            "http2: connection error with http2 ErrCode PROTOCOL_ERROR"
        );
    }

    #[test]
    fn rustls_variant_names_read_as_words() {
        assert_eq!(
            words(&rustls::PeerIncompatible::NoCipherSuitesInCommon),
            "no cipher suites in common"
        );
        assert_eq!(
            words(&rustls::AlertDescription::HandshakeFailure),
            "handshake failure"
        );
    }

    #[test]
    fn h2_code_names_follow_the_rfc() {
        assert_eq!(h2_code_name(1), "PROTOCOL_ERROR");
        assert_eq!(h2_code_name(0xd), "HTTP_1_1_REQUIRED");
        assert_eq!(h2_code_name(0x20), "unknown error code 0x20");
    }
}
