//! k6's `blacklistIPs` and `blockHostnames`: requests to these addresses or names fail before
//! any connection is made, with k6's errors (codes 1110 and 1111).

use crate::error::{ErrorCode, RequestError};
use ipnet::IpNet;
use std::net::IpAddr;

/// Address ranges no request may connect to (`--blacklist-ip 10.0.0.0/8,...`).
#[derive(Debug, Clone, Default)]
pub struct BlockedIps(Vec<IpNet>);

impl BlockedIps {
    /// Parses k6's comma-separated CIDR list; the error names the range that is not one.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>().map_err(|_| {
                    format!("'{s}' is not an IP range in CIDR notation (e.g. 10.0.0.0/8)")
                })
            })
            .collect::<Result<_, _>>()
            .map(BlockedIps)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// k6's error for a connection to `ip` when a range holds it.
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), RequestError> {
        match self.0.iter().find(|net| net.contains(&ip)) {
            Some(net) => Err(RequestError::new(
                ErrorCode::BLACKLISTED_IP,
                format!("IP ({ip}) is in a blacklisted range ({net})"),
            )),
            None => Ok(()),
        }
    }
}

/// Host name patterns no request may resolve (`--block-hostnames '*.example.com,api.test'`): an
/// exact name, or `*` followed by the end of the name.
#[derive(Debug, Clone, Default)]
pub struct BlockedHostnames(Vec<String>);

impl BlockedHostnames {
    /// Parses k6's comma-separated pattern list; `*` may only start a pattern, as in k6.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let rest = s.strip_prefix('*').unwrap_or(s);
                let ok = !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
                if ok {
                    Ok(s.to_ascii_lowercase())
                } else {
                    Err(format!(
                        "'{s}' is not a host name pattern: use a name, or '*.' and a domain (wildcards only at the start)"
                    ))
                }
            })
            .collect::<Result<_, _>>()
            .map(BlockedHostnames)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// k6's error for a request to `host` when a pattern matches it.
    pub(crate) fn check(&self, host: &str) -> Result<(), RequestError> {
        let host = host.to_ascii_lowercase();
        let hit = self.0.iter().find(|p| match p.strip_prefix('*') {
            Some(suffix) => host.ends_with(suffix),
            None => **p == host,
        });
        match hit {
            Some(p) => Err(RequestError::new(
                ErrorCode::BLOCKED_HOSTNAME,
                format!("hostname ({host}) is in a blocked pattern ({p})"),
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_patterns_match_as_in_k6() {
        let ips = BlockedIps::parse("127.0.0.0/8, ::1/128").unwrap();
        assert_eq!(
            ips.check("127.1.2.3".parse().unwrap()).unwrap_err().message,
            "IP (127.1.2.3) is in a blacklisted range (127.0.0.0/8)"
        );
        assert!(ips.check("10.0.0.1".parse().unwrap()).is_ok());
        assert!(BlockedIps::parse("127.0.0.0/33").is_err());
        let names = BlockedHostnames::parse("*.example.com,LocalHost").unwrap();
        assert!(names.check("a.b.example.com").is_err());
        assert!(names.check("example.com").is_ok());
        assert_eq!(
            names.check("localhost").unwrap_err().code,
            ErrorCode::BLOCKED_HOSTNAME
        );
        assert!(BlockedHostnames::parse("a.*.com").is_err());
    }
}
