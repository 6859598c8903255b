//! k6's system tags: the tags brunt itself puts on samples, and which of them a run attaches
//! (`--system-tags`, `K6_SYSTEM_TAGS`, `options.systemTags`). Leaving one out removes it where
//! the sample is made, so it costs no series, as in k6.

use std::fmt;

/// One of k6's system tags, named as k6 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemTag {
    Proto,
    Subproto,
    Status,
    Method,
    Url,
    Name,
    Group,
    Check,
    Error,
    ErrorCode,
    TlsVersion,
    Scenario,
    Service,
    ExpectedResponse,
    OcspStatus,
    Ip,
}

impl SystemTag {
    /// Every system tag with its name, k6's order.
    const ALL: [(SystemTag, &'static str); 16] = [
        (SystemTag::Proto, "proto"),
        (SystemTag::Subproto, "subproto"),
        (SystemTag::Status, "status"),
        (SystemTag::Method, "method"),
        (SystemTag::Url, "url"),
        (SystemTag::Name, "name"),
        (SystemTag::Group, "group"),
        (SystemTag::Check, "check"),
        (SystemTag::Error, "error"),
        (SystemTag::ErrorCode, "error_code"),
        (SystemTag::TlsVersion, "tls_version"),
        (SystemTag::Scenario, "scenario"),
        (SystemTag::Service, "service"),
        (SystemTag::ExpectedResponse, "expected_response"),
        (SystemTag::OcspStatus, "ocsp_status"),
        (SystemTag::Ip, "ip"),
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The system tags a run attaches. The default is k6's: all but `ocsp_status` and `ip` (and
/// k6's `vu` and `iter`, which brunt does not attach; see [`SystemTags::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemTags(u32);

impl Default for SystemTags {
    fn default() -> Self {
        let off = SystemTag::OcspStatus.bit() | SystemTag::Ip.bit();
        SystemTags(SystemTag::ALL.iter().fold(0, |b, (t, _)| b | t.bit()) & !off)
    }
}

impl SystemTags {
    /// The tags named in `names` (blank names are skipped, so `""` is none). An unknown name is
    /// an error listing k6's; `vu` and `iter` are refused with why (k6 keeps them as per-sample
    /// metadata, which brunt's aggregated samples do not carry).
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<SystemTags, String> {
        let mut bits = 0;
        for name in names.into_iter().map(str::trim).filter(|n| !n.is_empty()) {
            if name == "vu" || name == "iter" {
                return Err(format!(
                    "the '{name}' system tag is not supported: brunt aggregates samples as they are \
                     made and keeps no per-sample VU or iteration number"
                ));
            }
            let (tag, _) = SystemTag::ALL
                .iter()
                .find(|(_, n)| *n == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = SystemTag::ALL.iter().map(|(_, n)| *n).collect();
                    format!(
                        "unknown system tag '{name}'; the system tags are {}",
                        known.join(", ")
                    )
                })?;
            bits |= tag.bit();
        }
        Ok(SystemTags(bits))
    }

    /// Whether samples carry `tag`.
    pub fn has(self, tag: SystemTag) -> bool {
        self.0 & tag.bit() != 0
    }

    /// The set as bits, to keep in an atomic ([`SystemTags::from_bits`] gives it back).
    pub fn bits(self) -> u32 {
        self.0
    }

    pub fn from_bits(bits: u32) -> SystemTags {
        SystemTags(bits)
    }
}

impl fmt::Display for SystemTags {
    /// The names, comma-separated, in k6's order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = SystemTag::ALL
            .iter()
            .filter(|(t, _)| self.has(*t))
            .map(|(_, n)| *n)
            .collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_k6s() {
        assert_eq!(
            SystemTags::default().to_string(),
            "proto,subproto,status,method,url,name,group,check,error,error_code,tls_version,\
             scenario,service,expected_response"
        );
    }

    #[test]
    fn names_parse_and_unknown_ones_are_refused() {
        let t = SystemTags::parse(["status", " ip", ""]).unwrap();
        assert!(t.has(SystemTag::Status) && t.has(SystemTag::Ip));
        assert!(!t.has(SystemTag::Url));
        assert_eq!(SystemTags::parse([""]).unwrap().to_string(), "");
        let e = SystemTags::parse(["stauts"]).unwrap_err();
        assert!(
            e.contains("'stauts'") && e.contains("expected_response"),
            "{e}"
        );
        assert!(SystemTags::parse(["vu"]).unwrap_err().contains("'vu'"));
        let t = SystemTags::default();
        assert_eq!(SystemTags::from_bits(t.bits()), t);
    }
}
