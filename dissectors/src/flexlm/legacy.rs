//! Legacy fixed-size messages: sizes, validation, and field decoding.
//!
//! A legacy message is a command char, a checksum byte and fixed-offset fields, always exactly
//! as long as the connection's comm revision says (88, 125 or 147 bytes). Offsets below are the
//! v1.3 (147-byte) layouts of PROTOCOLS.md sections 1.2-1.3; on shorter messages the fields
//! that lie past the end read as empty/absent.

use super::codes::MessageKind;
use super::codes::{is_legacy_command, legacy as code, refusal_meaning};
use super::crc::legacy_checksum;
use super::event::{
    CommVersion, Event, Framing, Integrity, ProductVersion, TEXT_EXCERPT, TextKind, WaitMode, Wire,
};
use crate::text::{WireText, nul_terminated};

/// Message size for comm v1.3 and later, and the default before a HELLO says otherwise.
pub const DEFAULT_SIZE: usize = 147;
/// The largest legacy message (a buffer of this size holds any of them).
pub const MAX_SIZE: usize = DEFAULT_SIZE;

/// Message size for a comm revision digit (the second digit of "1x").
pub const fn size_for_revision(revision: u8) -> usize {
    match revision {
        0 => 88,
        1 | 2 => 125,
        _ => DEFAULT_SIZE,
    }
}

/// The comm version announced by a HELLO in bytes 2-3, if they are "1" and a digit.
pub fn hello_comm_version(msg: &[u8]) -> Option<CommVersion> {
    match msg.get(2..4)? {
        [b'1', minor @ b'0'..=b'9'] => Some(CommVersion {
            major: 1,
            minor: minor - b'0',
        }),
        _ => None,
    }
}

/// Whether a command announces its own size (HELLOs carry the comm version they are written in).
pub const fn is_hello(command: u8) -> bool {
    command == code::HELLO || command == code::HELLO_THIS_VD
}

/// How long the legacy message at the start of `bytes` is, given the connection's current
/// size. `None` if a HELLO's version digits are not buffered yet.
pub fn message_size(bytes: &[u8], connection_size: usize) -> Option<usize> {
    let command = *bytes.first()?;
    if !is_hello(command) {
        return Some(connection_size);
    }
    if bytes.len() < 4 {
        return None;
    }
    Some(hello_comm_version(bytes).map_or(connection_size, |v| size_for_revision(v.minor)))
}

/// Whether `msg` (exactly one message) has a known command and a matching checksum.
pub fn is_valid(msg: &[u8]) -> bool {
    match msg {
        [command, checksum, ..] => is_legacy_command(*command) && legacy_checksum(msg) == *checksum,
        _ => false,
    }
}

/// The client request a server message answers: the last one the client sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub kind: MessageKind,
    /// The feature a checkout asked for.
    pub feature: Option<WireText>,
}

impl Request {
    fn is_hello(&self) -> bool {
        self.kind.framing == Framing::Legacy && u8::try_from(self.kind.code).is_ok_and(is_hello)
    }
}

/// Decodes one whole legacy message into its event.
///
/// `answers` is the client request a server message answers (`None` for client messages, and
/// for server messages nothing was waiting for). Only the first server message after a HELLO
/// is a HELLO reply when it is an OK 'O' (OK also acknowledges checkouts and other requests,
/// with other contents); a refusal names the request it refuses.
pub fn decode(msg: &[u8], integrity: Integrity, answers: Option<&Request>) -> Event {
    let wire = Wire::new(Framing::Legacy, integrity);
    let f = Slots(msg);
    let command = f.byte(0);
    if let Some(meaning) = refusal_meaning(command) {
        return Event::Refusal {
            wire,
            code: u16::from(command),
            name: MessageKind::legacy(command).name(),
            meaning,
            request: answers.map(|r| r.kind.name()),
            feature: answers.and_then(|r| r.feature.clone()),
            data: f.text(2, 11),
        };
    }
    let first_reply_to_hello = answers.is_some_and(Request::is_hello);
    match command {
        code::HELLO | code::HELLO_THIS_VD => Event::Hello {
            wire,
            this_vd: command == code::HELLO_THIS_VD,
            comm_version: hello_comm_version(msg),
            user: f.text(4, 21),
            host: f.text(25, 33),
            vendor: f.text(58, 11),
            display: f.text(69, 33),
            transport: f.text(102, 2),
            udp_timeout: f.decimal(104, 11),
            pid: f.decimal(115, 11),
            platform: f.text(126, 13),
            client_version: f.slot(139, 2).map(|v| ProductVersion {
                major: u32::from(v[0]),
                minor: u32::from(v[1]),
                patch: None,
                build: None,
            }),
            tcp_timeout_minutes: f.hex(141, 3),
            extension: f.text(144, 3),
        },
        code::TRY_ANOTHER => try_another(wire, &f),
        code::OK if first_reply_to_hello => Event::HelloReply {
            wire,
            version: f
                .decimal(2, 11)
                .zip(f.decimal(13, 11))
                .map(|(major, minor)| ProductVersion {
                    major,
                    minor,
                    patch: None,
                    build: None,
                }),
            patch: f.text(24, 1),
            comm_version: comm_version(f.decimal(25, 11), f.decimal(36, 11)),
            host: f.text(47, 65),
            daemon: f.text(112, 11),
        },
        code::LF_DATA => {
            let text = f.slot_from(13).map(nul_terminated).unwrap_or_default();
            let (excerpt, cut) = WireText::excerpt(text, TEXT_EXCERPT);
            Event::TextChunk {
                wire,
                kind: TextKind::LicenseFile,
                remaining: f.decimal(2, 11),
                len: len_u32(text.len()),
                text: excerpt,
                cut: len_u32(cut),
            }
        }
        code::CHECKOUT => Event::Checkout {
            wire,
            feature: f.text(8, 31),
            version: f.text(39, 11),
            count: f.decimal(2, 5),
            wait: WaitMode::from_byte(f.byte(7)),
            wait_raw: f.byte(7),
            dup_sel: f.text(50, 11),
            linger: f.decimal(61, 11),
            code_present: f.present(72, 21),
            vendor_data: f.text(93, 33),
            hostid: f.text(126, 13),
            serial: f.slot(139, 2).map(|b| u16::from_le_bytes([b[0], b[1]])),
            flags: f.byte(141),
            borrow: f.byte(142) & 1 == 1,
            ultimate_denial: f.byte(143),
        },
        code::CHECKIN => Event::Checkin {
            wire,
            feature: f.text(2, 31),
            code_present: f.present(33, 21),
            use_vendor: f.byte(54),
            vendor_data: f.text(55, 33),
        },
        code::LIST => Event::List {
            wire,
            feature: f.text(2, 31),
            code_present: f.present(33, 21),
            bflag: f.byte(54),
        },
        code::HEARTBEAT => Event::Heartbeat {
            wire,
            cpu: [2, 11, 20, 29].map(|off| f.hex(off, 9)),
        },
        code::HEARTBEAT_RESP => Event::HeartbeatReply { wire },
        code::HANDSHAKE => Event::Handshake {
            wire,
            crypt: f.byte(2).checked_sub(b'0').filter(|d| *d <= 9),
            time: f.hex(13, 9),
            group_id: f
                .slot(49, 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            callback: f.byte(53),
        },
        code::DAEMON => Event::Daemon {
            wire,
            name: f.text(2, 11),
            tcp_port: port(f.decimal(13, 11)),
            udp_port: port(f.decimal(24, 11)),
        },
        code::NUSERS => Event::Users {
            wire,
            users: f.decimal(2, 11),
            total: f.decimal(13, 11),
            time: f.decimal(24, 11),
        },
        code::USERNAME => Event::UserInfo {
            wire,
            user: f.text(2, 21),
            node: f.text(23, 33),
            display: f.text(56, 33),
            version: f.text(89, 11),
            num: f.decimal(100, 11),
            flags: f.text(111, 3),
            time: f.decimal(114, 11),
            linger: f.decimal(125, 11),
            handle: f.decimal(136, 11),
        },
        _ => {
            let kind = MessageKind::legacy(command);
            Event::Message {
                wire,
                code: kind.code,
                name: kind.name(),
                len: len_u32(msg.len()),
            }
        }
    }
}

/// TRY_ANOTHER 'A': the legacy redirect.
///
/// The port fields are ASCII decimal, and the v9.2 client turns them into a socket port with
/// `ntohs(atoi(field))`. PROTOCOLS.md reads that as "the decimal is the network-order u16, so
/// byte-swapped on x86" (a GUESS, LOW confidence). The same client, however, keeps endpoint
/// ports in network order everywhere else (it applies `htons` to license-file ports before
/// storing them, and stores `getservbyname`'s network-order port as is), and `ntohs` is the same
/// byte swap as `htons`. `ntohs(atoi(field))` is therefore the network-order form of the
/// decimal value itself: the decimal is the plain port number. That is what `tcp_port` holds.
/// Because no legacy capture confirms it, the event also carries the raw decimal and the
/// byte-swapped reading (`tcp_port_swapped`).
fn try_another(wire: Wire, f: &Slots<'_>) -> Event {
    let raw = f.decimal(35, 11);
    let tcp_port = port(raw);
    Event::Redirect {
        wire,
        host: f.text(2, 33),
        host2: f.text(46, 33),
        tcp_port,
        tcp_port_raw: raw,
        tcp_port_swapped: tcp_port.map(u16::swap_bytes),
        udp_port: port(f.decimal(79, 11)),
        transport: f.text(90, 1),
        reason: f.text(91, 1),
    }
}

fn comm_version(major: Option<u32>, minor: Option<u32>) -> Option<CommVersion> {
    Some(CommVersion {
        major: u8::try_from(major?).ok()?,
        minor: u8::try_from(minor?).ok()?,
    })
}

/// A port number from a decoded field; `None` if absent or out of range.
pub fn port(value: Option<u32>) -> Option<u16> {
    value.and_then(|v| u16::try_from(v).ok())
}

pub fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Fixed-offset field access that never reads past the message. Text and number fields cut
/// by the message end keep what is there; binary fields (`slot`) must be whole.
struct Slots<'a>(&'a [u8]);

impl<'a> Slots<'a> {
    fn byte(&self, off: usize) -> u8 {
        self.0.get(off).copied().unwrap_or(0)
    }

    fn slot(&self, off: usize, len: usize) -> Option<&'a [u8]> {
        self.0.get(off..off.checked_add(len)?)
    }

    /// The rest of the message from `off` (an empty slice at the end, `None` past it).
    fn slot_from(&self, off: usize) -> Option<&'a [u8]> {
        self.0.get(off..)
    }

    /// A slot cut at the message end: fields of shorter (older comm version) messages keep
    /// what is there.
    fn clipped(&self, off: usize, len: usize) -> &'a [u8] {
        let end = off.saturating_add(len).min(self.0.len());
        self.0.get(off..end).unwrap_or_default()
    }

    /// The NUL-terminated text in a slot.
    fn text(&self, off: usize, len: usize) -> WireText {
        WireText::from_nul_terminated(self.clipped(off, len))
    }

    /// Whether the slot holds any text before its NUL.
    fn present(&self, off: usize, len: usize) -> bool {
        !nul_terminated(self.clipped(off, len)).is_empty()
    }

    /// ASCII decimal ("%d", NUL-terminated).
    fn decimal(&self, off: usize, len: usize) -> Option<u32> {
        parse_number(nul_terminated(self.clipped(off, len)), 10)
    }

    /// ASCII hex.
    fn hex(&self, off: usize, len: usize) -> Option<u32> {
        parse_number(nul_terminated(self.clipped(off, len)), 16)
    }
}

/// Parses a whole field as an unsigned number in `radix`; `None` if empty, not all digits, or
/// too large for a u32.
fn parse_number(digits: &[u8], radix: u32) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &b| {
        let d = char::from(b).to_digit(radix)?;
        acc.checked_mul(radix)?.checked_add(d)
    })
}

#[cfg(test)]
pub(crate) mod tests;
