//! Where the ICA dissector's events and anomalies go: the engine's event list, with every
//! anomaly counted by code and only the first few of each code reported as events (a corrupt
//! stream must not turn into one event per frame).

use super::event::Event;
use crate::event::{Anomaly, Event as AnyEvent};
use crate::types::{Dir, Severity, Timestamp};
use serde::Serialize;

/// The anomalies the ICA dissector reports, each with a stable dotted code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnomalyKind {
    /// A stream that should start with the detect string (the connection start was seen)
    /// starts with something else.
    MissingDetect,
    /// The client's first bytes are not the echo of the server's detect string.
    UnknownDetectEcho,
    /// An init packet too short for the structure it must hold.
    TruncatedInitPacket,
    /// Lengths or offsets inside an init packet that disagree with each other or with the packet.
    InconsistentLength,
    /// An init packet longer than `MAX_INIT_PACKET`.
    OversizedInitPacket,
    /// A packet that does not belong to the init phase in this direction.
    UnexpectedInitPacket,
    /// A ModuleCount that does not count down by one.
    ModuleCount,
    /// A frame longer than the negotiated ICA buffer allows.
    OversizedFrame,
    /// A frame whose PDCRYPT1 header byte is not a known value.
    BadCryptHeader,
    /// A key-exchange frame of an unexpected shape.
    BadKeyExchange,
    /// A literal reducer block longer than the rest of its frame.
    BadBlock,
    /// An ICA command that runs past the end of its frame.
    TruncatedCommand,
    /// An ICA command code without a known length: the rest of its frame is not parsed.
    UnknownCommand,
    /// The framing position was lost (gap or overflow): the direction is resynchronised or
    /// no longer decoded.
    LostSync,
    /// The framing was found again after a loss, or picked up mid-stream.
    Resync,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 15] = [
        AnomalyKind::MissingDetect,
        AnomalyKind::UnknownDetectEcho,
        AnomalyKind::TruncatedInitPacket,
        AnomalyKind::InconsistentLength,
        AnomalyKind::OversizedInitPacket,
        AnomalyKind::UnexpectedInitPacket,
        AnomalyKind::ModuleCount,
        AnomalyKind::OversizedFrame,
        AnomalyKind::BadCryptHeader,
        AnomalyKind::BadKeyExchange,
        AnomalyKind::BadBlock,
        AnomalyKind::TruncatedCommand,
        AnomalyKind::UnknownCommand,
        AnomalyKind::LostSync,
        AnomalyKind::Resync,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            AnomalyKind::MissingDetect => "ica.missing_detect",
            AnomalyKind::UnknownDetectEcho => "ica.unknown_detect_echo",
            AnomalyKind::TruncatedInitPacket => "ica.truncated_init_packet",
            AnomalyKind::InconsistentLength => "ica.inconsistent_length",
            AnomalyKind::OversizedInitPacket => "ica.oversized_init_packet",
            AnomalyKind::UnexpectedInitPacket => "ica.unexpected_init_packet",
            AnomalyKind::ModuleCount => "ica.module_count",
            AnomalyKind::OversizedFrame => "ica.oversized_frame",
            AnomalyKind::BadCryptHeader => "ica.bad_crypt_header",
            AnomalyKind::BadKeyExchange => "ica.bad_key_exchange",
            AnomalyKind::BadBlock => "ica.bad_block",
            AnomalyKind::TruncatedCommand => "ica.truncated_command",
            AnomalyKind::UnknownCommand => "ica.unknown_command",
            AnomalyKind::LostSync => "ica.lost_sync",
            AnomalyKind::Resync => "ica.resync",
        }
    }

    pub const fn severity(self) -> Severity {
        match self {
            AnomalyKind::Resync | AnomalyKind::UnknownCommand => Severity::Info,
            AnomalyKind::ModuleCount
            | AnomalyKind::OversizedFrame
            | AnomalyKind::TruncatedCommand
            | AnomalyKind::MissingDetect => Severity::Low,
            _ => Severity::Medium,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Events reported per anomaly code; later ones are only counted.
pub const ANOMALY_EVENTS_PER_CODE: u64 = 8;

/// How often each anomaly occurred.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnomalyCounts([u64; AnomalyKind::ALL.len()]);

/// One line of the summary's anomaly table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AnomalyCount {
    /// The dotted code.
    pub code: &'static str,
    /// Occurrences (events beyond `ANOMALY_EVENTS_PER_CODE` were not reported).
    pub count: u64,
}

impl AnomalyCounts {
    pub fn get(&self, kind: AnomalyKind) -> u64 {
        self.0[kind.index()]
    }

    /// The codes that occurred, in table order.
    pub fn table(&self) -> Vec<AnomalyCount> {
        AnomalyKind::ALL
            .into_iter()
            .filter(|k| self.get(*k) > 0)
            .map(|k| AnomalyCount {
                code: k.code(),
                count: self.get(k),
            })
            .collect()
    }
}

/// The output of one `feed`/`gap`/`close` call: time, direction and where events go.
pub struct Sink<'a> {
    pub out: &'a mut Vec<AnyEvent>,
    pub ts: Timestamp,
    pub dir: Dir,
    pub anomalies: &'a mut AnomalyCounts,
}

impl Sink<'_> {
    pub fn event(&mut self, event: Event) {
        self.out.push(AnyEvent::new(self.ts, self.dir, event));
    }

    /// An event that belongs to the connection rather than to one direction.
    pub fn connection_event(&mut self, event: Event) {
        self.out.push(AnyEvent::connection(self.ts, event));
    }

    /// Counts an anomaly; reports it while its code is within budget. The message is only
    /// built when it is reported.
    pub fn anomaly(&mut self, kind: AnomalyKind, message: impl FnOnce() -> String) {
        let count = &mut self.anomalies.0[kind.index()];
        *count += 1;
        if *count <= ANOMALY_EVENTS_PER_CODE {
            let message = format!("{}: {}", self.dir.name(), message());
            self.out.push(AnyEvent::new(
                self.ts,
                self.dir,
                Anomaly::new(kind.code(), kind.severity(), message),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Body;

    #[test]
    fn codes_are_unique_and_prefixed() {
        let mut codes: Vec<_> = AnomalyKind::ALL.iter().map(|k| k.code()).collect();
        assert!(codes.iter().all(|c| c.starts_with("ica.")));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), AnomalyKind::ALL.len());
        for (i, k) in AnomalyKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }

    #[test]
    fn anomalies_beyond_the_budget_are_counted_not_reported() {
        let mut out = Vec::new();
        let mut counts = AnomalyCounts::default();
        let mut sink = Sink {
            out: &mut out,
            ts: Timestamp::from_secs(1),
            dir: Dir::ToClient,
            anomalies: &mut counts,
        };
        for i in 0..20 {
            sink.anomaly(AnomalyKind::BadBlock, || format!("block {i}"));
        }
        assert_eq!(out.len() as u64, ANOMALY_EVENTS_PER_CODE);
        assert_eq!(counts.get(AnomalyKind::BadBlock), 20);
        assert_eq!(
            counts.table(),
            vec![AnomalyCount {
                code: "ica.bad_block",
                count: 20
            }]
        );
        match &out[0].body {
            Body::Anomaly(a) => {
                assert_eq!(a.code, "ica.bad_block");
                assert_eq!(a.message, "to_client: block 0");
                assert_eq!(a.severity, Severity::Medium);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
