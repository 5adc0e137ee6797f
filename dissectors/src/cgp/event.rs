//! What the CGP dissector reports: events as they happen and the summary of a connection.
//!
//! Per-direction arrays are indexed by [`Dir::index`](crate::Dir::index): `[to_server,
//! to_client]`. Bulk data never produces events; it is counted per channel.

use super::caps::Bind;
use super::model::{CloseType, Command, Framing, Initiator, OpenStatus, Priority};
use super::proxy::ProxyTarget;
use crate::anomaly::AnomalyCount;
use crate::text::WireText;
use crate::types::Timestamp;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The direction opened with the signature `1A 43 47 50 2F 30 31` ("\x1aCGP/01"). Seeing
    /// it means CGP travels in plaintext (no TLS around it).
    Signature,
    /// The client's BIND_REQUEST: its services and session settings.
    BindRequest {
        /// It carries a reconnect ticket or the reconnect flag: this connection resumes an
        /// earlier session (session reliability). Correlate with the ticket fingerprint.
        reconnect: bool,
        bind: Bind,
    },
    /// The server's BIND_RESPONSE.
    BindResponse {
        /// Answering a reconnect: whether the server resumes the session (a next message
        /// number of 0 refuses it). `None` when the request was not a reconnect or the answer
        /// carries no SESSION_RELIABILITY capability.
        reconnect_accepted: Option<bool>,
        bind: Bind,
    },
    /// CHANNEL_OPEN_REQUEST.
    ChannelOpen {
        /// Channel id as sent: `(n << 1) | initiator`.
        channel: u16,
        initiator: Initiator,
        service_id: u16,
        /// Service name bound to `service_id` by SERVICES_BINDING, if seen.
        service: Option<WireText>,
        framing: Framing,
        priority: Priority,
        /// Destination and protocol, for a Citrix.TcpProxyService channel.
        proxy: Option<ProxyTarget>,
        params_len: u16,
        /// Reopened by an accepted session-reliability reconnect from the request stored in
        /// its BIND_REQUEST: no CHANNEL_OPEN_REQUEST travels on this connection.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        restored: bool,
    },
    /// CHANNEL_OPEN_RESPONSE.
    ChannelOpenResponse {
        channel: u16,
        status: OpenStatus,
        /// Service-specific status (TcpProxyService: 0 accepted ... 6 core failure).
        service_status: u16,
    },
    /// CHANNEL_CLOSE, with what the channel carried.
    ChannelClose {
        channel: u16,
        status: u16,
        service_status: u16,
        /// Data messages and payload bytes seen on the channel, per direction.
        data: [DataCount; 2],
    },
    /// A NOP (keep-alive); one per NOP so the analysis layer can measure the cadence.
    Nop {
        #[serde(skip_serializing_if = "Option::is_none")]
        ack_delta: Option<u16>,
    },
    /// FINISH_REQUEST (`response` false) or FINISH_RESPONSE: the session ends or restarts.
    Finish { response: bool, close: CloseType },
}

/// Counters and state of one CGP connection.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Whether each direction started with the CGP signature (plaintext CGP).
    pub signature: [bool; 2],
    /// Bytes received per direction.
    pub bytes: [u64; 2],
    pub messages: [CommandCounts; 2],
    /// Messages carrying an acknowledgement (header extension or DATA_REALTIME_WITH_ACK).
    pub acks: [u64; 2],
    /// Of those, ack deltas written without the ACK flag (tolerated client quirk).
    pub stray_acks: [u64; 2],
    pub nops: [NopCadence; 2],
    /// The BIND messages (boxed: they are large and most summaries are read for counters).
    pub bind_request: Option<Box<Bind>>,
    pub bind_response: Option<Box<Bind>>,
    /// The client resumed an earlier session on this connection.
    pub reconnect: bool,
    pub reconnect_accepted: Option<bool>,
    /// Close type of the FINISH_REQUEST, if any.
    pub finish: Option<CloseType>,
    pub finish_acknowledged: bool,
    /// Channels seen (opened, or carrying data), up to a cap.
    pub channels: Vec<Channel>,
    /// Channel opens not tracked because the table was full.
    pub channels_dropped: u64,
    /// The channel DATA_REALTIME messages belong to (the last realtime-priority open).
    pub realtime_channel: Option<u16>,
    /// Data that could not be attributed to a tracked channel, per direction.
    pub untracked_data: [DataCount; 2],
    /// Summaries of the ICA streams carried by channels.
    pub inner_ica: Vec<InnerIca>,
    /// ICA channels not decoded because the limit of inner dissectors was reached.
    pub inner_ica_dropped: u64,
    /// Bytes the capture lost, per direction.
    pub gap_bytes: [u64; 2],
    /// Bytes not decoded because the framing was lost (after a gap, bad signature, overflow).
    pub undecoded_bytes: [u64; 2],
    /// Anomalies by code (only codes seen).
    pub anomalies: Vec<AnomalyCount>,
}

/// Messages per command in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CommandCounts {
    pub bind_request: u64,
    pub bind_response: u64,
    pub finish_request: u64,
    pub finish_response: u64,
    pub nop: u64,
    pub channel_open_request: u64,
    pub channel_open_response: u64,
    pub channel_close: u64,
    pub data: u64,
    pub data_realtime: u64,
    pub data_realtime_with_ack: u64,
    /// Unknown command bytes (and zero-length frames).
    pub unknown: u64,
}

impl CommandCounts {
    pub fn bump(&mut self, cmd: Option<Command>) {
        let slot = match cmd {
            Some(Command::BindRequest) => &mut self.bind_request,
            Some(Command::BindResponse) => &mut self.bind_response,
            Some(Command::FinishRequest) => &mut self.finish_request,
            Some(Command::FinishResponse) => &mut self.finish_response,
            Some(Command::Nop) => &mut self.nop,
            Some(Command::ChannelOpenRequest) => &mut self.channel_open_request,
            Some(Command::ChannelOpenResponse) => &mut self.channel_open_response,
            Some(Command::ChannelClose) => &mut self.channel_close,
            Some(Command::Data) => &mut self.data,
            Some(Command::DataRealtime) => &mut self.data_realtime,
            Some(Command::DataRealtimeWithAck) => &mut self.data_realtime_with_ack,
            None => &mut self.unknown,
        };
        *slot += 1;
    }

    pub fn total(&self) -> u64 {
        self.bind_request
            + self.bind_response
            + self.finish_request
            + self.finish_response
            + self.nop
            + self.channel_open_request
            + self.channel_open_response
            + self.channel_close
            + self.data
            + self.data_realtime
            + self.data_realtime_with_ack
            + self.unknown
    }
}

/// NOPs of one direction: the analysis layer computes interval statistics from the NOP events;
/// this keeps the essentials for live views.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NopCadence {
    pub count: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Longest time between two consecutive NOPs, in milliseconds.
    pub longest_interval_ms: u64,
}

impl NopCadence {
    pub fn record(&mut self, ts: Timestamp) {
        if let Some(last) = self.last {
            let ms = u64::try_from(ts.since(last).as_millis()).unwrap_or(u64::MAX);
            self.longest_interval_ms = self.longest_interval_ms.max(ms);
        }
        self.first.get_or_insert(ts);
        self.last = Some(ts);
        self.count += 1;
    }
}

/// Data messages and payload bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DataCount {
    pub messages: u64,
    pub bytes: u64,
}

impl DataCount {
    pub fn add(&mut self, payload: usize) {
        self.messages += 1;
        self.bytes += payload as u64;
    }
}

/// One channel of the connection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Channel {
    pub id: u16,
    pub initiator: Initiator,
    /// From the open request; `None` when data came on a channel whose open was not seen.
    pub service_id: Option<u16>,
    pub service: Option<WireText>,
    pub framing: Option<Framing>,
    pub priority: Option<Priority>,
    pub proxy: Option<ProxyTarget>,
    pub status: Option<OpenStatus>,
    pub closed: bool,
    /// The channel carries ICA, handed to an inner ICA dissector.
    pub ica: bool,
    /// Reopened by an accepted reconnect (its open was stored in the BIND_REQUEST): its ICA
    /// stream continues the one of the earlier connection.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
    pub data: [DataCount; 2],
}

impl Channel {
    pub fn unopened(id: u16) -> Channel {
        Channel {
            id,
            initiator: Initiator::of_channel(id),
            service_id: None,
            service: None,
            framing: None,
            priority: None,
            proxy: None,
            status: None,
            closed: false,
            ica: false,
            resumed: false,
            data: [DataCount::default(); 2],
        }
    }
}

/// The summary of the ICA dissector fed by one channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InnerIca {
    pub channel: u16,
    pub summary: crate::Summary,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Timestamp;

    #[test]
    fn nop_cadence_tracks_the_longest_interval() {
        let mut c = NopCadence::default();
        for secs in [10, 13, 23, 24] {
            c.record(Timestamp::from_secs(secs));
        }
        assert_eq!(c.count, 4);
        assert_eq!(c.first, Some(Timestamp::from_secs(10)));
        assert_eq!(c.last, Some(Timestamp::from_secs(24)));
        assert_eq!(c.longest_interval_ms, 10_000);
        // Time going backwards counts as no interval rather than failing.
        c.record(Timestamp::from_secs(1));
        assert_eq!(c.longest_interval_ms, 10_000);
    }

    #[test]
    fn command_counts() {
        let mut c = CommandCounts::default();
        for cmd in Command::ALL {
            c.bump(Some(cmd));
        }
        c.bump(None);
        c.bump(Some(Command::Nop));
        assert_eq!(c.total(), 13);
        assert_eq!((c.nop, c.unknown, c.data_realtime_with_ack), (2, 1, 1));
    }

    #[test]
    fn events_serialise_with_a_type_tag() {
        let e = Event::Nop { ack_delta: None };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"type":"nop"}"#);
        let e = Event::Finish {
            response: false,
            close: CloseType::Restart,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"finish","response":false,"close":"restart"}"#
        );
        assert_eq!(
            serde_json::to_string(&Event::Signature).unwrap(),
            r#"{"type":"signature"}"#
        );
    }
}
