//! CGP message parsing (PROTOCOLS.md 3.1-3.2): pure nom over byte slices, one complete message
//! body at a time.
//!
//! The building blocks (varlen numbers, framing, header extensions, the CHANNEL_OPEN_REQUEST
//! body) are in `wire.rs`, below both this parser and the capability parser ([`super::caps`])
//! that this one calls for BIND bodies; the ones a reader of the stream needs are re-exported
//! here.

pub use super::wire::{
    Extensions, MAX_EXTENSION_FLAG_BYTES, OpenRequest, RawFrame, Reliability, VARLEN_MAX,
    WireError, frame, varlen, varlen_streaming,
};

use super::caps::{self, BindParse};
use super::model::{CloseType, Command, OpenStatus};
use super::wire::{PResult, extensions, open_request, sized, tolerating_stray_ack};
use nom::bytes::complete as bytes_complete;
use nom::number::complete::{le_u8, le_u16};

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
    use crate::cgp::model::{Framing, Priority};

    fn decode(cmd: Command, body: &[u8]) -> Decoded<'_> {
        message(cmd, body).unwrap()
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
