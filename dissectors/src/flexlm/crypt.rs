//! The v9.2 post-HANDSHAKE message "encryption": every byte of a legacy message, command
//! included, XOR-ed with a repeating 4-byte session key (byte `i` with `key[i % 4]`).
//!
//! Legacy messages are NUL-padded, so their tail, once XOR-ed, is the key itself repeated
//! (PROTOCOLS.md calls this a GUESS). A key taken from a tail is only ever *tried*: the caller
//! accepts a decryption only if it yields a known command and a matching checksum.

use super::legacy::{MAX_SIZE, is_valid};

pub type Key = [u8; 4];

/// How many trailing bytes vote for the key (8 samples per key byte).
const TAIL_LEN: usize = 32;

/// XORs `msg` with `key` into `out`; returns the decrypted message (a prefix of `out`), or
/// `None` if `msg` is longer than any legacy message.
pub fn apply<'a>(msg: &[u8], key: Key, out: &'a mut [u8; MAX_SIZE]) -> Option<&'a [u8]> {
    let out = out.get_mut(..msg.len())?;
    for ((o, &b), &k) in out.iter_mut().zip(msg).zip(key.iter().cycle()) {
        *o = b ^ k;
    }
    Some(out)
}

/// Decrypts `msg` with `key` if that gives a valid legacy message.
pub fn try_key<'a>(msg: &[u8], key: Key, out: &'a mut [u8; MAX_SIZE]) -> Option<&'a [u8]> {
    apply(msg, key, out).filter(|plain| is_valid(plain))
}

/// The key the NUL-padded tail of `msg` suggests: for each key position, the most frequent byte
/// among the last [`TAIL_LEN`] bytes at that position (ties go to the later byte). `None` for a
/// message too short to vote, or an all-zero key (that would mean the tail is not encrypted).
pub fn key_from_tail(msg: &[u8]) -> Option<Key> {
    let start = msg.len().checked_sub(TAIL_LEN)?;
    let tail = msg.get(start..)?;
    let mut key = [0u8; 4];
    for (slot, k) in key.iter_mut().enumerate() {
        let votes = tail
            .iter()
            .enumerate()
            .filter(|(i, _)| (start + i) % 4 == slot)
            .map(|(_, &b)| b);
        *k = most_frequent(votes);
    }
    (key != [0; 4]).then_some(key)
}

/// The most frequent value of a few bytes (at most 8 here, so quadratic is fine).
fn most_frequent(values: impl Iterator<Item = u8> + Clone) -> u8 {
    let mut best = (0usize, 0u8);
    for v in values.clone() {
        let n = values.clone().filter(|&w| w == v).count();
        if n >= best.0 {
            best = (n, v);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flexlm::crc::legacy_checksum;

    /// A 147-byte heartbeat 'g' with four hex counters and a NUL tail, checksum filled in.
    fn heartbeat() -> Vec<u8> {
        let mut m = vec![0u8; 147];
        m[0] = b'g';
        m[2..4].copy_from_slice(b"1a"); // counter 1 at offset 2
        m[11..13].copy_from_slice(b"ff"); // counter 2 at offset 11
        m[1] = legacy_checksum(&m);
        m
    }

    #[test]
    fn key_is_recovered_from_the_padding_and_verified() {
        let plain = heartbeat();
        let key = [0x5A, 0xC3, 0x01, 0x9E];
        let mut enc = [0u8; MAX_SIZE];
        let enc = apply(&plain, key, &mut enc).unwrap().to_vec();
        assert_ne!(enc[0], b'g');
        // 147 = 36 * 4 + 3: the last byte is at key position 2.
        assert_eq!(enc[146], 0x01);
        assert_eq!(key_from_tail(&enc), Some(key));
        let mut out = [0u8; MAX_SIZE];
        assert_eq!(try_key(&enc, key, &mut out), Some(&plain[..]));
        // A wrong key gives nothing.
        assert_eq!(try_key(&enc, [1, 2, 3, 4], &mut out), None);
    }

    #[test]
    fn unencrypted_or_short_input_gives_no_key() {
        assert_eq!(key_from_tail(&heartbeat()), None);
        assert_eq!(key_from_tail(&[0xAA; 31]), None);
        let mut out = [0u8; MAX_SIZE];
        assert_eq!(apply(&[0u8; MAX_SIZE + 1], [1; 4], &mut out), None);
    }

    #[test]
    fn votes_tolerate_a_few_non_nul_tail_bytes() {
        let mut plain = heartbeat();
        plain[143] = 0x01; // e.g. a flag near the end (key position 3)
        plain[139] = 0x07; // and another one (key position 3)
        plain[1] = legacy_checksum(&plain);
        let key = [9, 8, 7, 6];
        let mut enc = [0u8; MAX_SIZE];
        let enc = apply(&plain, key, &mut enc).unwrap().to_vec();
        assert_eq!(key_from_tail(&enc), Some(key));
    }
}
