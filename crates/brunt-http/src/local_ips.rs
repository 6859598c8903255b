//! k6's `--local-ips`: the source addresses VUs make their requests from, given as addresses,
//! `first-last` ranges and CIDR blocks. As in k6, VU n (1-based, in this instance) takes the
//! pool's address n-1, round-robin.

use ipnet::IpNet;
use std::net::IpAddr;

/// One range of the pool: its first address and how many follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Range {
    first: IpAddr,
    len: u128,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIps {
    ranges: Vec<Range>,
    total: u128,
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4).into(),
        IpAddr::V6(v6) => v6.into(),
    }
}

fn from_u128(like: IpAddr, n: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4((n as u32).into()),
        IpAddr::V6(_) => IpAddr::V6(n.into()),
    }
}

impl LocalIps {
    /// Parses k6's comma-separated list; the error names the entry that is not an address,
    /// range or CIDR block.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for s in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad =
                || format!("'{s}' is not an IP address, a range (first-last) or a CIDR block");
            let range = if let Some((a, b)) = s.split_once('-') {
                let (a, b): (IpAddr, IpAddr) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if a.is_ipv4() != b.is_ipv4() || to_u128(b) < to_u128(a) {
                    return Err(format!(
                        "'{s}': the range's end must follow its start, in one family"
                    ));
                }
                Range {
                    first: a,
                    len: to_u128(b) - to_u128(a) + 1,
                }
            } else if s.contains('/') {
                let net: IpNet = s.parse().map_err(|_| bad())?;
                let bits = net.max_prefix_len() - net.prefix_len();
                Range {
                    first: net.network(),
                    len: 1u128.checked_shl(bits.into()).unwrap_or(u128::MAX),
                }
            } else {
                Range {
                    first: s.parse().map_err(|_| bad())?,
                    len: 1,
                }
            };
            ranges.push(range);
        }
        if ranges.is_empty() {
            return Err("no address given".into());
        }
        let total = ranges.iter().fold(0u128, |t, r| t.saturating_add(r.len));
        Ok(LocalIps { ranges, total })
    }

    /// The source address of the VU with this 1-based id in the instance (setup's VU 0 takes
    /// the first, as VU 1 does).
    pub fn for_vu(&self, id_in_instance: u64) -> IpAddr {
        let mut i = u128::from(id_in_instance.saturating_sub(1)) % self.total;
        for r in &self.ranges {
            if i < r.len {
                return from_u128(r.first, to_u128(r.first) + i);
            }
            i -= r.len;
        }
        self.ranges[0].first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vus_take_the_pools_addresses_round_robin() {
        let p = LocalIps::parse("127.0.0.2, 127.0.1.0-127.0.1.1, 10.0.0.0/31").unwrap();
        let got: Vec<String> = (1..=6).map(|vu| p.for_vu(vu).to_string()).collect();
        assert_eq!(
            got,
            [
                "127.0.0.2",
                "127.0.1.0",
                "127.0.1.1",
                "10.0.0.0",
                "10.0.0.1",
                "127.0.0.2"
            ]
        );
        assert_eq!(p.for_vu(0).to_string(), "127.0.0.2");
        assert!(LocalIps::parse("127.0.0.9-127.0.0.1").is_err());
        assert!(LocalIps::parse("host").unwrap_err().contains("'host'"));
        assert!(LocalIps::parse("").is_err());
    }
}
