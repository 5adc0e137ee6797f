//! Finding a frame boundary in bytes picked up mid-stream or after a gap.
//!
//! A u16 length prefix gives no marker to search for, so a boundary is only accepted when a
//! chain of consecutive frames starting there all look right: lengths within the negotiated
//! buffer size and, with PDCRYPT1, a header byte of 0x00 or 0x01 in every frame. Random bytes
//! pass one such frame with a probability of about 1/30 (length only) or 1/4000 (with the
//! header), so a chain of 8 (or 4) frames makes a false lock unlikely. The answer depends only on
//! the bytes, never on how they were split across reads.

/// Bytes looked at before giving up.
pub const LOCK_WINDOW: usize = 4096;
/// Candidate start offsets tried.
const LOCK_OFFSETS: usize = 64;
/// Zero-length frames allowed in a row inside a chain (they carry no evidence).
const MAX_EMPTY_RUN: u8 = 8;
/// Frame limit when the negotiated ICA buffer length is not known.
pub const DEFAULT_MAX_FRAME: u16 = 4096;

/// What a chain of frames must satisfy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockRule {
    /// Non-empty frames in a row.
    pub frames: u8,
    /// Largest payload length accepted.
    pub max_len: u16,
    /// Every payload starts with a PDCRYPT1 data header (0x00 or 0x01).
    pub crypt_header: bool,
}

impl LockRule {
    pub fn new(max_len: u16, crypt_header: bool) -> LockRule {
        LockRule {
            frames: if crypt_header { 4 } else { 8 },
            max_len,
            crypt_header,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockSearch {
    /// A verified chain of frames starts at this offset.
    Found(usize),
    /// Undecided: call again with more bytes.
    NeedMore,
    /// No offset verifies within the window.
    NotFound,
}

/// Looks for the first offset where a verified chain of frames starts. At the end of the
/// stream (`at_end`) no more bytes will come: undecided chains count as broken.
pub fn find_lock(bytes: &[u8], rule: LockRule, at_end: bool) -> LockSearch {
    let full = at_end || bytes.len() >= LOCK_WINDOW;
    let window = &bytes[..bytes.len().min(LOCK_WINDOW)];
    for offset in 0..LOCK_OFFSETS {
        let candidate = window.get(offset..).unwrap_or(&[]);
        match chain(candidate, rule) {
            Chain::Verified => return LockSearch::Found(offset),
            Chain::Broken => {}
            Chain::Short if full => {}
            Chain::Short => return LockSearch::NeedMore,
        }
    }
    LockSearch::NotFound
}

enum Chain {
    Verified,
    Broken,
    /// The bytes end before the chain is verified or broken.
    Short,
}

fn chain(bytes: &[u8], rule: LockRule) -> Chain {
    let mut pos = 0usize;
    let mut frames = 0u8;
    let mut empty_run = 0u8;
    while frames < rule.frames {
        let Some(&[lo, hi]) = bytes.get(pos..pos + 2) else {
            return Chain::Short;
        };
        let len = u16::from_le_bytes([lo, hi]);
        if len > rule.max_len {
            return Chain::Broken;
        }
        if len == 0 {
            empty_run += 1;
            if empty_run > MAX_EMPTY_RUN {
                return Chain::Broken;
            }
            pos += 2;
            continue;
        }
        empty_run = 0;
        if rule.crypt_header {
            match bytes.get(pos + 2) {
                None => return Chain::Short,
                Some(0x00 | 0x01) => {}
                Some(_) => return Chain::Broken,
            }
        }
        pos += 2 + usize::from(len);
        frames += 1;
    }
    Chain::Verified
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames `[len][0x01][len-1 filler bytes]`.
    fn frames(lens: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        for &len in lens {
            out.extend_from_slice(&len.to_le_bytes());
            if len > 0 {
                out.push(0x01);
                out.extend(std::iter::repeat_n(0xC3, usize::from(len) - 1));
            }
        }
        out
    }

    #[test]
    fn locks_at_the_first_verified_boundary() {
        let rule = LockRule::new(2048, true);
        let mut bytes = vec![0xFF, 0xFF, 0xFF]; // the tail of a frame before the pickup
        bytes.extend(frames(&[13, 0, 15, 853, 13]));
        assert_eq!(find_lock(&bytes, rule, false), LockSearch::Found(3));
    }

    #[test]
    fn waits_while_undecided_and_gives_the_same_answer() {
        let rule = LockRule::new(2048, true);
        let bytes = frames(&[13, 15, 300, 13]);
        // Cut inside the third frame's header: the chain at offset 0 is not verified yet.
        assert_eq!(find_lock(&bytes[..30], rule, false), LockSearch::NeedMore);
        assert_eq!(find_lock(&bytes, rule, false), LockSearch::Found(0));
    }

    #[test]
    fn refuses_random_looking_bytes() {
        let rule = LockRule::new(2048, true);
        // Lengths over the limit at every offset.
        assert_eq!(
            find_lock(&[0xFF; LOCK_WINDOW], rule, false),
            LockSearch::NotFound
        );
        // A run of zeros is a run of empty frames: no evidence, not a lock.
        assert_eq!(
            find_lock(&[0; LOCK_WINDOW], rule, false),
            LockSearch::NotFound
        );
        // Plausible lengths but a wrong PDCRYPT1 header byte.
        let mut bytes = frames(&[13, 13, 13, 13]);
        bytes[2] = 0x05;
        let mut padded = bytes.clone();
        padded.resize(LOCK_WINDOW, 0xFF);
        assert_eq!(find_lock(&padded, rule, false), LockSearch::NotFound);
    }

    #[test]
    fn without_headers_more_frames_are_needed() {
        let rule = LockRule::new(DEFAULT_MAX_FRAME, false);
        assert_eq!(rule.frames, 8);
        let bytes = frames(&[20; 7]);
        assert_eq!(find_lock(&bytes, rule, false), LockSearch::NeedMore);
        // At the end of the stream nothing more will come: no lock.
        assert_eq!(find_lock(&bytes, rule, true), LockSearch::NotFound);
        let bytes = frames(&[20; 8]);
        assert_eq!(find_lock(&bytes, rule, false), LockSearch::Found(0));
    }
}
