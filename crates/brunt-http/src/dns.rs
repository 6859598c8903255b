//! Name resolution as k6's `dns` option sets it (default `ttl=5m,select=random,policy=preferIPv4`):
//! each client caches answers for `ttl`, keeps the addresses `policy` allows, and connects to
//! the one `select` picks on each lookup.

use crate::error::RequestError;
use rand::Rng;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which address of an answer a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Select {
    First,
    #[default]
    Random,
    RoundRobin,
}

/// Which address families an answer keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// IPv4 addresses when the answer has any, else IPv6 ones.
    #[default]
    PreferIpv4,
    PreferIpv6,
    OnlyIpv4,
    OnlyIpv6,
    Any,
}

/// k6's `dns` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsConfig {
    /// How long an answer is kept; None keeps it for the run (`inf`), zero never (`0`).
    pub ttl: Option<Duration>,
    pub select: Select,
    pub policy: Policy,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            ttl: Some(Duration::from_secs(5 * 60)),
            select: Select::default(),
            policy: Policy::default(),
        }
    }
}

impl DnsConfig {
    /// Parses k6's `ttl=..,select=..,policy=..` (any subset; the rest keep k6's defaults). A
    /// ttl without a unit is milliseconds, as in k6.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut c = DnsConfig::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}': use ttl=..., select=... or policy=..."))?;
            match k {
                "ttl" => {
                    c.ttl = match v {
                        "inf" => None,
                        _ => Some(parse_ttl(v).ok_or_else(|| {
                            format!("invalid DNS TTL '{v}': use inf, 0 or a duration such as 5m")
                        })?),
                    }
                }
                "select" => {
                    c.select = match v {
                        "first" => Select::First,
                        "random" => Select::Random,
                        "roundRobin" => Select::RoundRobin,
                        _ => return Err(format!("select '{v}': use first, random or roundRobin")),
                    }
                }
                "policy" => {
                    c.policy = match v {
                        "preferIPv4" => Policy::PreferIpv4,
                        "preferIPv6" => Policy::PreferIpv6,
                        "onlyIPv4" => Policy::OnlyIpv4,
                        "onlyIPv6" => Policy::OnlyIpv6,
                        "any" => Policy::Any,
                        _ => {
                            return Err(format!(
                            "policy '{v}': use preferIPv4, preferIPv6, onlyIPv4, onlyIPv6 or any"
                        ))
                        }
                    }
                }
                _ => {
                    return Err(format!(
                        "unknown DNS setting '{k}': use ttl, select or policy"
                    ))
                }
            }
        }
        Ok(c)
    }
}

/// `500` (milliseconds), `1s`, `5m`, `1h30m`, `0`.
fn parse_ttl(v: &str) -> Option<Duration> {
    if let Ok(ms) = v.parse::<u64>() {
        return Some(Duration::from_millis(ms));
    }
    let mut total = Duration::ZERO;
    let mut rest = v;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let n: f64 = rest[..digits].parse().ok()?;
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        let unit = match &rest[digits..digits + unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += Duration::from_secs_f64(n * unit);
        rest = &rest[digits + unit_len..];
    }
    Some(total)
}

/// The addresses `policy` keeps, in the resolver's order.
fn filter(ips: &[IpAddr], policy: Policy) -> Vec<IpAddr> {
    let v4: Vec<IpAddr> = ips.iter().copied().filter(IpAddr::is_ipv4).collect();
    let v6: Vec<IpAddr> = ips.iter().copied().filter(IpAddr::is_ipv6).collect();
    match policy {
        Policy::PreferIpv4 if !v4.is_empty() => v4,
        Policy::PreferIpv6 if !v6.is_empty() => v6,
        Policy::OnlyIpv4 => v4,
        Policy::OnlyIpv6 => v6,
        _ => ips.to_vec(),
    }
}

/// When an answer was received, and its addresses (after the policy).
type Answer = (Instant, Arc<[IpAddr]>);

#[derive(Default)]
pub(crate) struct Resolver {
    config: DnsConfig,
    cache: RefCell<HashMap<Box<str>, Answer>>,
    /// `select=roundRobin`'s turn.
    turn: Cell<usize>,
}

impl Resolver {
    pub fn new(config: DnsConfig) -> Self {
        Resolver {
            config,
            ..Resolver::default()
        }
    }

    /// The address to connect to for `host`; an answer the policy leaves empty is k6's
    /// "no such host".
    pub async fn resolve(&self, host: &str) -> Result<Arc<[IpAddr]>, RequestError> {
        let ips = self.answer(host).await?;
        let i = match self.config.select {
            Select::First => 0,
            Select::Random => rand::rng().random_range(0..ips.len()),
            Select::RoundRobin => {
                let t = self.turn.get();
                self.turn.set(t.wrapping_add(1));
                t % ips.len()
            }
        };
        Ok(Arc::new([ips[i]]))
    }

    async fn answer(&self, host: &str) -> Result<Arc<[IpAddr]>, RequestError> {
        if let Some((at, ips)) = self.cache.borrow().get(host) {
            if self.config.ttl.is_none_or(|ttl| at.elapsed() < ttl) {
                return Ok(ips.clone());
            }
        }
        let answer = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| RequestError::dns(host, &e))?;
        let mut ips: Vec<IpAddr> = answer.map(|a| a.ip()).collect();
        ips.dedup();
        let ips = filter(&ips, self.config.policy);
        if ips.is_empty() {
            return Err(RequestError::no_such_host());
        }
        let ips: Arc<[IpAddr]> = ips.into();
        if self.config.ttl != Some(Duration::ZERO) {
            self.cache
                .borrow_mut()
                .insert(host.into(), (Instant::now(), ips.clone()));
        }
        Ok(ips)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k6s_dns_settings_parse_and_bad_ones_are_named() {
        let c = DnsConfig::parse("ttl=inf,select=roundRobin,policy=onlyIPv6").unwrap();
        assert_eq!(
            (c.ttl, c.select, c.policy),
            (None, Select::RoundRobin, Policy::OnlyIpv6)
        );
        assert_eq!(
            DnsConfig::parse("ttl=1500").unwrap().ttl,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            DnsConfig::parse("ttl=1m30s").unwrap().ttl,
            Some(Duration::from_secs(90))
        );
        assert_eq!(DnsConfig::parse("").unwrap(), DnsConfig::default());
        assert!(DnsConfig::parse("ttl=x").unwrap_err().contains("'x'"));
        assert!(DnsConfig::parse("select=foo")
            .unwrap_err()
            .contains("'foo'"));
        assert!(DnsConfig::parse("policy=bar")
            .unwrap_err()
            .contains("'bar'"));
        assert!(DnsConfig::parse("foo=1").unwrap_err().contains("'foo'"));
    }

    #[test]
    fn policies_keep_the_families_k6_keeps() {
        let ips: Vec<IpAddr> = ["::1", "127.0.0.1", "10.0.0.1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let show = |p| {
            filter(&ips, p)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(show(Policy::PreferIpv4), ["127.0.0.1", "10.0.0.1"]);
        assert_eq!(show(Policy::PreferIpv6), ["::1"]);
        assert_eq!(show(Policy::OnlyIpv6), ["::1"]);
        assert_eq!(show(Policy::Any).len(), 3);
        assert!(filter(&ips[..1], Policy::OnlyIpv4).is_empty());
        assert_eq!(filter(&ips[..1], Policy::PreferIpv4), ips[..1]);
    }

    #[tokio::test]
    async fn localhost_resolves_to_ipv4_and_round_robin_takes_turns() {
        let r = Resolver::default();
        assert!(r.resolve("localhost").await.unwrap()[0].is_ipv4());
        let r = Resolver::new(DnsConfig::parse("select=roundRobin,policy=onlyIPv4").unwrap());
        assert!(r.resolve("localhost").await.unwrap()[0].is_ipv4());
        assert_eq!(r.turn.get(), 1);
    }
}
