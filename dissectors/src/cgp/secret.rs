//! Tickets seen on the wire, kept without their value.
//!
//! STA tickets, security tickets and reconnect tickets let whoever holds them resume or open a
//! session (PROTOCOLS.md 7). A [`Secret`] keeps only the length (printable) and a keyed
//! fingerprint (never serialised, never in `Debug`) so the engine can tell that two connections
//! carried the same ticket, e.g. a session-reliability reconnect and the session it resumes.

use serde::Serialize;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Secret {
    /// Length of the secret in bytes (0 = absent).
    pub len: u16,
    #[serde(skip)]
    fingerprint: u64,
}

impl Secret {
    /// Remembers the length and a fingerprint of `bytes`, and nothing else.
    pub fn of(bytes: &[u8]) -> Secret {
        Secret {
            len: u16::try_from(bytes.len()).unwrap_or(u16::MAX),
            fingerprint: fingerprint(bytes),
        }
    }

    pub fn is_present(&self) -> bool {
        self.len > 0
    }

    /// A 64-bit keyed hash of the secret, equal for equal secrets within this process and
    /// meaningless outside it. `None` for an empty secret, which must not correlate anything.
    pub fn fingerprint(&self) -> Option<u64> {
        self.is_present().then_some(self.fingerprint)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// SipHash under a key drawn once per process: fingerprints compare within one run, and cannot
/// be tested against guessed tickets by anyone who only sees them.
fn fingerprint(bytes: &[u8]) -> u64 {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    KEY.get_or_init(RandomState::new).hash_one(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_secrets_share_a_fingerprint_and_print_only_their_length() {
        let a = Secret::of(b"ticket-one-0123456789");
        let b = Secret::of(b"ticket-one-0123456789");
        let c = Secret::of(b"ticket-two-0123456789");
        assert_eq!(a.len, 21);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(format!("{a:?}"), "Secret { len: 21, .. }");
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"len":21}"#);
    }

    #[test]
    fn an_empty_secret_correlates_nothing() {
        let empty = Secret::of(b"");
        assert!(!empty.is_present());
        assert_eq!(empty.fingerprint(), None);
    }
}
