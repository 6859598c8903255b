//! Name resolution with k6's defaults (`dns: ttl=5m, policy=preferIPv4`): answers are cached by
//! each client for five minutes, and IPv4 addresses are tried before IPv6 ones.

use crate::error::RequestError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(5 * 60);

/// When an answer was received, and its addresses.
type Answer = (Instant, Arc<[IpAddr]>);

#[derive(Default)]
pub(crate) struct Resolver {
    cache: RefCell<HashMap<Box<str>, Answer>>,
}

impl Resolver {
    /// The addresses of `host`, IPv4 first; an empty answer is k6's "no such host".
    pub async fn resolve(&self, host: &str) -> Result<Arc<[IpAddr]>, RequestError> {
        if let Some((at, ips)) = self.cache.borrow().get(host) {
            if at.elapsed() < TTL {
                return Ok(ips.clone());
            }
        }
        let answer = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| RequestError::dns(host, &e))?;
        let mut ips: Vec<IpAddr> = answer.map(|a| a.ip()).collect();
        ips.dedup();
        // Stable: the resolver's order is kept within each family.
        ips.sort_by_key(|ip| ip.is_ipv6());
        if ips.is_empty() {
            return Err(RequestError::no_such_host());
        }
        let ips: Arc<[IpAddr]> = ips.into();
        self.cache
            .borrow_mut()
            .insert(host.into(), (Instant::now(), ips.clone()));
        Ok(ips)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn localhost_resolves_ipv4_first_and_is_cached() {
        let r = Resolver::default();
        let ips = r.resolve("localhost").await.unwrap();
        assert!(ips[0].is_ipv4(), "{ips:?}");
        assert!(Arc::ptr_eq(&ips, &r.resolve("localhost").await.unwrap()));
    }
}
