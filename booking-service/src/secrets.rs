//! Keys derived from the one `APP_SECRET`, and the sealing of management tokens.
//!
//! Only a hash of a management token is stored for lookups; the notifier still has to put the link
//! in every email (confirmation, reminder two days later, cancellation), so the token is also kept
//! sealed (XChaCha20-Poly1305) with a key the database never sees.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Purpose-specific keys derived from the application secret.
pub struct Keys {
    /// HMAC key of hold tokens.
    pub hold: [u8; 32],
    /// Sealing key of management tokens.
    pub seal: [u8; 32],
    /// HMAC key of client addresses (quota keys never store an address, nor a plain hash of one
    /// that could be reversed by hashing the 2^32 IPv4 addresses).
    pub client: [u8; 32],
}

impl Keys {
    /// Derives the keys (HMAC-SHA256 of a label under the secret), so one secret serves all.
    pub fn derive(secret: &str) -> Self {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        Self {
            hold: derive(b"rdv/hold-token/v1"),
            seal: derive(b"rdv/manage-token-seal/v1"),
            client: derive(b"rdv/client-key/v1"),
        }
    }
}

/// The keys of `APP_SECRET`, and during a rotation those of `APP_SECRET_PREVIOUS`: what is made
/// now uses the current keys; what was made under the previous secret (hold tokens issued a
/// minute ago, management tokens sealed months ago) is still accepted until resealed.
pub struct KeyRing {
    /// Keys of the current secret.
    pub current: Keys,
    /// Keys of the secret being retired, if a rotation is under way.
    pub previous: Option<Keys>,
}

impl KeyRing {
    /// The ring of `current` and, during a rotation, `previous`.
    pub fn derive(current: &str, previous: Option<&str>) -> Self {
        Self {
            current: Keys::derive(current),
            previous: previous.map(Keys::derive),
        }
    }

    /// Every key of one purpose, the current first.
    pub fn all<'a>(&'a self, purpose: impl Fn(&'a Keys) -> &'a [u8; 32]) -> Vec<&'a [u8; 32]> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(purpose)
            .collect()
    }
}

/// Seals and opens short secrets.
pub struct Sealer {
    /// The current key's cipher first; then the previous one's during a rotation (opening only).
    ciphers: Vec<XChaCha20Poly1305>,
}

/// The sealed value was altered or sealed with another key.
#[derive(Debug, thiserror::Error)]
#[error("sealed value cannot be opened")]
pub struct OpenError;

impl Sealer {
    /// A sealer with a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            ciphers: vec![XChaCha20Poly1305::new(key.into())],
        }
    }

    /// A sealer that seals with the ring's current key and opens with either.
    pub fn from_ring(ring: &KeyRing) -> Self {
        Self {
            ciphers: ring
                .all(|k| &k.seal)
                .into_iter()
                .map(|k| XChaCha20Poly1305::new(k.into()))
                .collect(),
        }
    }

    /// `nonce || ciphertext`.
    pub fn seal(&self, plain: &str) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(
            self.ciphers[0]
                .encrypt(&nonce, plain.as_bytes())
                .expect("encryption cannot fail"),
        );
        out
    }

    /// The plain text of a sealed value.
    pub fn open(&self, sealed: &[u8]) -> Result<String, OpenError> {
        self.open_with_index(sealed).map(|(plain, _)| plain)
    }

    /// The plain text and which key opened it (0: the current one).
    fn open_with_index(&self, sealed: &[u8]) -> Result<(String, usize), OpenError> {
        if sealed.len() < 24 {
            return Err(OpenError);
        }
        let (nonce, ct) = sealed.split_at(24);
        let (i, plain) = self
            .ciphers
            .iter()
            .enumerate()
            .find_map(|(i, c)| c.decrypt(XNonce::from_slice(nonce), ct).ok().map(|p| (i, p)))
            .ok_or(OpenError)?;
        Ok((String::from_utf8(plain).map_err(|_| OpenError)?, i))
    }

    /// The value sealed again under the current key when an older key sealed it; `None` when it
    /// is current already or cannot be opened at all (left as is, counted by the caller).
    pub fn reseal(&self, sealed: &[u8]) -> Result<Option<Vec<u8>>, OpenError> {
        let (plain, key) = self.open_with_index(sealed)?;
        Ok((key > 0).then(|| self.seal(&plain)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn during_a_rotation_old_seals_open_and_are_resealed_under_the_new_key() {
        let old = Sealer::new(&Keys::derive("the secret being retired, long enough").seal);
        let sealed = old.seal("token-value");
        let ring = KeyRing::derive(
            "the new secret, long enough as well....",
            Some("the secret being retired, long enough"),
        );
        let rotating = Sealer::from_ring(&ring);
        assert_eq!(rotating.open(&sealed).unwrap(), "token-value");
        let resealed = rotating.reseal(&sealed).unwrap().expect("sealed by the old key");
        assert_eq!(rotating.reseal(&resealed).unwrap(), None, "current already");
        // Once the old secret is gone, only the resealed value opens.
        let after = Sealer::from_ring(&KeyRing::derive("the new secret, long enough as well....", None));
        assert_eq!(after.open(&resealed).unwrap(), "token-value");
        assert!(after.open(&sealed).is_err());
        assert!(after.reseal(&sealed).is_err());
    }

    #[test]
    fn seal_round_trip_and_tamper_detection() {
        let keys = Keys::derive("a secret long enough for the tests, really");
        assert_ne!(keys.hold, keys.seal);
        let s = Sealer::new(&keys.seal);
        let sealed = s.seal("token-value");
        assert_eq!(s.open(&sealed).unwrap(), "token-value");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(s.open(&bad).is_err());
        assert!(Sealer::new(&Keys::derive("another secret").seal)
            .open(&sealed)
            .is_err());
    }
}
