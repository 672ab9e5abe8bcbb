//! Hold tokens: the hold's facts, signed with HMAC-SHA256 so a client can neither forge nor alter one.
//!
//! Format: `base64url(JSON claims) "." base64url(HMAC(secret, "hold.v1." + first part))`.

use crate::domain::motif::Motif;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// What a hold token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldClaims {
    /// Random id of the hold (also the Redis entry and the appointment's `hold_ref`).
    pub hid: String,
    /// Site of the slot.
    pub site: Uuid,
    /// Station chosen for it.
    pub station: Uuid,
    /// Start, Unix seconds.
    pub start: i64,
    /// End, Unix seconds.
    pub end: i64,
    /// Motif.
    pub motif: Motif,
    /// Number of persons.
    pub persons: u8,
    /// Issued at, Unix seconds (the rules are re-checked as of this instant).
    pub iat: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Hashed client key, to release the client's quota.
    pub cli: String,
}

impl HoldClaims {
    /// Start as an instant.
    pub fn start_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.start, 0).unwrap_or_default()
    }

    /// End as an instant.
    pub fn end_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.end, 0).unwrap_or_default()
    }

    /// Issue instant.
    pub fn issued_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.iat, 0).unwrap_or_default()
    }

    /// Expiry instant.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

/// The token is not one this service signed, or was altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid hold token")]
pub struct InvalidToken;

/// Signs and verifies hold tokens with the configured secret.
#[derive(Clone)]
pub struct HoldSigner {
    /// The signing key first; during a rotation, the previous one (verification only: a hold
    /// issued just before the switch is still confirmed).
    keys: Vec<Vec<u8>>,
}

impl HoldSigner {
    /// A signer for `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            keys: vec![secret.to_vec()],
        }
    }

    /// A signer with the ring's current hold key, accepting the previous one too.
    pub fn from_ring(ring: &crate::secrets::KeyRing) -> Self {
        Self {
            keys: ring.all(|k| &k.hold).into_iter().map(|k| k.to_vec()).collect(),
        }
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        Self::mac_with(&self.keys[0], payload)
    }

    fn mac_with(key: &[u8], payload: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(b"hold.v1.");
        mac.update(payload.as_bytes());
        mac
    }

    /// The token for `claims`.
    pub fn sign(&self, claims: &HoldClaims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let tag = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// The claims of a token this service signed (expiry is the caller's to check).
    pub fn verify(&self, token: &str) -> Result<HoldClaims, InvalidToken> {
        if token.len() > 2048 {
            return Err(InvalidToken);
        }
        let (payload, tag) = token.split_once('.').ok_or(InvalidToken)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| InvalidToken)?;
        // Constant-time comparison, under each accepted key.
        if !self
            .keys
            .iter()
            .any(|k| Self::mac_with(k, payload).verify_slice(&tag).is_ok())
        {
            return Err(InvalidToken);
        }
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidToken)?;
        serde_json::from_slice(&json).map_err(|_| InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> HoldClaims {
        HoldClaims {
            hid: "0123456789abcdef".into(),
            site: Uuid::new_v4(),
            station: Uuid::new_v4(),
            start: 1_800_000_000,
            end: 1_800_000_900,
            motif: Motif::Passport,
            persons: 2,
            iat: 1_799_000_000,
            exp: 1_799_000_600,
            cli: "c".into(),
        }
    }

    #[test]
    fn round_trip() {
        let s = HoldSigner::new(b"secret");
        let c = claims();
        assert_eq!(s.verify(&s.sign(&c)).unwrap(), c);
    }

    #[test]
    fn every_single_byte_change_is_refused() {
        let s = HoldSigner::new(b"secret");
        let token = s.sign(&claims());
        let bytes = token.as_bytes();
        for i in 0..bytes.len() {
            let mut altered = bytes.to_vec();
            altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).unwrap();
            if altered != token {
                assert!(s.verify(&altered).is_err(), "byte {i} altered yet accepted");
            }
        }
        assert!(HoldSigner::new(b"other").verify(&token).is_err());
        assert!(s.verify("").is_err());
        assert!(s.verify("abc").is_err());
    }
}
