//! Random secrets handed to people: management links (citizens), session tokens (staff), and the
//! short references read over the phone. Only a SHA-256 of a token is stored; the token itself
//! leaves the service once, in the answer or (sealed, see [`crate::secrets`]) in an email.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new token (256 random bits, base64url: 43 characters) and the hash that is stored.
pub fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `token` has the shape [`new_token`] gives (checked before any lookup).
pub fn has_token_shape(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A short reference citizens can read over the phone: `RDV-` and 8 unambiguous characters.
pub fn new_reference() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut bytes = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let code: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("RDV-{}-{}", &code[..4], &code[4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_their_shape_and_differ_and_references_avoid_ambiguous_letters() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert!(has_token_shape(&a) && has_token_shape(&b));
        assert_ne!(a, b);
        assert_eq!(ha, hash_token(&a));
        assert!(!has_token_shape(&a[1..]));
        assert!(!has_token_shape(&format!("{}=", &a[1..])));
        let r = new_reference();
        assert_eq!(r.len(), 13);
        assert!(r[4..].chars().all(|c| c == '-' || !"01IO".contains(c)), "{r}");
    }
}
