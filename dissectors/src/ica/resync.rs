//! Finding a frame boundary in bytes picked up mid-stream or after a gap, and an init packet
//! boundary after a gap in the init phase.
//!
//! A u16 length prefix gives no marker to search for, so a boundary is only accepted when a
//! chain of consecutive frames starting there all look right: lengths within the negotiated
//! buffer size and, with PDCRYPT1, a header byte of 0x00 or 0x01 in every frame. Random bytes
//! pass one such frame with a probability of about 1/30 (length only) or 1/4000 (with the
//! header), so a chain of 8 (or 4) frames makes a false lock unlikely. The answer depends only on
//! the bytes, never on how they were split across reads.
//!
//! Init packets carry more evidence: a module packet `[cmd][LL LL]` repeats its length as the
//! module's own ByteCount right after it, and its ModuleCount must be below the last one seen.
//! So after a gap in the init phase the search looks for that first, and for the client's
//! INIT_CONNECT_RESPONSE `04 00 00` (three bytes that also occur inside module data, e.g. a
//! keyboard layout 0x0409) only where no module follows and framed data verifies after it.

use super::init::{MAX_INIT_PACKET, PADDED_MESSAGE_LEN};
use super::names;

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
        pos = after_padding(bytes, pos, pos + 2 + usize::from(len));
        frames += 1;
    }
    Chain::Verified
}

/// Where the next frame starts after the frame at `start..end`: a PDCRYPT1 key-exchange frame
/// shorter than `PADDED_MESSAGE_LEN` (`02 00 02 00`, `03 00 04 00 KK`) was seen followed by
/// zero bytes up to that size, which the frame reader skips too.
fn after_padding(bytes: &[u8], start: usize, end: usize) -> usize {
    let short = end - start < PADDED_MESSAGE_LEN;
    if !short || !matches!(bytes.get(start + 2), Some(0x02 | 0x04)) {
        return end;
    }
    let mut pos = end;
    while pos < start + PADDED_MESSAGE_LEN && bytes.get(pos) == Some(&0) {
        pos += 1;
    }
    pos
}

/// What the next init packet of a direction may be after a gap in its init phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitRule {
    /// The command carrying this direction's modules: INIT_RESPONSE or INIT_CONNECT.
    pub module_command: u8,
    /// Smallest module (MODULE_C2H or MODULE_H2C).
    pub min_len: usize,
    /// ModuleCount counts down: the next module's is below this (the last one seen).
    pub count_below: Option<u8>,
    /// The client's INIT_CONNECT_RESPONSE may come next; its framed data follows this rule.
    pub connect_response: Option<LockRule>,
    /// The last module seen had ModuleCount 0: INIT_CONNECT_RESPONSE is the only packet left.
    pub last_module_seen: bool,
}

impl InitRule {
    pub fn new(dir_is_client: bool, count_below: Option<u8>, frames: LockRule) -> InitRule {
        let (module_command, min_len) = if dir_is_client {
            (names::INIT_RESPONSE, super::parser::MODULE_C2H_LEN)
        } else {
            (names::INIT_CONNECT, super::parser::MODULE_H2C_LEN)
        };
        InitRule {
            module_command,
            min_len,
            count_below,
            connect_response: dir_is_client.then_some(frames),
            last_module_seen: count_below == Some(0),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Yes,
    No,
    /// The bytes end before the candidate is confirmed or refuted.
    Undecided,
}

/// The kinds of init packet a search looks for, in the order of the passes.
#[derive(Clone, Copy, Debug)]
enum Candidate {
    Module,
    ConnectResponse,
}

/// Looks for the first init packet boundary within the window: a module packet anywhere, and
/// only where none is found, an INIT_CONNECT_RESPONSE followed by verifiable frames (or the
/// only packet left). At the end of the stream undecided candidates count as refuted.
pub fn find_init_packet(bytes: &[u8], rule: InitRule, at_end: bool) -> LockSearch {
    let full = at_end || bytes.len() >= LOCK_WINDOW;
    let window = &bytes[..bytes.len().min(LOCK_WINDOW)];
    // When INIT_CONNECT_RESPONSE is the only packet left, it competes with nothing.
    let passes: &[Candidate] = if rule.last_module_seen {
        &[Candidate::ConnectResponse]
    } else {
        &[Candidate::Module, Candidate::ConnectResponse]
    };
    for &candidate in passes {
        for offset in 0..window.len() {
            let at = &window[offset..];
            let verdict = match candidate {
                Candidate::Module => module_packet(at, rule),
                Candidate::ConnectResponse => connect_response(at, rule, at_end),
            };
            match verdict {
                Verdict::Yes => return LockSearch::Found(offset),
                Verdict::No => {}
                Verdict::Undecided if full => {}
                Verdict::Undecided => return LockSearch::NeedMore,
            }
        }
        if !full {
            return LockSearch::NeedMore;
        }
    }
    LockSearch::NotFound
}

/// `[cmd][LL LL][ByteCount = LL][ModuleCount][ModuleClass]...`
fn module_packet(at: &[u8], rule: InitRule) -> Verdict {
    let Some(&[cmd, l0, l1, b0, b1, count, class]) = at.get(..7) else {
        return if at.first().is_none_or(|&c| c == rule.module_command) {
            Verdict::Undecided
        } else {
            Verdict::No
        };
    };
    let len = usize::from(u16::from_le_bytes([l0, l1]));
    let fits = cmd == rule.module_command
        && [l0, l1] == [b0, b1]
        && (rule.min_len..=MAX_INIT_PACKET).contains(&len)
        && class <= names::MAX_MODULE_CLASS
        && rule.count_below.is_none_or(|below| count < below);
    if fits { Verdict::Yes } else { Verdict::No }
}

/// `04 00 00`, its padding, then framed data.
fn connect_response(at: &[u8], rule: InitRule, at_end: bool) -> Verdict {
    const PACKET: [u8; 3] = [names::INIT_CONNECT_RESPONSE, 0, 0];
    let Some(frames) = rule.connect_response else {
        return Verdict::No;
    };
    let n = at.len().min(PACKET.len());
    if at[..n] != PACKET[..n] {
        return Verdict::No;
    }
    if n < PACKET.len() {
        return Verdict::Undecided;
    }
    if rule.last_module_seen {
        return Verdict::Yes;
    }
    let after = &at[PACKET.len()..];
    match find_lock(after, frames, at_end) {
        LockSearch::Found(skip)
            if PACKET.len() + skip <= PADDED_MESSAGE_LEN
                && after[..skip].iter().all(|&b| b == 0) =>
        {
            Verdict::Yes
        }
        LockSearch::NeedMore => Verdict::Undecided,
        LockSearch::Found(_) | LockSearch::NotFound => Verdict::No,
    }
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

    /// The rule for the client direction after a gap, the last module seen having
    /// ModuleCount `below`.
    fn client_rule(below: Option<u8>) -> InitRule {
        let frames = LockRule {
            frames: 4,
            ..LockRule::new(2048, false)
        };
        InitRule::new(true, below, frames)
    }

    /// An INIT_RESPONSE header: `01 LL LL`, MODULE_C2H ByteCount LL, ModuleCount, class.
    fn module(len: u16, count: u8, class: u8) -> Vec<u8> {
        let l = len.to_le_bytes();
        let mut m = vec![0x01, l[0], l[1], l[0], l[1], count, class];
        m.resize(3 + usize::from(len), 0x20);
        m
    }

    #[test]
    fn the_next_module_is_found_by_its_repeated_length() {
        let mut bytes = vec![0xAA, 0x04, 0x00, 0x00, 0x31]; // rest of a module, a look-alike
        bytes.extend(module(0x24, 5, 3));
        let rule = client_rule(Some(7));
        assert_eq!(find_init_packet(&bytes, rule, false), LockSearch::Found(5));
        // Cut after the first bytes of the header: undecided until the rest arrives.
        assert_eq!(
            find_init_packet(&bytes[..9], rule, false),
            LockSearch::NeedMore
        );
    }

    #[test]
    fn module_look_alikes_are_refused() {
        let rule = client_rule(Some(7));
        let refused = |bytes: Vec<u8>| {
            let mut padded = bytes;
            padded.resize(LOCK_WINDOW, 0xEE);
            find_init_packet(&padded, rule, false)
        };
        // ByteCount differs from the packet length.
        let mut wrong = module(0x24, 5, 3);
        wrong[3] = 0x25;
        assert_eq!(refused(wrong), LockSearch::NotFound);
        // ModuleCount not below the last one seen (7): not the next module.
        assert_eq!(refused(module(0x24, 7, 3)), LockSearch::NotFound);
        // An unknown module class, and a length below MODULE_C2H.
        assert_eq!(refused(module(0x24, 5, 10)), LockSearch::NotFound);
        assert_eq!(refused(module(0x10, 5, 3)), LockSearch::NotFound);
        // The host's modules are INIT_CONNECTs: an INIT_RESPONSE is not one of them.
        let host = InitRule::new(false, None, LockRule::new(2048, false));
        let mut padded = module(0x24, 5, 3);
        padded.resize(LOCK_WINDOW, 0xEE);
        assert_eq!(find_init_packet(&padded, host, false), LockSearch::NotFound);
    }

    /// The client's stream after its last module, as in the real capture: INIT_CONNECT_RESPONSE
    /// and 3 zero bytes, the session-key frame `03 00 04 00 KK` and 1 zero, then data frames.
    fn connect_response_and_frames() -> Vec<u8> {
        let mut bytes = vec![0x04, 0x00, 0x00, 0x00, 0x00, 0x00];
        bytes.extend([0x03, 0x00, 0x04, 0x00, 0x04, 0x00]);
        for len in [13u16, 15, 15] {
            bytes.extend(len.to_le_bytes());
            bytes.push(0x01);
            bytes.extend(std::iter::repeat_n(0x5A, usize::from(len) - 1));
        }
        bytes
    }

    #[test]
    fn init_connect_response_is_found_where_framed_data_follows() {
        let rule = client_rule(Some(3));
        let mut bytes = vec![0x20; 7]; // the tail of a module cut by the gap
        bytes.extend(connect_response_and_frames());
        // Modules are searched first: with the stream still open, wait for more.
        assert_eq!(find_init_packet(&bytes, rule, false), LockSearch::NeedMore);
        assert_eq!(find_init_packet(&bytes, rule, true), LockSearch::Found(7));
        // With a whole window and no module in it, the same answer without waiting.
        let mut long = bytes.clone();
        for _ in 0..300 {
            long.extend([0x0C, 0x00, 0x01]);
            long.extend([0x5A; 11]);
        }
        assert_eq!(find_init_packet(&long, rule, false), LockSearch::Found(7));
    }

    #[test]
    fn a_keyboard_layout_is_not_an_init_connect_response() {
        // UI_C2H: KeyboardLayout 0x0409 (`09 04 00 00`), then more fields: no frames follow.
        let mut bytes = vec![0x10, 0x00, 0x00, 0x00, 0x09, 0x04, 0x00, 0x00, 0x01, 0x56];
        bytes.extend([0x00, 0x24, 0x30, 0x00, 0x00, 0xFF, 0xFE, 0x70, 0x80, 0x90]);
        let rule = client_rule(Some(20));
        assert_eq!(find_init_packet(&bytes, rule, true), LockSearch::NotFound);
    }

    #[test]
    fn after_the_last_module_only_init_connect_response_is_left() {
        let rule = client_rule(Some(0));
        assert!(rule.last_module_seen);
        let mut bytes = vec![0x33; 5];
        bytes.extend([0x04, 0x00, 0x00]);
        assert_eq!(find_init_packet(&bytes, rule, false), LockSearch::Found(5));
        assert_eq!(
            find_init_packet(&bytes[..7], rule, false),
            LockSearch::NeedMore
        );
    }

    #[test]
    fn key_exchange_padding_is_part_of_a_chain() {
        // Locking by length only at the session-key frame: its padding byte does not break it.
        let bytes = connect_response_and_frames();
        let rule = LockRule {
            frames: 4,
            ..LockRule::new(2048, false)
        };
        assert_eq!(find_lock(&bytes[6..], rule, true), LockSearch::Found(0));
    }
}
