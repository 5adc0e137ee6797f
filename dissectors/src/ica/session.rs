//! What one ICA connection agreed on, gathered from both directions' init packets and key
//! exchange, and the decisions drawn from it: how framed data is layered and which encryption
//! protects it.

use super::anomaly::AnomalyKind;
use super::event::{
    ChannelBinding, EncryptionKind, EncryptionOff, Event, ProtocolDriver, TerminateReason,
};
use super::names::{PD_COMPRESS, PD_ENCRYPT};
use super::sink::Sink;
use super::summary::{ClientSummary, PerDir};
use crate::text::WireText;
use crate::types::Dir;
use std::fmt;

/// Most protocol drivers kept from INIT_CONNECTs.
pub const MAX_PROTOCOL_DRIVERS: usize = 16;
/// Most channel bindings kept (names for the summary's channel table).
pub const MAX_BINDINGS: usize = 64;
/// Slack over the negotiated ICA buffer length before a frame counts as oversized (frames carry
/// the PDCRYPT1 header and reducer block headers on top of the buffer).
pub const FRAME_SLACK: u16 = 256;
/// TERMINATE events reported; later ones are only counted in the command table.
const MAX_TERMINATE_EVENTS: u8 = 4;

/// The PDCRYPT1 session key. Kept only to decrypt; never printed, not even by `Debug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionKey(pub u8);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// How the framed data of one direction is layered, as far as the init phase tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layering {
    /// The init phase was not seen (or not completed): frames are only counted.
    CountOnly,
    Decode {
        /// PdEncrypt accepted: each frame starts with a PDCRYPT1 header byte.
        crypt: bool,
        /// PdCompress accepted: the payload is PD-compressed (not decoded).
        pd_compress: bool,
        /// The reducer was agreed for this direction: data comes in reducer blocks.
        reducer: bool,
    },
}

/// What the host's winstation driver agreed to (WD_H2C) that framing depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WdAgreement {
    pub ica_buffer_length: u16,
    pub c2h_power_of2: u8,
    pub h2c_power_of2: u8,
}

/// What a later connection of the same ICA session needs to read its frames: the layering the
/// init phase agreed, the channel names, the encryption and, for PDCRYPT1, the session key and
/// whether each direction has switched it off.
/// A session-reliability reconnect carries the ICA stream on a new connection without a new
/// init phase; the engine hands this from the earlier connection's dissector to the new one.
/// It never leaves the process: it cannot be serialised, and its `Debug` shows no key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFacts {
    key: Option<SessionKey>,
    encryption: EncryptionKind,
    key_exchanged_in_clear: bool,
    encryption_off: PerDir<Option<EncryptionOff>>,
    protocol_drivers: Vec<ProtocolDriver>,
    wd: Option<WdAgreement>,
    bindings: Vec<ChannelBinding>,
}

#[derive(Debug, Default)]
pub struct Session {
    pub host_level: Option<u8>,
    /// What the client said about itself (UI_C2H).
    pub client: ClientSummary,
    /// The encryption level the client asked for (UI_C2H).
    pub encryption_level: Option<u8>,
    pub client_modules: u16,
    pub host_modules: u16,
    /// The client module offering PDCRYPT1 basic encryption.
    pub basic_module: Option<WireText>,
    /// The client module offering RC5 encryption (PDC40/PDC56/PDC128).
    pub rc5_module: Option<WireText>,
    pub bindings: Vec<ChannelBinding>,
    pub wd: Option<WdAgreement>,
    pub protocol_drivers: Vec<ProtocolDriver>,
    pub host_init_done: bool,
    pub client_init_done: bool,
    init_complete: bool,
    /// The client asked for the reducer on its frames (WD_C2H C2H_PowerOf2Wanted).
    pub client_wants_reducer: Option<bool>,
    /// The host's init phase was not seen, but the client's first frame is a PDCRYPT1
    /// session-key frame: its frames carry PDCRYPT1 headers.
    client_sends_pdcrypt1: bool,
    /// Size of the host's public key (PDCRYPT1 header 0x02 frame, header byte included).
    public_key_len: Option<u16>,
    key: Option<SessionKey>,
    pub encryption: Option<EncryptionKind>,
    pub key_exchanged_in_clear: bool,
    /// Where each direction switched PDCRYPT1 off: its later frames have no PDCRYPT1 header.
    pub encryption_off: PerDir<Option<EncryptionOff>>,
    pub terminate: Option<TerminateReason>,
    terminate_events: u8,
}

impl Session {
    pub fn init_complete(&self) -> bool {
        self.init_complete
    }

    pub fn key(&self) -> Option<SessionKey> {
        self.key
    }

    /// The facts a later connection needs, once the host's init phase and the encryption are
    /// settled.
    pub fn carry(&self) -> Option<SessionFacts> {
        let encryption = self.encryption.filter(|_| self.host_init_done)?;
        Some(SessionFacts {
            key: self.key,
            encryption,
            key_exchanged_in_clear: self.key_exchanged_in_clear,
            encryption_off: self.encryption_off,
            protocol_drivers: self.protocol_drivers.clone(),
            wd: self.wd,
            bindings: self.bindings.clone(),
        })
    }

    /// Whether the layering of the frames is known (from this connection's init phase or an
    /// earlier connection's).
    pub fn has_layering(&self) -> bool {
        self.host_init_done
    }

    /// Takes over what an earlier connection of the session agreed. No event is reported: the
    /// facts were reported with that connection.
    pub fn resume(&mut self, carry: &SessionFacts) {
        self.key = carry.key;
        self.encryption = Some(carry.encryption);
        self.key_exchanged_in_clear = carry.key_exchanged_in_clear;
        self.encryption_off = carry.encryption_off;
        self.protocol_drivers.clone_from(&carry.protocol_drivers);
        self.wd = carry.wd;
        self.bindings.clone_from(&carry.bindings);
        self.host_init_done = true;
        self.client_init_done = true;
    }

    /// The layering of `dir`'s frames.
    pub fn layering(&self, dir: Dir) -> Layering {
        match self.agreed_layering(dir) {
            // After "off", frames carry no PDCRYPT1 header.
            Layering::Decode {
                pd_compress,
                reducer,
                ..
            } if self.encryption_off.get(dir).is_some() => Layering::Decode {
                crypt: false,
                pd_compress,
                reducer,
            },
            layering => layering,
        }
    }

    /// The layering the init phase agreed for `dir`'s frames.
    fn agreed_layering(&self, dir: Dir) -> Layering {
        if !self.host_init_done {
            // Only the client's side captured: its own wishes are all there is to go by.
            return match dir {
                Dir::ToServer if self.client_sends_pdcrypt1 => Layering::Decode {
                    crypt: true,
                    pd_compress: false,
                    reducer: self.client_wants_reducer.unwrap_or(false),
                },
                _ => Layering::CountOnly,
            };
        }
        let accepted = |class| self.protocol_drivers.iter().any(|d| d.class == class);
        let reducer = self
            .wd
            .is_some_and(|wd| dir.pick(wd.c2h_power_of2, wd.h2c_power_of2) != 0);
        Layering::Decode {
            crypt: accepted(PD_ENCRYPT),
            pd_compress: accepted(PD_COMPRESS),
            reducer,
        }
    }

    /// Longest frame payload that is not an anomaly, when the ICA buffer length is known.
    pub fn frame_limit(&self) -> Option<u16> {
        self.wd
            .map(|wd| wd.ica_buffer_length.saturating_add(FRAME_SLACK))
    }

    /// The name bound to a VIRTUAL_WRITE channel id.
    pub fn channel_name(&self, channel: u8) -> Option<WireText> {
        self.bindings
            .iter()
            .find(|b| b.channel == u16::from(channel))
            .map(|b| b.name.clone())
    }

    /// The client sent INIT_CONNECT_RESPONSE.
    pub fn client_init_finished(&mut self, sink: &mut Sink) {
        self.client_init_done = true;
        self.report_init_complete(sink);
    }

    /// The host sent its last INIT_CONNECT: its protocol drivers are known.
    pub fn host_init_finished(&mut self, sink: &mut Sink) {
        self.host_init_done = true;
        sink.event(Event::ProtocolDrivers {
            drivers: self.protocol_drivers.clone(),
        });
        if let Layering::Decode { crypt: false, .. } = self.layering(Dir::ToClient) {
            self.decide(EncryptionKind::None, sink);
        }
        self.report_init_complete(sink);
    }

    fn report_init_complete(&mut self, sink: &mut Sink) {
        if self.client_init_done && self.host_init_done && !self.init_complete {
            self.init_complete = true;
            sink.connection_event(Event::InitComplete {
                client_modules: self.client_modules,
                host_modules: self.host_modules,
            });
        }
    }

    /// Without the host's init phase: the client's first frame is `03 00 04 00 KK`, the
    /// PDCRYPT1 session key, so its frames are PDCRYPT1 frames (and the key is read from it).
    pub fn client_sends_pdcrypt1(&mut self) {
        if !self.host_init_done {
            self.client_sends_pdcrypt1 = true;
        }
    }

    /// A PDCRYPT1 public-key frame (header 0x02) of `len` payload bytes.
    pub fn public_key(&mut self, len: u16, sink: &mut Sink) {
        if sink.dir != Dir::ToClient {
            sink.anomaly(AnomalyKind::BadKeyExchange, || {
                "public key sent by the client".to_string()
            });
            return;
        }
        self.public_key_len.get_or_insert(len);
        // PDCRYPT1's public key is empty (`02 00`); anything longer is a real key exchange.
        if len > 2 {
            self.decide(self.strong_or_unknown(), sink);
        }
    }

    /// A PDCRYPT1 session-key frame (header 0x04) of `len` payload bytes, starting with `prefix`.
    pub fn session_key(&mut self, prefix: &[u8], len: u16, sink: &mut Sink) {
        let empty_public_key = self.public_key_len.is_none_or(|len| len <= 2);
        match (prefix, len) {
            // PDCRYPT1: `04 00 KK`, the key in the clear.
            ([_, _, key], 3) if sink.dir == Dir::ToServer && empty_public_key => {
                if self.key.is_none() {
                    self.key = Some(SessionKey(*key));
                    self.key_exchanged_in_clear = true;
                    self.decide(EncryptionKind::Basic, sink);
                }
            }
            _ if sink.dir == Dir::ToServer && len > 3 => {
                self.decide(self.strong_or_unknown(), sink);
            }
            _ => sink.anomaly(AnomalyKind::BadKeyExchange, || {
                format!("session-key frame of {len} bytes")
            }),
        }
    }

    /// A PDCRYPT1 "off" frame (header 0x06): the sink's direction sends no more PDCRYPT1
    /// headers. Reported once per direction.
    pub fn encryption_switched_off(&mut self, at: EncryptionOff, sink: &mut Sink) {
        let off = self.encryption_off.get_mut(sink.dir);
        if off.is_none() {
            *off = Some(at);
            sink.event(Event::EncryptionOff(at));
        }
    }

    /// A TERMINATE command.
    pub fn terminated(&mut self, code: u8, sink: &mut Sink) {
        let reason = TerminateReason::from_code(code);
        self.terminate.get_or_insert(reason);
        if self.terminate_events < MAX_TERMINATE_EVENTS {
            self.terminate_events += 1;
            sink.event(Event::Terminate { reason, code });
        }
    }

    /// At close: reports the encryption if the init phase showed an encryption driver but no
    /// key exchange settled which one. An empty public key (`02 00`) is PDCRYPT1's, whose
    /// session key always follows in the clear (the client's side may not be in the capture).
    pub fn close(&mut self, sink: &mut Sink) {
        if self.encryption.is_none() && self.host_init_done {
            if self.public_key_len.is_some_and(|len| len <= 2) {
                self.key_exchanged_in_clear = true;
                self.decide(EncryptionKind::Basic, sink);
            } else {
                self.decide(self.strong_or_unknown(), sink);
            }
        }
    }

    fn strong_or_unknown(&self) -> EncryptionKind {
        if self.rc5_module.is_some() {
            EncryptionKind::Rc5
        } else {
            EncryptionKind::Unknown
        }
    }

    /// Settles the encryption once and reports it.
    fn decide(&mut self, kind: EncryptionKind, sink: &mut Sink) {
        if self.encryption.is_some() {
            return;
        }
        self.encryption = Some(kind);
        let module = match kind {
            EncryptionKind::Basic => self.basic_module.clone(),
            EncryptionKind::Rc5 => self.rc5_module.clone(),
            EncryptionKind::None | EncryptionKind::Unknown => None,
        };
        sink.connection_event(Event::Encryption {
            kind,
            key_exchanged_in_clear: self.key_exchanged_in_clear,
            module,
            encryption_level: self.encryption_level,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::Anomalies;
    use crate::event::{Body, Event as AnyEvent};
    use crate::types::Timestamp;

    fn with_sink<R>(dir: Dir, f: impl FnOnce(&mut Sink) -> R) -> (R, Vec<AnyEvent>) {
        let mut out = Vec::new();
        let mut counts = Anomalies::default();
        let mut sink = Sink {
            out: &mut out,
            ts: Timestamp::from_secs(0),
            dir,
            anomalies: &mut counts,
        };
        let r = f(&mut sink);
        (r, out)
    }

    fn encryption_of(events: &[AnyEvent]) -> Vec<EncryptionKind> {
        events
            .iter()
            .filter_map(|e| match &e.body {
                Body::Ica(Event::Encryption { kind, .. }) => Some(*kind),
                _ => None,
            })
            .collect()
    }

    fn driver(class: u8) -> ProtocolDriver {
        ProtocolDriver {
            class,
            name: super::super::names::pd_class(class),
        }
    }

    #[test]
    fn no_encryption_driver_means_no_encryption() {
        let mut s = Session {
            protocol_drivers: vec![driver(9)],
            ..Session::default()
        };
        let (_, events) = with_sink(Dir::ToClient, |sink| s.host_init_finished(sink));
        assert_eq!(encryption_of(&events), vec![EncryptionKind::None]);
        assert_eq!(
            s.layering(Dir::ToServer),
            Layering::Decode {
                crypt: false,
                pd_compress: false,
                reducer: false
            }
        );
    }

    #[test]
    fn basic_encryption_from_the_key_exchange() {
        let mut s = Session {
            protocol_drivers: vec![driver(9), driver(11)],
            basic_module: Some(WireText::from_bytes(b"PDCRYPTN.DLL")),
            ..Session::default()
        };
        let (_, events) = with_sink(Dir::ToClient, |sink| {
            s.host_init_finished(sink);
            s.public_key(2, sink);
        });
        assert!(encryption_of(&events).is_empty());
        let (_, events) = with_sink(Dir::ToServer, |sink| s.session_key(&[4, 0, 0x5A], 3, sink));
        assert_eq!(encryption_of(&events), vec![EncryptionKind::Basic]);
        assert_eq!(s.key(), Some(SessionKey(0x5A)));
        assert!(s.key_exchanged_in_clear);
        assert_eq!(format!("{:?}", s.key()), "Some(SessionKey(..))");
        // The Debug form of the whole session does not show the key either.
        assert!(!format!("{s:?}").contains("90"));
    }

    #[test]
    fn a_real_public_key_with_rc5_modules_is_secure_ica() {
        let mut s = Session {
            protocol_drivers: vec![driver(11)],
            rc5_module: Some(WireText::from_bytes(b"PDC128N.DLL")),
            ..Session::default()
        };
        let (_, events) = with_sink(Dir::ToClient, |sink| {
            s.host_init_finished(sink);
            s.public_key(70, sink);
        });
        assert_eq!(encryption_of(&events), vec![EncryptionKind::Rc5]);
        assert!(!s.key_exchanged_in_clear);
        // Once settled, nothing changes it.
        let (_, events) = with_sink(Dir::ToServer, |sink| s.session_key(&[4, 0, 1], 3, sink));
        assert!(encryption_of(&events).is_empty());
    }

    #[test]
    fn an_unsettled_encryption_driver_is_reported_at_close() {
        let mut s = Session {
            protocol_drivers: vec![driver(11)],
            ..Session::default()
        };
        let (_, events) = with_sink(Dir::ToClient, |sink| {
            s.host_init_finished(sink);
            s.close(sink);
        });
        assert_eq!(encryption_of(&events), vec![EncryptionKind::Unknown]);
        // Without the init phase nothing is claimed.
        let mut mid = Session::default();
        let (_, events) = with_sink(Dir::ToClient, |sink| mid.close(sink));
        assert!(encryption_of(&events).is_empty());
        assert_eq!(mid.layering(Dir::ToClient), Layering::CountOnly);
    }
}
