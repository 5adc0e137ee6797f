//! The 0x2F binary framing: header parsing and validation, payload decoding.
//!
//! Header (20 bytes, big-endian):
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | 1 | magic 0x2F |
//! | 1 | 1 | check byte: (0x2F + bytes 2..19) mod 256 |
//! | 2 | 2 | CRC-14 over bytes 4..end |
//! | 4 | 2 | total length, low 16 bits |
//! | 6 | 2 | message type |
//! | 8 | 4 | nonce |
//! | 12 | 1 | legacy command echo (e.g. 'A' in a redirect) |
//! | 13 | 4 | reserved |
//! | 17 | 1 | total length, bits 16-23 (Rapid7) |
//! | 18 | 2 | reserved |

use super::codes::{MessageKind, binary as ty};
use super::crc::{crc14, legacy_checksum};
use super::event::{Event, Framing, Integrity, ProductVersion, TEXT_EXCERPT, TextKind, Wire};
use super::legacy::{len_u32, port};
use crate::text::WireText;
use crate::types::Dir;
use nom::bytes::complete::{tag, take, take_till};
use nom::number::complete::{be_u16, be_u32, u8 as byte};
use nom::sequence::terminated;
use nom::{IResult, Parser};
use std::net::Ipv4Addr;

pub const MAGIC: u8 = 0x2F;
pub const HEADER_LEN: usize = 20;
/// Largest message accepted. Byte 17 allows 24-bit lengths (16 MiB); no known message comes
/// near this, and a pending message is buffered whole, so this bounds memory per direction.
pub const MAX_LEN: usize = 1 << 20;

/// The 0x2F header check byte: byte 0 (the magic) plus bytes 2..20, modulo 256.
///
/// `header` is the first 20 bytes of the message; the CRC at offsets 2-3 is part of the sum, so
/// a writer computes the CRC first.
pub fn header_check(header: &[u8]) -> u8 {
    legacy_checksum(header.get(..HEADER_LEN).unwrap_or(header))
}

/// A parsed 0x2F header. Fields are as sent; [`Header::problem`] says whether they are sane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub check: u8,
    pub crc: u16,
    /// Total message length, header included (24 bits: byte 17 is the upper byte).
    pub len: usize,
    pub msg_type: u16,
    pub nonce: u32,
    /// Byte 12: a legacy command code in some replies.
    pub echo: u8,
    /// What the check byte should be.
    expected_check: u8,
}

/// Why a header cannot start a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderProblem {
    BadCheck { got: u8, expected: u8 },
    TooShort(usize),
    Oversize(usize),
}

impl Header {
    /// Parses the header at the start of `bytes`: `None` until 20 bytes are there, or if byte 0
    /// is not the magic.
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let raw = bytes.get(..HEADER_LEN)?;
        let (_, header) = header(raw).ok()?;
        Some(header)
    }

    /// Whether the header is acceptable: check byte right and length within 20..=`max_len`.
    pub fn problem(&self, max_len: usize) -> Option<HeaderProblem> {
        if self.check != self.expected_check {
            Some(HeaderProblem::BadCheck {
                got: self.check,
                expected: self.expected_check,
            })
        } else if self.len < HEADER_LEN {
            Some(HeaderProblem::TooShort(self.len))
        } else if self.len > max_len {
            Some(HeaderProblem::Oversize(self.len))
        } else {
            None
        }
    }

    /// Whether the CRC matches, given the whole message (`msg.len() == self.len`).
    pub fn crc_ok(&self, msg: &[u8]) -> bool {
        msg.get(4..)
            .is_some_and(|covered| crc14(covered) == self.crc)
    }

    /// The CRC the message should carry.
    pub fn expected_crc(msg: &[u8]) -> u16 {
        crc14(msg.get(4..).unwrap_or_default())
    }
}

/// nom parser for the 20-byte header (given exactly the header bytes).
fn header(raw: &[u8]) -> IResult<&[u8], Header> {
    let (rest, (_, check, crc, len_low, msg_type, nonce, echo, _, len_high, _)) = (
        tag(&[MAGIC][..]),
        byte,
        be_u16,
        be_u16,
        be_u16,
        be_u32,
        byte,
        take(4usize),
        byte,
        take(2usize),
    )
        .parse(raw)?;
    let header = Header {
        check,
        crc,
        len: usize::from(len_high) << 16 | usize::from(len_low),
        msg_type,
        nonce,
        echo,
        expected_check: header_check(raw),
    };
    Ok((rest, header))
}

/// Why a payload could not be decoded into its typed event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadPayload;

/// Decodes one whole message (`msg.len() == header.len`) into its event.
///
/// `reply_kind` is what the last command request on this connection asked for, which says
/// what a 0x0146 reply's text is. A payload that does not match its type's layout gives
/// `Err`; the caller then reports it as a plain message.
pub fn decode(
    header: &Header,
    msg: &[u8],
    dir: Dir,
    integrity: Integrity,
    reply_kind: TextKind,
) -> Result<Event, BadPayload> {
    let wire = Wire::new(Framing::Binary, integrity);
    let body = msg.get(HEADER_LEN..).unwrap_or_default();
    let decoded = match (header.msg_type, dir) {
        (ty::LOGIN, _) => login(wire, body),
        (ty::LMREREAD, Dir::ToServer) => reread(wire, body),
        (ty::COMMAND_REQUEST, _) => command_request(wire, body),
        (ty::HELLO_REPLY, Dir::ToClient) => hello_reply(wire, body),
        (ty::REDIRECT, _) => redirect(wire, body),
        (ty::COMMAND_REPLY, Dir::ToClient) => command_reply(wire, body, reply_kind),
        (ty::VERSION, Dir::ToClient) => server_version(wire, body),
        _ => return Ok(plain(header, msg.len(), integrity)),
    };
    decoded.map(|(_, event)| event).map_err(|_| BadPayload)
}

/// The generic event for a 0x2F message: its type, name and length.
pub fn plain(header: &Header, len: usize, integrity: Integrity) -> Event {
    let kind = MessageKind::binary(header.msg_type);
    Event::Message {
        wire: Wire::new(Framing::Binary, integrity),
        code: kind.code,
        name: kind.name(),
        len: len_u32(len),
    }
}

type Parsed<'a> = IResult<&'a [u8], Event>;

/// A NUL-terminated string.
fn cstr(input: &[u8]) -> IResult<&[u8], WireText> {
    terminated(take_till(|b| b == 0), tag(&[0u8][..]))
        .map(WireText::from_bytes)
        .parse(input)
}

/// 0x0102: `01 04`, two u16, two u16, a u32 (14 bytes, meaning unknown), then
/// user, host, tty, an empty string and platform, NUL-terminated.
fn login(wire: Wire, body: &[u8]) -> Parsed<'_> {
    let (rest, (_, user, host, tty, _, platform)) =
        (take(14usize), cstr, cstr, cstr, cstr, cstr).parse(body)?;
    Ok((
        rest,
        Event::Login {
            wire,
            user,
            host,
            tty,
            platform,
        },
    ))
}

/// 0x0107: user, host and a third string, NUL-terminated, then 4 bytes that look like an IPv4
/// address.
fn reread(wire: Wire, body: &[u8]) -> Parsed<'_> {
    let (rest, (user, host, daemon, address)) = (cstr, cstr, cstr, take(4usize)).parse(body)?;
    let address = <[u8; 4]>::try_from(address).ok().map(Ipv4Addr::from);
    Ok((
        rest,
        Event::Reread {
            wire,
            user,
            host,
            daemon,
            address,
        },
    ))
}

/// 0x0108: `01 04`, then user, host, daemon, tty and command, NUL-terminated.
fn command_request(wire: Wire, body: &[u8]) -> Parsed<'_> {
    let (rest, (_, user, host, daemon, tty, command)) =
        (take(2usize), cstr, cstr, cstr, cstr, cstr).parse(body)?;
    Ok((
        rest,
        Event::CommandRequest {
            wire,
            user,
            host,
            daemon,
            tty,
            command,
        },
    ))
}

/// 0x010e: bytes 20-21 version major and minor, 22-23 unknown, then host and daemon.
fn hello_reply(wire: Wire, body: &[u8]) -> Parsed<'_> {
    let (rest, (major, minor, _, host, daemon)) =
        (byte, byte, take(2usize), cstr, cstr).parse(body)?;
    Ok((
        rest,
        Event::HelloReply {
            wire,
            version: Some(ProductVersion {
                major: u32::from(major),
                minor: u32::from(minor),
                patch: None,
                build: None,
            }),
            patch: WireText::default(),
            comm_version: None,
            host,
            daemon,
        },
    ))
}

/// 0x0113: host, u32 TCP port, host2, u32 UDP port, transport char, reason char.
fn redirect(wire: Wire, body: &[u8]) -> Parsed<'_> {
    let (rest, (host, tcp, host2, udp, transport, reason)) =
        (cstr, be_u32, cstr, be_u32, take(1usize), take(1usize)).parse(body)?;
    Ok((
        rest,
        Event::Redirect {
            wire,
            host,
            host2,
            tcp_port: port(Some(tcp)),
            tcp_port_raw: Some(tcp),
            tcp_port_swapped: None,
            udp_port: port(Some(udp)),
            transport: WireText::from_nul_terminated(transport),
            reason: WireText::from_nul_terminated(reason),
        },
    ))
}

/// 0x0146: bytes 20-21 unknown, 22-23 text length, then the text.
fn command_reply(wire: Wire, body: &[u8], kind: TextKind) -> Parsed<'_> {
    let (rest, (_, text_len)) = (take(2usize), be_u16).parse(body)?;
    let (rest, text) = take(text_len).parse(rest)?;
    let (excerpt, cut) = WireText::excerpt(text, TEXT_EXCERPT);
    Ok((
        rest,
        Event::TextChunk {
            wire,
            kind,
            remaining: None,
            len: u32::from(text_len),
            text: excerpt,
            cut: len_u32(cut),
        },
    ))
}

/// 0x0149 reply: bytes 20-23 major, minor, patch, build.
fn server_version(wire: Wire, body: &[u8]) -> Parsed<'_> {
    let (rest, (major, minor, patch, build)) = (byte, byte, byte, byte).parse(body)?;
    Ok((
        rest,
        Event::ServerVersion {
            wire,
            version: ProductVersion {
                major: u32::from(major),
                minor: u32::from(minor),
                patch: Some(u32::from(patch)),
                build: Some(u32::from(build)),
            },
        },
    ))
}

#[cfg(test)]
pub(crate) mod tests;
