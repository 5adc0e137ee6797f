//! The building blocks of CGP's wire format (PROTOCOLS.md 3.1-3.2), shared by the message
//! parser ([`super::parser`]) and the capability parser ([`super::caps`]), which the message
//! parser calls for BIND bodies: varlen numbers and sized fields, message framing, header
//! extensions, and the CHANNEL_OPEN_REQUEST body, which the stream carries and
//! SESSION_RELIABILITY capabilities embed (stored for a reconnect).
//!
//! [`frame`] is streaming (it answers `Incomplete` until a whole message is there); everything
//! else works on one complete message body, where running out of bytes means the message is
//! truncated.

use super::model::{Framing, Priority};
use nom::bytes::{complete as bytes_complete, streaming as bytes_streaming};
use nom::error::{ErrorKind, ParseError};
use nom::number::complete::{le_u8, le_u16};
use nom::number::streaming as num_streaming;
use nom::{Err, IResult};

/// Why a message body could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// A field runs past the end of its message or of its enclosing block.
    Truncated,
    /// The header-extension flags go on for more than [`MAX_EXTENSION_FLAG_BYTES`] bytes.
    ExtensionOverflow,
    /// Extensions whose layout is unknown (monitoring, compression, or flags above bit 3) are
    /// present without an EXT_LENGTH to skip them by, so the body cannot be located.
    UndecodableExtension,
}

impl ParseError<&[u8]> for WireError {
    // The complete-input parsers used here only fail for lack of bytes.
    fn from_error_kind(_input: &[u8], _kind: ErrorKind) -> WireError {
        WireError::Truncated
    }

    fn append(_input: &[u8], _kind: ErrorKind, other: WireError) -> WireError {
        other
    }
}

impl WireError {
    pub fn from_nom(e: Err<WireError>) -> WireError {
        match e {
            Err::Error(e) | Err::Failure(e) => e,
            Err::Incomplete(_) => WireError::Truncated,
        }
    }
}

pub type PResult<'a, T> = IResult<&'a [u8], T, WireError>;

/// Largest value a varlen can carry: 7 bits in the first byte, 8 in the second.
pub const VARLEN_MAX: u16 = 0x7FFF;

/// At most this many header-extension flag bytes.
pub const MAX_EXTENSION_FLAG_BYTES: usize = 32;

/// A varlen inside a complete message: one byte below 128, else `[low 7 bits | 0x80][high 8]`.
///
/// A two-byte encoding of a small value (e.g. `85 00` for 5) is accepted, as the client's own
/// reader accepts it.
pub fn varlen(i: &[u8]) -> PResult<'_, u16> {
    varlen_with(i, le_u8)
}

/// A varlen at the head of a stream: `Incomplete` when its second byte has not arrived.
pub fn varlen_streaming(i: &[u8]) -> PResult<'_, u16> {
    varlen_with(i, num_streaming::le_u8)
}

fn varlen_with<'a>(i: &'a [u8], byte: fn(&'a [u8]) -> PResult<'a, u8>) -> PResult<'a, u16> {
    let (i, b0) = byte(i)?;
    if b0 & 0x80 == 0 {
        return Ok((i, u16::from(b0)));
    }
    let (i, b1) = byte(i)?;
    Ok((i, u16::from(b0 & 0x7F) | (u16::from(b1) << 7)))
}

/// Bytes preceded by their varlen count.
pub fn sized(i: &[u8]) -> PResult<'_, &[u8]> {
    let (i, len) = varlen(i)?;
    bytes_complete::take(len)(i)
}

/// One framed message `[varlen L][cmd][L-1 bytes]` as it sits in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawFrame<'a> {
    pub cmd: u8,
    pub body: &'a [u8],
}

/// The next message of a stream. `Ok(None)` is a frame whose length is zero: it has no command
/// byte, only its length field was consumed.
pub fn frame(i: &[u8]) -> PResult<'_, Option<RawFrame<'_>>> {
    let (i, len) = varlen_streaming(i)?;
    let Some(body_len) = usize::from(len).checked_sub(1) else {
        return Ok((i, None));
    };
    let (i, cmd) = num_streaming::le_u8(i)?;
    let (i, body) = bytes_streaming::take(body_len)(i)?;
    Ok((i, Some(RawFrame { cmd, body })))
}

/// The header-extension area that precedes the body of most commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// Flag bits 0..=6 of the first flag byte.
    pub flags: u8,
    /// A flag above bit 6 was set (a second or later flag byte).
    pub high_flags: bool,
    pub reliability: Option<Reliability>,
}

/// The RELIABILITY header extension.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reliability {
    /// TRACK_MESSAGE: the message counts towards the peer's acknowledgements.
    pub track: bool,
    /// Messages acknowledged, relative to the last acknowledgement.
    pub ack_delta: Option<u16>,
    /// The ack delta was present although the ACK flag was not set (the HTML5 client writes a
    /// pending ack whatever its flags say).
    pub stray_ack: bool,
}

impl Extensions {
    pub const EXT_LENGTH: u8 = 0x01;
    pub const MONITORING: u8 = 0x02;
    pub const COMPRESSION: u8 = 0x04;
    pub const RELIABILITY: u8 = 0x08;
    const KNOWN: u8 = 0x0F;

    pub fn ack_delta(&self) -> Option<u16> {
        self.reliability.and_then(|r| r.ack_delta)
    }

    /// Extensions before RELIABILITY whose data has no known layout.
    fn hides_reliability(&self) -> bool {
        self.flags & (Self::MONITORING | Self::COMPRESSION) != 0
    }

    fn has_unknown(&self) -> bool {
        self.hides_reliability() || self.high_flags || self.flags & !Self::KNOWN != 0
    }
}

const RELIABILITY_TRACK: u8 = 0x01;
const RELIABILITY_ACK: u8 = 0x02;

/// Flag bytes (7 flags each, bit 7 = another byte follows), then the extension data.
pub fn extensions(mut i: &[u8]) -> PResult<'_, Extensions> {
    let mut ext = Extensions::default();
    let mut more = true;
    for n in 0..MAX_EXTENSION_FLAG_BYTES {
        let (rest, byte) = le_u8(i)?;
        i = rest;
        if n == 0 {
            ext.flags = byte & 0x7F;
        } else if byte & 0x7F != 0 {
            ext.high_flags = true;
        }
        more = byte & 0x80 != 0;
        if !more {
            break;
        }
    }
    if more {
        return Err(Err::Error(WireError::ExtensionOverflow));
    }
    let wants_reliability = ext.flags & Extensions::RELIABILITY != 0;
    if ext.flags & Extensions::EXT_LENGTH != 0 {
        // The area length lets us step over whatever we cannot read.
        let (rest, area) = sized(i)?;
        if wants_reliability && !ext.hides_reliability() {
            let (after, mut rel) = reliability(area)?;
            if rel.ack_delta.is_none() && !after.is_empty() && !ext.has_unknown() {
                let (_, delta) = varlen(after)?;
                rel.ack_delta = Some(delta);
                rel.stray_ack = true;
            }
            ext.reliability = Some(rel);
        }
        return Ok((rest, ext));
    }
    if ext.has_unknown() {
        return Err(Err::Error(WireError::UndecodableExtension));
    }
    if wants_reliability {
        let (rest, rel) = reliability(i)?;
        ext.reliability = Some(rel);
        i = rest;
    }
    Ok((i, ext))
}

fn reliability(i: &[u8]) -> PResult<'_, Reliability> {
    let (i, flags) = le_u8(i)?;
    let mut rel = Reliability {
        track: flags & RELIABILITY_TRACK != 0,
        ..Reliability::default()
    };
    if flags & RELIABILITY_ACK == 0 {
        return Ok((i, rel));
    }
    let (i, delta) = varlen(i)?;
    rel.ack_delta = Some(delta);
    Ok((i, rel))
}

/// CHANNEL_OPEN_REQUEST fields after the extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenRequest<'a> {
    pub service_id: u16,
    pub channel: u16,
    pub framing: Framing,
    pub priority: Priority,
    pub params: &'a [u8],
}

/// A whole CHANNEL_OPEN_REQUEST body: its header extensions, the request, and how many bytes
/// after the request's last field were left unread.
pub fn channel_open_request(
    body: &[u8],
) -> Result<(Extensions, OpenRequest<'_>, usize), WireError> {
    let (body, mut ext) = extensions(body).map_err(WireError::from_nom)?;
    let (open, trailing) = tolerating_stray_ack(&mut ext, body, open_request)?;
    Ok((ext, open, trailing))
}

/// Parses a body of known extent. If it does not fit exactly and the RELIABILITY extension
/// carried no ACK flag, the body may start with a stray ack delta (the HTML5 client's habit):
/// when skipping one varlen makes the body fit exactly, that reading wins and the delta is
/// recorded. Otherwise the plain reading stands, with its unread tail reported.
pub(super) fn tolerating_stray_ack<'a, T>(
    ext: &mut Extensions,
    body: &'a [u8],
    parse: impl Fn(&'a [u8]) -> PResult<'a, T>,
) -> Result<(T, usize), WireError> {
    let plain = match parse(body) {
        Ok(([], value)) => return Ok((value, 0)),
        other => other,
    };
    if let Some(rel) = ext.reliability.as_mut().filter(|r| r.ack_delta.is_none())
        && let Ok((after, delta)) = varlen(body)
        && let Ok(([], value)) = parse(after)
    {
        rel.ack_delta = Some(delta);
        rel.stray_ack = true;
        return Ok((value, 0));
    }
    match plain {
        Ok((rest, value)) => Ok((value, rest.len())),
        Err(e) => Err(WireError::from_nom(e)),
    }
}

pub(super) fn open_request(i: &[u8]) -> PResult<'_, OpenRequest<'_>> {
    let (i, service_id) = le_u16(i)?;
    let (i, channel) = varlen(i)?;
    let (i, framing) = le_u8(i)?;
    let (i, priority) = le_u8(i)?;
    let (i, _reserved) = bytes_complete::take(2usize)(i)?;
    let (i, params) = sized(i)?;
    Ok((
        i,
        OpenRequest {
            service_id,
            channel,
            framing: Framing::from_code(framing),
            priority: Priority::from_code(priority),
            params,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nom::Needed;

    #[test]
    fn varlen_one_and_two_byte_forms() {
        assert_eq!(varlen(&[0x00]), Ok((&[][..], 0)));
        assert_eq!(varlen(&[0x7F, 0xAA]), Ok((&[0xAA][..], 127)));
        // 128 = 0b1_0000000: low 7 bits 0 with the continuation bit, then 1.
        assert_eq!(varlen(&[0x80, 0x01]), Ok((&[][..], 128)));
        // 300 = 0b10_0101100: 0x2C | 0x80, then 300 >> 7 = 2.
        assert_eq!(varlen(&[0xAC, 0x02]), Ok((&[][..], 300)));
        assert_eq!(varlen(&[0xFF, 0xFF]), Ok((&[][..], VARLEN_MAX)));
        // A non-minimal encoding still decodes.
        assert_eq!(varlen(&[0x85, 0x00]), Ok((&[][..], 5)));
    }

    #[test]
    fn varlen_cut_after_its_first_byte() {
        assert_eq!(varlen(&[0x80]), Err(Err::Error(WireError::Truncated)));
        assert_eq!(varlen(&[]), Err(Err::Error(WireError::Truncated)));
        assert_eq!(
            varlen_streaming(&[0x80]),
            Err(Err::Incomplete(Needed::new(1)))
        );
    }

    #[test]
    fn frames_are_length_command_body() {
        // L=3: NOP (05), ext flags 00, then one more byte; a second frame follows.
        let bytes = [0x03, 0x05, 0x00, 0xEE, 0x01];
        let (rest, f) = frame(&bytes).unwrap();
        assert_eq!(
            f,
            Some(RawFrame {
                cmd: 0x05,
                body: &[0x00, 0xEE]
            })
        );
        assert_eq!(rest, &[0x01]);
        // The second frame is cut short: only its length is there.
        assert!(matches!(frame(rest), Err(Err::Incomplete(_))));
        // A two-byte length (130) with one byte of its frame.
        assert!(matches!(
            frame(&[0x82, 0x01, 0x09]),
            Err(Err::Incomplete(_))
        ));
        assert!(matches!(frame(&[0x82]), Err(Err::Incomplete(_))));
    }

    #[test]
    fn a_zero_length_frame_has_no_command() {
        assert_eq!(frame(&[0x00, 0x05]), Ok((&[0x05][..], None)));
    }
}
