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

/// Seals and opens short secrets.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

/// The sealed value was altered or sealed with another key.
#[derive(Debug, thiserror::Error)]
#[error("sealed value cannot be opened")]
pub struct OpenError;

impl Sealer {
    /// A sealer with a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// `nonce || ciphertext`.
    pub fn seal(&self, plain: &str) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(
            self.cipher
                .encrypt(&nonce, plain.as_bytes())
                .expect("encryption cannot fail"),
        );
        out
    }

    /// The plain text of a sealed value.
    pub fn open(&self, sealed: &[u8]) -> Result<String, OpenError> {
        if sealed.len() < 24 {
            return Err(OpenError);
        }
        let (nonce, ct) = sealed.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
