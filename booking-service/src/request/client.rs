//! Who is the client, for quotas: its address (or the proxy's `X-Forwarded-For` when trusted),
//! hashed so that Redis never stores an IP address.

use crate::app::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::SocketAddr;

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

/// A stable, non-reversible key for the client behind a request. Behind a trusted proxy, the
/// address is the last `X-Forwarded-For` entry: the one the proxy itself appended (entries to its
/// left come from the client and can be forged).
pub fn client_key(state: &AppState, headers: &HeaderMap, peer: &PeerAddr) -> String {
    let forwarded = state
        .config
        .trust_forwarded_for
        .then(|| headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
        .flatten()
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let addr = forwarded.unwrap_or_else(|| {
        peer.0
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    });
    let digest = Sha256::digest(addr.as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Per-client rate limit of public writes: 429 with `Retry-After` beyond `PUBLIC_WRITES_PER_MINUTE`.
pub fn check_write_rate(state: &AppState, client: &str) -> Result<(), crate::error::ApiError> {
    state.write_limiter.check_key(&client.to_string()).map_err(|_| {
        crate::error::ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Trop de demandes depuis votre connexion : patientez quelques secondes.",
        )
        .with_retry_after(10)
    })
}
