//! Recognising FlexLM from the first bytes of a direction, whatever the port.
//!
//! Three openings are recognised, in either direction (a reversed direction is still FlexLM):
//! - a legacy HELLO ('h' or '`'): "1" and a digit at bytes 2-3, NUL-terminated text in the
//!   user, host, vendor, display and platform slots, and a matching checksum;
//! - a 0x2F header: matching check byte, a length within limits, a type below 0x0200 (all known
//!   types are), and a matching CRC when the whole message fits in the probe window;
//! - a capture that starts mid-connection (a vendor daemon on a dynamic port, seen only through
//!   its heartbeats and checkouts): two consecutive 147-byte legacy messages, each with a known
//!   command, a matching checksum and the NUL padding of fixed-slot messages. One 8-bit
//!   checksum is too weak alone; two, plus the padding (random or encrypted data is almost never
//!   40 % zero bytes), make a false match on other traffic vanishingly rare.
//!
//! Anything else is rejected on byte 0, so most non-FlexLM data costs one comparison.

use super::codes::{is_legacy_command, legacy as code};
use super::crc::legacy_checksum;
use super::framed::{self, Header};
use super::legacy::{DEFAULT_SIZE, message_size};
use crate::registry::{Probe, Proto};
use crate::types::Dir;

/// HELLO text slots (offset, length including the NUL).
const HELLO_TEXT_SLOTS: [(usize, usize); 5] = [(4, 21), (25, 33), (58, 11), (69, 33), (126, 13)];

/// Highest 0x2F message type a probe accepts.
const MAX_PROBED_TYPE: u16 = 0x01FF;

pub fn probe(_dir: Dir, first: &[u8]) -> Probe {
    match first.first() {
        None => Probe::NeedMore,
        Some(&code::HELLO | &code::HELLO_THIS_VD) => probe_hello(first),
        Some(&framed::MAGIC) => probe_binary(first),
        Some(&b) if is_legacy_command(b) => probe_midstream(first),
        Some(_) => Probe::NoMatch,
    }
}

/// Share of NUL bytes a fixed-slot legacy message has at least (slots are NUL-padded).
const MIN_PADDING_PERCENT: usize = 40;

/// Every legacy layout has a NUL-terminated slot of at most 33 bytes starting at offset 2, so
/// its first NUL comes early; a text protocol line ("GET / HTTP/1.1...") has none.
const FIRST_NUL_WITHIN: usize = 40;

fn probe_midstream(first: &[u8]) -> Probe {
    if first.len() >= FIRST_NUL_WITHIN && !first[..FIRST_NUL_WITHIN].contains(&0) {
        return Probe::NoMatch;
    }
    for k in 0..2 {
        let start = k * DEFAULT_SIZE;
        let Some(msg) = first.get(start..start + DEFAULT_SIZE) else {
            // Reject a first message as soon as it is complete and wrong.
            return Probe::NeedMore;
        };
        let padded =
            msg.iter().filter(|&&b| b == 0).count() * 100 >= MIN_PADDING_PERCENT * DEFAULT_SIZE;
        if !is_legacy_command(msg[0]) || msg[1] != legacy_checksum(msg) || !padded {
            return Probe::NoMatch;
        }
    }
    Probe::Match
}

fn probe_hello(first: &[u8]) -> Probe {
    // Version digits: '1' then '0'..='9'.
    match first.get(2..4) {
        Some([b'1', b'0'..=b'9']) => {}
        Some(_) => return Probe::NoMatch,
        None if first.get(2).is_some_and(|&b| b != b'1') => return Probe::NoMatch,
        None => return Probe::NeedMore,
    }
    let size = message_size(first, DEFAULT_SIZE).unwrap_or(DEFAULT_SIZE);
    for (off, len) in HELLO_TEXT_SLOTS {
        if off + len > size {
            continue;
        }
        if !text_slot_plausible(first, off, len) {
            return Probe::NoMatch;
        }
    }
    match first.get(..size) {
        None => Probe::NeedMore,
        Some(msg) if msg.get(1) == Some(&legacy_checksum(msg)) => Probe::Match,
        Some(_) => Probe::NoMatch,
    }
}

/// Whether what is buffered of a text slot can still be NUL-terminated text: no control
/// character before the first NUL, and a NUL somewhere once the whole slot is there. Bytes
/// from 0x80 up are accepted (non-ASCII user and host names exist); the checksum decides.
fn text_slot_plausible(first: &[u8], off: usize, len: usize) -> bool {
    let end = (off + len).min(first.len());
    let Some(seen) = first.get(off..end) else {
        return true; // not buffered yet
    };
    match seen.iter().position(|&b| b == 0) {
        Some(nul) => seen[..nul].iter().all(|&b| is_text(b)),
        None => seen.len() < len && seen.iter().all(|&b| is_text(b)),
    }
}

const fn is_text(b: u8) -> bool {
    b >= 0x20 && b != 0x7F
}

fn probe_binary(first: &[u8]) -> Probe {
    let Some(header) = Header::parse(first) else {
        return Probe::NeedMore;
    };
    if header.problem(framed::MAX_LEN).is_some() || header.msg_type > MAX_PROBED_TYPE {
        return Probe::NoMatch;
    }
    if header.len > Proto::PROBE_WINDOW {
        return Probe::Match;
    }
    match first.get(..header.len) {
        None => Probe::NeedMore,
        Some(msg) if header.crc_ok(msg) => Probe::Match,
        Some(_) => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flexlm::encode;
    use crate::flexlm::event::CommVersion;

    fn hello() -> Vec<u8> {
        encode::hello(&encode::Hello {
            user: "alice",
            host: "ctxapp01",
            vendor: "CITRIX",
            display: "/dev/pts/1",
            pid: 4242,
            platform: "x64_w6",
            ..encode::Hello::default()
        })
    }

    #[test]
    fn a_hello_matches_once_complete_and_not_before() {
        let h = hello();
        for n in [1, 2, 3, 4, 60, 146] {
            assert_eq!(probe(Dir::ToServer, &h[..n]), Probe::NeedMore, "{n} bytes");
        }
        assert_eq!(probe(Dir::ToServer, &h), Probe::Match);
        // More data after it does not matter.
        let mut more = h.clone();
        more.extend_from_slice(b"tail");
        assert_eq!(probe(Dir::ToServer, &more), Probe::Match);
    }

    #[test]
    fn a_stream_picked_up_between_heartbeats_matches_on_two_messages() {
        let beat = encode::heartbeat(&encode::Heartbeat::default());
        let reply = encode::heartbeat_resp();
        let stream = [beat.clone(), reply.clone()].concat();
        assert_eq!(
            probe(Dir::ToServer, &beat),
            Probe::NeedMore,
            "one message is not enough"
        );
        assert_eq!(probe(Dir::ToServer, &stream), Probe::Match);
        // A bad checksum in either message, or a known command byte on random data, is no match.
        let mut bad = stream.clone();
        bad[147 + 1] ^= 1;
        assert_eq!(probe(Dir::ToServer, &bad), Probe::NoMatch);
        let mut noise: Vec<u8> = (0..294u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1)
            .collect();
        noise[0] = b'g';
        noise[1] = legacy_checksum(&noise[..147]);
        noise[147] = b'G';
        noise[148] = legacy_checksum(&noise[147..]);
        assert_eq!(
            probe(Dir::ToServer, &noise),
            Probe::NoMatch,
            "valid checksums, no padding"
        );
    }

    #[test]
    fn hello_lookalikes_are_rejected_early() {
        // HTTP: 'G' is a legacy command code (HEARTBEAT_RESP), but the line has no NUL.
        let http = b"GET /licensing/status HTTP/1.1\r\nHost: lic01.example.net\r\n\r\n";
        assert_eq!(probe(Dir::ToServer, &http[..20]), Probe::NeedMore);
        assert_eq!(probe(Dir::ToServer, http), Probe::NoMatch);
        // 'h' but not a version: "hello world".
        assert_eq!(probe(Dir::ToServer, b"hello world"), Probe::NoMatch);
        assert_eq!(probe(Dir::ToServer, b"hx"), Probe::NeedMore);
        assert_eq!(probe(Dir::ToServer, b"hxx"), Probe::NoMatch);
        // A control character in the user name is seen before the message is complete.
        let mut h = hello();
        h[5] = 0x07;
        assert_eq!(probe(Dir::ToServer, &h[..30]), Probe::NoMatch);
        // A user slot with no NUL.
        let mut h = hello();
        h[4..25].fill(b'a');
        assert_eq!(probe(Dir::ToServer, &h[..25]), Probe::NoMatch);
        // A bad checksum.
        let mut h = hello();
        h[1] ^= 0xFF;
        assert_eq!(probe(Dir::ToServer, &h), Probe::NoMatch);
    }

    #[test]
    fn an_older_comm_version_hello_is_sized_by_its_digits() {
        let h = encode::hello(&encode::Hello {
            comm: CommVersion { major: 1, minor: 1 },
            user: "bob",
            ..encode::Hello::default()
        });
        assert_eq!(h.len(), 125);
        assert_eq!(probe(Dir::ToServer, &h[..124]), Probe::NeedMore);
        assert_eq!(probe(Dir::ToServer, &h), Probe::Match);
    }

    #[test]
    fn binary_headers_match_on_check_byte_length_and_crc() {
        let r = encode::redirect_0113(&encode::Redirect::default(), 0);
        assert_eq!(probe(Dir::ToClient, &r[..19]), Probe::NeedMore);
        assert_eq!(probe(Dir::ToClient, &r[..20]), Probe::NeedMore);
        assert_eq!(probe(Dir::ToClient, &r), Probe::Match);
        let mut bad_crc = r.clone();
        *bad_crc.last_mut().unwrap() ^= 1;
        assert_eq!(probe(Dir::ToClient, &bad_crc), Probe::NoMatch);
        let mut bad_check = r.clone();
        bad_check[1] ^= 1;
        assert_eq!(probe(Dir::ToClient, &bad_check[..20]), Probe::NoMatch);
    }

    #[test]
    fn a_long_binary_message_matches_on_its_header() {
        let text = vec![b'x'; 600];
        let m = encode::command_reply_0146(&encode::CommandReply {
            text: &text,
            ..encode::CommandReply::default()
        });
        assert!(m.len() > Proto::PROBE_WINDOW);
        assert_eq!(probe(Dir::ToClient, &m[..20]), Probe::Match);
    }

    #[test]
    fn binary_headers_with_absurd_fields_are_rejected() {
        let mut m = encode::binary(&encode::Binary {
            msg_type: 0x7F00,
            ..encode::Binary::default()
        });
        assert_eq!(probe(Dir::ToServer, &m), Probe::NoMatch);
        // Length 4 (below the header size), with a consistent check byte.
        m = encode::binary(&encode::Binary::default());
        m[4] = 0;
        m[5] = 4;
        m[1] = crate::flexlm::framed::header_check(&m);
        assert_eq!(probe(Dir::ToServer, &m), Probe::NoMatch);
    }

    #[test]
    fn other_first_bytes_are_rejected_at_once() {
        for first in [
            &b"\x7f\x7fICA\0"[..],
            b"\x1aCGP/01",
            b"\x16\x03\x01",
            b"\xff",
        ] {
            assert_eq!(probe(Dir::ToServer, first), Probe::NoMatch);
        }
        assert_eq!(probe(Dir::ToServer, b""), Probe::NeedMore);
    }
}
