//! CGP wire parsing (PROTOCOLS.md 3.1-3.2): pure nom over byte slices.
//!
//! [`frame`] is streaming (it answers `Incomplete` until a whole message is there); everything
//! else works on one complete message body, where running out of bytes means the message is
//! truncated. Capability blocks of BIND messages are decoded in [`super::caps`].

use super::caps::{self, BindParse};
use super::model::{CloseType, Command, Framing, OpenStatus, Priority};
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

/// A decoded message. Slices borrow from the stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Message<'a> {
    Bind {
        response: bool,
        parse: Box<BindParse>,
    },
    Finish {
        response: bool,
        ext: Extensions,
        close: CloseType,
    },
    Nop {
        ext: Extensions,
    },
    OpenRequest {
        ext: Extensions,
        open: OpenRequest<'a>,
    },
    OpenResponse {
        ext: Extensions,
        channel: u16,
        status: OpenStatus,
        service_status: u16,
        params: &'a [u8],
    },
    Close {
        ext: Extensions,
        channel: u16,
        status: u16,
        service_status: u16,
    },
    Data {
        ext: Extensions,
        flags: u8,
        channel: u16,
        payload: &'a [u8],
    },
    /// DATA_REALTIME (no ack) or DATA_REALTIME_WITH_ACK, for the realtime channel.
    Realtime {
        ack_delta: Option<u16>,
        payload: &'a [u8],
    },
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

/// A message and how many bytes after its last field it left unread.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded<'a> {
    pub message: Message<'a>,
    pub trailing: usize,
}

/// Decodes the body of a known command.
pub fn message(cmd: Command, body: &[u8]) -> Result<Decoded<'_>, WireError> {
    let plain = |message| Decoded {
        message,
        trailing: 0,
    };
    match cmd {
        Command::BindRequest | Command::BindResponse => {
            let parse = Box::new(caps::bind(body)?);
            let trailing = parse.trailing;
            Ok(Decoded {
                message: Message::Bind {
                    response: cmd == Command::BindResponse,
                    parse,
                },
                trailing,
            })
        }
        Command::DataRealtime => Ok(plain(Message::Realtime {
            ack_delta: None,
            payload: body,
        })),
        Command::DataRealtimeWithAck => {
            let (payload, delta) = varlen(body).map_err(WireError::from_nom)?;
            Ok(plain(Message::Realtime {
                ack_delta: Some(delta),
                payload,
            }))
        }
        _ => {
            let (body, ext) = extensions(body).map_err(WireError::from_nom)?;
            extended(cmd, ext, body)
        }
    }
}

/// Bodies of the commands that follow header extensions.
fn extended(cmd: Command, mut ext: Extensions, body: &[u8]) -> Result<Decoded<'_>, WireError> {
    match cmd {
        Command::FinishRequest | Command::FinishResponse => {
            // closeType, then reserved bytes whose count the sources leave open.
            let (_, close) = le_u8(body).map_err(WireError::from_nom)?;
            Ok(Decoded {
                message: Message::Finish {
                    response: cmd == Command::FinishResponse,
                    ext,
                    close: CloseType::from_code(close),
                },
                trailing: 0,
            })
        }
        Command::Nop => {
            let ((), trailing) = tolerating_stray_ack(&mut ext, body, |i| Ok((i, ())))?;
            Ok(Decoded {
                message: Message::Nop { ext },
                trailing,
            })
        }
        Command::ChannelOpenRequest => {
            let (open, trailing) = tolerating_stray_ack(&mut ext, body, open_request)?;
            Ok(Decoded {
                message: Message::OpenRequest { ext, open },
                trailing,
            })
        }
        Command::ChannelOpenResponse => {
            let ((channel, status, service_status, params), trailing) =
                tolerating_stray_ack(&mut ext, body, open_response)?;
            Ok(Decoded {
                message: Message::OpenResponse {
                    ext,
                    channel,
                    status: OpenStatus::from_code(status),
                    service_status,
                    params,
                },
                trailing,
            })
        }
        Command::ChannelClose => {
            let ((channel, status, service_status), trailing) =
                tolerating_stray_ack(&mut ext, body, channel_close)?;
            Ok(Decoded {
                message: Message::Close {
                    ext,
                    channel,
                    status,
                    service_status,
                },
                trailing,
            })
        }
        // DATA ends with "the rest": a stray ack cannot be told from the flags byte here.
        _ => {
            let (payload, (flags, channel)) = data_header(body).map_err(WireError::from_nom)?;
            Ok(Decoded {
                message: Message::Data {
                    ext,
                    flags,
                    channel,
                    payload,
                },
                trailing: 0,
            })
        }
    }
}

/// Parses a body of known extent. If it does not fit exactly and the RELIABILITY extension
/// carried no ACK flag, the body may start with a stray ack delta (the HTML5 client's habit):
/// when skipping one varlen makes the body fit exactly, that reading wins and the delta is
/// recorded. Otherwise the plain reading stands, with its unread tail reported.
fn tolerating_stray_ack<'a, T>(
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

fn open_request(i: &[u8]) -> PResult<'_, OpenRequest<'_>> {
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

fn open_response(i: &[u8]) -> PResult<'_, (u16, u16, u16, &[u8])> {
    let (i, channel) = varlen(i)?;
    let (i, status) = le_u16(i)?;
    let (i, service_status) = le_u16(i)?;
    let (i, _reserved) = bytes_complete::take(2usize)(i)?;
    let (i, params) = sized(i)?;
    Ok((i, (channel, status, service_status, params)))
}

fn channel_close(i: &[u8]) -> PResult<'_, (u16, u16, u16)> {
    let (i, channel) = varlen(i)?;
    let (i, _reserved) = bytes_complete::take(2usize)(i)?;
    let (i, status) = le_u16(i)?;
    let (i, service_status) = le_u16(i)?;
    Ok((i, (channel, status, service_status)))
}

/// For a data command whose body may be incomplete: its channel (`None` for the realtime
/// commands, which name no channel) and where its payload starts in the body. `None` for other
/// commands, or when the bytes before the payload are not all there.
pub fn payload_start(cmd: Command, body: &[u8]) -> Option<(Option<u16>, usize)> {
    let (rest, channel) = match cmd {
        Command::Data => {
            let (rest, _ext) = extensions(body).ok()?;
            let (rest, (_flags, channel)) = data_header(rest).ok()?;
            (rest, Some(channel))
        }
        Command::DataRealtime => (body, None),
        Command::DataRealtimeWithAck => (varlen(body).ok()?.0, None),
        _ => return None,
    };
    Some((channel, body.len() - rest.len()))
}

fn data_header(i: &[u8]) -> PResult<'_, (u8, u16)> {
    let (i, flags) = le_u8(i)?;
    let (i, channel) = varlen(i)?;
    Ok((i, (flags, channel)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nom::Needed;

    fn decode(cmd: Command, body: &[u8]) -> Decoded<'_> {
        message(cmd, body).unwrap()
    }

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

    #[test]
    fn nop_without_extensions() {
        let d = decode(Command::Nop, &[0x00]);
        assert_eq!(
            d.message,
            Message::Nop {
                ext: Extensions::default()
            }
        );
        assert_eq!(d.trailing, 0);
    }

    #[test]
    fn nop_with_an_ack() {
        // flags: RELIABILITY (0x08); reliability flags: TRACK|ACK (0x03); ackDelta 5.
        let d = decode(Command::Nop, &[0x08, 0x03, 0x05]);
        let Message::Nop { ext } = d.message else {
            panic!("{d:?}")
        };
        assert_eq!(
            ext.reliability,
            Some(Reliability {
                track: true,
                ack_delta: Some(5),
                stray_ack: false
            })
        );
    }

    #[test]
    fn nop_with_a_stray_ack_delta_is_tolerated() {
        // RELIABILITY with TRACK only, yet the sender wrote ackDelta 200 (C8 01).
        let d = decode(Command::Nop, &[0x08, 0x01, 0xC8, 0x01]);
        let Message::Nop { ext } = d.message else {
            panic!("{d:?}")
        };
        let rel = ext.reliability.unwrap();
        assert_eq!(rel.ack_delta, Some(200));
        assert!(rel.stray_ack && rel.track);
        assert_eq!(d.trailing, 0);
    }

    #[test]
    fn extension_length_area_is_skipped_past_unknown_extensions() {
        // EXT_LENGTH|MONITORING|RELIABILITY, area of 3 opaque bytes, then a CHANNEL_CLOSE body:
        // channel 4, reserved, status 0, svcStatus 7.
        let body = [
            0x0B, 0x03, 0xAA, 0xBB, 0xCC, 0x04, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00,
        ];
        let d = decode(Command::ChannelClose, &body);
        let Message::Close {
            ext,
            channel,
            status,
            service_status,
        } = d.message
        else {
            panic!("{d:?}")
        };
        assert_eq!((channel, status, service_status), (4, 0, 7));
        assert_eq!(ext.reliability, None, "hidden behind monitoring data");
        // EXT_LENGTH|RELIABILITY with an ACK inside the area.
        let d = decode(Command::Nop, &[0x09, 0x02, 0x02, 0x09]);
        let Message::Nop { ext } = d.message else {
            panic!()
        };
        assert_eq!(ext.ack_delta(), Some(9));
        // Stray ack inside the area.
        let d = decode(Command::Nop, &[0x09, 0x02, 0x01, 0x04]);
        let Message::Nop { ext } = d.message else {
            panic!()
        };
        assert_eq!(ext.ack_delta(), Some(4));
        assert!(ext.reliability.unwrap().stray_ack);
    }

    #[test]
    fn extension_problems() {
        // Monitoring without EXT_LENGTH: the body cannot be found.
        assert_eq!(
            message(Command::Nop, &[0x02, 0x00]),
            Err(WireError::UndecodableExtension)
        );
        // A second flag byte with a flag set, no EXT_LENGTH.
        assert_eq!(
            message(Command::Nop, &[0x80, 0x01]),
            Err(WireError::UndecodableExtension)
        );
        // Continuation bits on 32 bytes: overflow.
        assert_eq!(
            message(Command::Nop, &[0x80; 40]),
            Err(WireError::ExtensionOverflow)
        );
        // 31 continued bytes and a last one is fine (no flags set beyond the first byte).
        let mut ok = vec![0x80; 31];
        ok.push(0x00);
        assert!(message(Command::Nop, &ok).is_ok());
        // Flag bytes cut short.
        assert_eq!(message(Command::Nop, &[0x80]), Err(WireError::Truncated));
        assert_eq!(message(Command::Nop, &[]), Err(WireError::Truncated));
    }

    #[test]
    fn finish_request_and_response() {
        // ext 00, closeType 1 (restart), reserved 00.
        let d = decode(Command::FinishRequest, &[0x00, 0x01, 0x00]);
        assert_eq!(
            d.message,
            Message::Finish {
                response: false,
                ext: Extensions::default(),
                close: CloseType::Restart
            }
        );
        let d = decode(Command::FinishResponse, &[0x00, 0x00]);
        assert!(matches!(
            d.message,
            Message::Finish {
                response: true,
                close: CloseType::Close,
                ..
            }
        ));
        assert_eq!(
            message(Command::FinishRequest, &[0x00]),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn channel_open_request_for_the_tcp_proxy() {
        let body = [
            0x00, // ext flags
            0x01, 0x00, // serviceId 1
            0x02, // channel id 2 = (1 << 1) | client
            0x00, // framing stream
            0x02, // priority realtime
            0x00, 0x00, // reserved
            0x03, 0xAA, 0xBB, 0xCC, // params (3 bytes)
        ];
        let d = decode(Command::ChannelOpenRequest, &body);
        assert_eq!(d.trailing, 0);
        assert_eq!(
            d.message,
            Message::OpenRequest {
                ext: Extensions::default(),
                open: OpenRequest {
                    service_id: 1,
                    channel: 2,
                    framing: Framing::Stream,
                    priority: Priority::Realtime,
                    params: &[0xAA, 0xBB, 0xCC],
                }
            }
        );
        // Params longer than the message: truncated.
        assert_eq!(
            message(Command::ChannelOpenRequest, &body[..11]),
            Err(WireError::Truncated)
        );
        // Two bytes after the params: decoded, and the tail is reported.
        let mut long = body.to_vec();
        long.extend_from_slice(&[0, 0]);
        assert_eq!(decode(Command::ChannelOpenRequest, &long).trailing, 2);
    }

    #[test]
    fn open_request_with_a_stray_ack() {
        // RELIABILITY(track only) + stray ackDelta 3, then the same open request as above.
        let body = [
            0x08, 0x01, 0x03, 0x01, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00,
        ];
        let d = decode(Command::ChannelOpenRequest, &body);
        let Message::OpenRequest { ext, open } = d.message else {
            panic!()
        };
        assert_eq!(ext.ack_delta(), Some(3));
        assert_eq!((open.service_id, open.channel), (1, 2));
        assert_eq!(open.params, &[] as &[u8]);
    }

    #[test]
    fn channel_open_response() {
        let body = [
            0x00, // ext
            0x02, // channel 2
            0x01, 0x00, // status 1 rejected
            0x06, 0x00, // svcStatus 6
            0x00, 0x00, // reserved
            0x00, // no params
        ];
        let d = decode(Command::ChannelOpenResponse, &body);
        assert_eq!(
            d.message,
            Message::OpenResponse {
                ext: Extensions::default(),
                channel: 2,
                status: OpenStatus::Rejected,
                service_status: 6,
                params: &[],
            }
        );
    }

    #[test]
    fn channel_close() {
        // ext, channel 0x83 0x01 = 131, reserved, status 2, svcStatus 0x0102.
        let body = [0x00, 0x83, 0x01, 0x00, 0x00, 0x02, 0x00, 0x02, 0x01];
        let d = decode(Command::ChannelClose, &body);
        assert_eq!(
            d.message,
            Message::Close {
                ext: Extensions::default(),
                channel: 131,
                status: 2,
                service_status: 0x0102
            }
        );
        assert_eq!(
            message(Command::ChannelClose, &body[..8]),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn data_and_realtime_data() {
        // ext, flags push (0x08), channel 2, payload.
        let d = decode(Command::Data, &[0x00, 0x08, 0x02, b'h', b'i']);
        assert_eq!(
            d.message,
            Message::Data {
                ext: Extensions::default(),
                flags: 0x08,
                channel: 2,
                payload: b"hi"
            }
        );
        // Realtime: no extension byte, all payload.
        let d = decode(Command::DataRealtime, &[0x08, 0x00]);
        assert_eq!(
            d.message,
            Message::Realtime {
                ack_delta: None,
                payload: &[0x08, 0x00]
            }
        );
        // With ack: varlen 128 (80 01), then the payload.
        let d = decode(Command::DataRealtimeWithAck, &[0x80, 0x01, 0x7F]);
        assert_eq!(
            d.message,
            Message::Realtime {
                ack_delta: Some(128),
                payload: &[0x7F]
            }
        );
        assert_eq!(
            message(Command::DataRealtimeWithAck, &[]),
            Err(WireError::Truncated)
        );
        assert_eq!(
            message(Command::Data, &[0x00, 0x08]),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn payload_start_of_partial_data_messages() {
        // DATA: ext with an ack (08 02 01), flags, channel 130 (82 01): payload at 6.
        let body = [0x08, 0x02, 0x01, 0x00, 0x82, 0x01, b'x'];
        assert_eq!(payload_start(Command::Data, &body), Some((Some(130), 6)));
        assert_eq!(payload_start(Command::Data, &body[..5]), None);
        assert_eq!(payload_start(Command::DataRealtime, &[]), Some((None, 0)));
        assert_eq!(
            payload_start(Command::DataRealtimeWithAck, &[0x81, 0x01, 0x00]),
            Some((None, 2))
        );
        assert_eq!(payload_start(Command::DataRealtimeWithAck, &[0x81]), None);
        assert_eq!(payload_start(Command::Nop, &[0x00]), None);
    }
}
