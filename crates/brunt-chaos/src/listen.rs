//! A proxy's `listen` address, read in Go's `host:port` form and bound as
//! Toxiproxy's `net.Listen("tcp", listen)` binds it.
//!
//! Rust's resolver refuses forms Go accepts (`:0`, `:8080`), so the address is
//! split here: an empty host means every interface, a name is resolved and its
//! first IPv4 address preferred (as Go does for listening). One deliberate
//! difference: an omitted (empty) listen binds loopback, not every interface.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpListener;

use crate::error::ApiError;

/// A resolved listen address.
#[derive(Debug)]
pub(crate) struct ListenAddr {
    /// What to bind; `[::]:port` when the host was empty.
    pub addr: SocketAddr,
    /// The host was empty (`:port`): every interface, named `:port` in errors as Go does.
    any_host: bool,
}

/// Resolves `listen`; an empty one is loopback on a free port, because a fault
/// proxy opened to the network by omission would be a hazard.
pub(crate) async fn resolve(listen: &str) -> Result<ListenAddr, ApiError> {
    if listen.is_empty() {
        return Ok(ListenAddr {
            addr: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
            any_host: false,
        });
    }
    let (host, port) = split_host_port(listen).map_err(ApiError::listen_address)?;
    let port = parse_port(port).map_err(ApiError::listen_address)?;
    if host.is_empty() {
        return Ok(ListenAddr {
            addr: SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port),
            any_host: true,
        });
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ListenAddr {
            addr: SocketAddr::new(ip, port),
            any_host: false,
        });
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| ApiError::listen_address(format!("lookup {host}: {e}")))?
        .collect();
    let addr = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| ApiError::listen_address(format!("lookup {host}: no such host")))?;
    Ok(ListenAddr {
        addr,
        any_host: false,
    })
}

impl ListenAddr {
    /// Binds the address; a bind error names the resolved address, as Go's does.
    pub async fn bind(&self) -> Result<TcpListener, ApiError> {
        let bound = TcpListener::bind(self.addr).await;
        let bound = match bound {
            // Go falls back to IPv4 for an empty host where the machine has no IPv6.
            Err(e) if self.any_host && !is_bind_conflict(&e) => {
                TcpListener::bind(SocketAddr::new(
                    Ipv4Addr::UNSPECIFIED.into(),
                    self.addr.port(),
                ))
                .await
            }
            other => other,
        };
        bound.map_err(|e| ApiError::listen(&self.go_name(), &e))
    }

    /// The address as Go's error messages write it: `:port` for every interface.
    fn go_name(&self) -> String {
        if self.any_host {
            format!(":{}", self.addr.port())
        } else {
            self.addr.to_string()
        }
    }
}

fn is_bind_conflict(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::AddrInUse | std::io::ErrorKind::PermissionDenied
    )
}

/// Splits `host:port` with Go's rules and messages (IPv6 hosts in brackets).
fn split_host_port(hostport: &str) -> Result<(&str, &str), String> {
    let err = |why: &str| format!("address {hostport}: {why}");
    let Some(colon) = hostport.rfind(':') else {
        return Err(err("missing port in address"));
    };
    let host = if let Some(rest) = hostport.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err(err("missing ']' in address"));
        };
        if end + 2 != colon {
            return Err(err(if rest[end + 1..].starts_with(':') {
                "too many colons in address"
            } else {
                "missing port in address"
            }));
        }
        &rest[..end]
    } else {
        let host = &hostport[..colon];
        if host.contains(':') {
            return Err(err("too many colons in address"));
        }
        host
    };
    Ok((host, &hostport[colon + 1..]))
}

/// A numeric port; empty is 0 as in Go. Service names (`http`) are not looked up.
fn parse_port(port: &str) -> Result<u16, String> {
    if port.is_empty() {
        return Ok(0);
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("lookup tcp/{port}: unknown port"));
    }
    port.parse()
        .map_err(|_| format!("address {port}: invalid port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_go() {
        assert_eq!(split_host_port(":0"), Ok(("", "0")));
        assert_eq!(split_host_port("localhost:8080"), Ok(("localhost", "8080")));
        assert_eq!(split_host_port("[::1]:0"), Ok(("::1", "0")));
        assert_eq!(
            split_host_port("nonsense"),
            Err("address nonsense: missing port in address".into())
        );
        assert_eq!(
            split_host_port("::1:80"),
            Err("address ::1:80: too many colons in address".into())
        );
        assert_eq!(
            split_host_port("[::1]"),
            Err("address [::1]: missing port in address".into())
        );
        assert_eq!(
            split_host_port("[::1:80"),
            Err("address [::1:80: missing ']' in address".into())
        );
        assert_eq!(
            parse_port("99999"),
            Err("address 99999: invalid port".into())
        );
        assert_eq!(
            parse_port("http"),
            Err("lookup tcp/http: unknown port".into())
        );
    }
}
