//! Who is the client, for quotas: the socket's peer address, or behind trusted proxies the address
//! they forwarded; an IPv6 client is its /64; the key is an HMAC, so no address is ever stored.

use crate::app::AppState;
use crate::config::CidrList;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// The peer address when the server records it (it does; a router driven without a socket does not).
pub struct PeerAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0),
        ))
    }
}

/// The client's address: the socket's peer, unless the peer is a trusted proxy; then the
/// rightmost `X-Forwarded-For` entry that is not itself a trusted proxy (a chain of proxies each
/// appends the address it saw; whatever is left of the last untrusted entry was written by the
/// client and proves nothing). `None` only for a router driven without a socket.
pub fn client_ip(trusted: &CidrList, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
    let peer = peer.map(canonical)?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    for entry in entries.iter().rev() {
        match entry.parse::<IpAddr>().map(canonical) {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            // Garbage where an address should be: the proxy we trust did not write it, so the
            // best we know is the proxy itself (never a key the client can choose freely).
            Err(_) => return Some(peer),
        }
    }
    Some(peer)
}

/// IPv4-mapped IPv6 addresses are the IPv4 client they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// What one client is for quotas: an IPv4 address, or an IPv6 /64 (one subscriber's allocation:
/// keying on the full address would give everyone 2^64 identities).
fn bucket(ip: Option<IpAddr>) -> Vec<u8> {
    match ip {
        Some(IpAddr::V4(v4)) => v4.octets().to_vec(),
        Some(IpAddr::V6(v6)) => {
            let mut b = vec![6];
            b.extend_from_slice(&v6.octets()[..8]);
            b
        }
        None => b"unknown".to_vec(),
    }
}

/// A stable, non-reversible key for the client behind a request: an HMAC of its bucket under a
/// key derived from `APP_SECRET`, so Redis and memory never hold an address.
pub fn client_key(state: &AppState, headers: &HeaderMap, peer: &PeerAddr) -> String {
    let ip = client_ip(&state.config.trusted_proxies, headers, peer.0.map(|a| a.ip()));
    keyed(&state.client_key, ip)
}

/// The key of `ip` under `secret`.
pub fn keyed(secret: &[u8; 32], ip: Option<IpAddr>) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(&bucket(ip));
    let digest = mac.finalize().into_bytes();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Per-client rate limit of public writes: 429 with `Retry-After` beyond `PUBLIC_WRITES_PER_MINUTE`.
/// Counted across every instance (through Redis), so a balancer spreading a client's requests
/// does not multiply its allowance.
pub async fn check_write_rate(state: &AppState, client: &str) -> Result<(), crate::error::ApiError> {
    state
        .write_limiter
        .check(&state.kv, client)
        .await
        .map_err(|wait| {
            crate::error::ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Trop de demandes depuis votre connexion : patientez quelques secondes.",
            )
            .with_retry_after(wait)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn net(s: &str) -> CidrList {
        CidrList(s.split(',').map(|n| n.parse().unwrap()).collect())
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() {
        let none = CidrList::default();
        assert_eq!(
            client_ip(&none, &xff("1.2.3.4"), ip("127.0.0.2")),
            ip("127.0.0.2")
        );
        assert_eq!(
            client_ip(&none, &HeaderMap::new(), ip("::ffff:192.0.2.1")),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_entry_wins() {
        let proxies = net("10.0.0.0/8");
        // The client forged "6.6.6.6"; the edge proxy appended the real 203.0.113.9; an inner
        // proxy appended the edge's address.
        let h = xff("6.6.6.6, 203.0.113.9, 10.0.0.5");
        assert_eq!(client_ip(&proxies, &h, ip("10.0.0.6")), ip("203.0.113.9"));
        // An untrusted peer's header is ignored.
        assert_eq!(client_ip(&proxies, &h, ip("198.51.100.1")), ip("198.51.100.1"));
        // Garbage where the proxy's entry should be: the proxy, never a chosen key.
        assert_eq!(
            client_ip(&proxies, &xff("1.1.1.1, not-an-ip"), ip("10.0.0.6")),
            ip("10.0.0.6")
        );
        // Only proxies in the chain: the peer.
        assert_eq!(
            client_ip(&proxies, &xff("10.1.1.1"), ip("10.0.0.6")),
            ip("10.0.0.6")
        );
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64_and_keys_depend_on_the_secret() {
        let k = [7u8; 32];
        let a = keyed(&k, ip("2001:db8:1:2:aaaa::1"));
        assert_eq!(a, keyed(&k, ip("2001:db8:1:2:ffff:ffff:ffff:ffff")));
        assert_ne!(a, keyed(&k, ip("2001:db8:1:3::1")));
        assert_ne!(keyed(&k, ip("192.0.2.1")), keyed(&[8u8; 32], ip("192.0.2.1")));
        assert_ne!(keyed(&k, ip("192.0.2.1")), keyed(&k, ip("192.0.2.2")));
    }
}
