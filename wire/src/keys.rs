//! API keys: minting, hashing, and reading them from the `Authorization` header.
//!
//! Only the SHA-256 hex of a key is stored; the key itself is shown once, when minted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A new key: `ns_` + base64url (no padding) of 24 random bytes, 35 characters in all.
///
/// # Panics
///
/// When the operating system has no randomness to give, which leaves nothing safe to do.
#[must_use]
pub fn mint() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    format!("ns_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Lower-case hex SHA-256 of the key's UTF-8 bytes: what `api_keys.key_hash` stores.
#[must_use]
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The token of `Bearer <token>` (scheme in any letter case, one or more whitespace, then
/// something that is not blank), trimmed. `None` means 401 "Missing or invalid authorization
/// header".
#[must_use]
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("bearer") || !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_vectors_from_the_original() {
        assert_eq!(hash("test"), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        assert_eq!(hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn minted_keys_have_the_original_shape() {
        let key = mint();
        assert_eq!(key.len(), 35);
        assert!(key.starts_with("ns_"));
        assert!(key[3..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(mint(), key);
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token("Bearer ns_abc"), Some("ns_abc"));
        assert_eq!(bearer_token("bearer   ns_abc  "), Some("ns_abc"));
        assert_eq!(bearer_token("BEARER\tns_abc"), Some("ns_abc"));
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer    "), None);
        assert_eq!(bearer_token("Bearerns_abc"), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Beaér x"), None);
    }
}
