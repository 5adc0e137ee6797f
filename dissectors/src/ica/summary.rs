//! The ICA dissector's counters and state, as read by live views and reports.

use super::event::{EncryptionKind, EncryptionOff, ProtocolDriver, TerminateReason};
use crate::anomaly::AnomalyCount;
use crate::text::WireText;
use crate::types::Dir;
use serde::{Serialize, Serializer};

/// The summary of one ICA connection. The large parts are boxed to keep the value small (it
/// travels inside the crate-wide `Summary` enum); the JSON is flat for the client facts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// How far the connection got.
    pub phase: Phase,
    /// Host level from INIT_REQUEST.
    pub host_level: Option<u8>,
    /// What the client said about itself (UI_C2H), repeated from the events for live views.
    #[serde(flatten)]
    pub client: Box<ClientSummary>,
    /// INIT_RESPONSE packets (client modules) seen.
    pub client_modules: u16,
    /// INIT_CONNECT packets (host modules) seen.
    pub host_modules: u16,
    /// Protocol drivers the host accepted.
    pub protocol_drivers: Vec<ProtocolDriver>,
    /// Negotiated ICA buffer length (WD_H2C).
    pub ica_buffer_length: Option<u16>,
    /// Whether the reducer (compression) was agreed for each direction.
    pub reducer: PerDir<bool>,
    /// Encryption in use, once it can be told.
    pub encryption: Option<EncryptionKind>,
    /// Whether the session key travelled in the clear (PDCRYPT1).
    pub key_exchanged_in_clear: bool,
    /// Where each direction switched PDCRYPT1 off, if it did (a resumed stream inherits the
    /// switch of the connection it continues, with that connection's offsets).
    pub encryption_off: PerDir<Option<EncryptionOff>>,
    /// The first TERMINATE seen.
    pub terminate: Option<TerminateReason>,
    /// Per-direction byte and frame counters.
    pub directions: Box<PerDir<DirectionStats>>,
    /// ICA commands decoded, by code (only codes seen).
    pub commands: Vec<CommandCount>,
    /// Virtual-channel writes decoded, by channel id (only channels seen).
    pub channels: Vec<ChannelCount>,
    /// Anomalies by code (only codes seen).
    pub anomalies: Vec<AnomalyCount>,
}

/// The client's facts from UI_C2H.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClientSummary {
    /// Client name.
    pub client_name: Option<WireText>,
    /// Initial program, as sent.
    pub initial_program: Option<WireText>,
    /// Published application (initial program after a leading `#`).
    pub published_application: Option<WireText>,
    /// Client build number.
    pub client_build: Option<u16>,
    /// Logon domain.
    pub domain: Option<WireText>,
    /// Logon user name.
    pub user_name: Option<WireText>,
    /// Whether the client sent a password (never its value).
    pub password_present: bool,
}

/// Connection phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Nothing decoded yet.
    Detect,
    /// Detect string seen, init phase not complete.
    Init,
    /// Both sides completed the init phase.
    Established,
    /// Picked up without its start: frames are at best counted.
    MidStream,
    /// Continues, after a session-reliability reconnect, an ICA stream whose init phase was on
    /// an earlier connection, with that connection's layering and key.
    Resumed,
}

/// What a direction's decoder is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DirState {
    /// Waiting for the detect string.
    #[default]
    Detect,
    /// Reading init packets.
    Init,
    /// Reading frames.
    Framed,
    /// Looking for a verifiable frame boundary (mid-stream pickup or after a gap).
    Locking,
    /// Bytes are only counted (no verifiable framing).
    Undecoded,
}

/// One value per direction, serialised as `{"to_server": .., "to_client": ..}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PerDir<T> {
    pub to_server: T,
    pub to_client: T,
}

impl<T> PerDir<T> {
    pub fn get(&self, dir: Dir) -> &T {
        dir.pick(&self.to_server, &self.to_client)
    }

    pub fn get_mut(&mut self, dir: Dir) -> &mut T {
        dir.pick(&mut self.to_server, &mut self.to_client)
    }

    pub fn map<U>(self, f: impl Fn(T) -> U) -> PerDir<U> {
        PerDir {
            to_server: f(self.to_server),
            to_client: f(self.to_client),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirectionStats {
    /// What the decoder is doing now.
    pub state: DirState,
    /// Bytes received.
    pub bytes: u64,
    /// Bytes the capture lost (gaps).
    pub gap_bytes: u64,
    /// Detect strings seen (the client repeats its echo).
    pub detect_strings: u32,
    /// Init packets seen.
    pub init_packets: u32,
    /// Frames seen (zero-length ones included).
    pub frames: u64,
    /// Frame payload bytes (without the 2-byte length).
    pub frame_bytes: u64,
    /// Frame payload sizes.
    pub frame_size: SizeStats,
    /// Frames with no payload.
    pub empty_frames: u64,
    /// Frames with PDCRYPT1 header 0x01 (encrypted).
    pub encrypted_frames: u64,
    /// Frames sent in the clear: PDCRYPT1 header 0x00, or any frame after the direction
    /// switched PDCRYPT1 off (those carry no header at all).
    pub clear_frames: u64,
    /// Key exchange and other PDCRYPT1 control frames (the "off" frame included).
    pub control_frames: u64,
    /// Frames whose content was read: ICA commands parsed, plain, decrypted or in literal
    /// reducer blocks.
    pub decoded_frames: u64,
    /// Frames whose content could not be read; `undecodable` says why.
    pub undecodable_frames: u64,
    /// `undecodable_frames` by reason.
    pub undecodable: UndecodableFrames,
    /// Frames partly lost to a capture gap.
    pub damaged_frames: u64,
    /// Literal (uncompressed) reducer blocks.
    pub literal_blocks: u64,
    /// Compressed reducer blocks (and PD-compressed frames): counted, not expanded.
    pub compressed_blocks: u64,
    /// Zero bytes after short init/key-exchange messages, skipped as padding.
    pub padding_bytes: u64,
    /// Bytes neither framed nor decoded (mid-stream, lost sync).
    pub skipped_bytes: u64,
    /// Times the framing was found again (mid-stream or after a gap).
    pub resyncs: u32,
    /// Times the framing position was lost.
    pub sync_losses: u32,
}

/// Why frames could not be read, one counter per reason; they add up to `undecodable_frames`.
/// Only `inconsistent` frames are damage (and raise an anomaly); the others are what a passive
/// decoder cannot read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UndecodableFrames {
    /// Holding a compressed reducer block, or PD-compressed: the expander is not implemented.
    pub compressed: u64,
    /// The direction's first encrypted frame, decrypted from the initial PDCRYPT1 queue
    /// (`key | 0x43`), made no sense. Real clients' first encrypted frames do not decode with
    /// it (an open question, PROTOCOLS.md 2.6), so this is not taken for damage.
    pub chain_start: u64,
    /// Encrypted, and no session key was seen.
    pub key_unknown: u64,
    /// Encrypted, and the chain position was lost (a gap, a resynchronisation).
    pub chain_lost: u64,
    /// The init phase was not seen: how the frames are layered is unknown.
    pub layering_unknown: u64,
    /// The content contradicts its layering (an unknown PDCRYPT1 header, a literal block
    /// longer than its frame): reported as an anomaly.
    pub inconsistent: u64,
}

/// A reason for `UndecodableFrames`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undecodable {
    Compressed,
    ChainStart,
    KeyUnknown,
    ChainLost,
    LayeringUnknown,
    Inconsistent,
}

impl DirectionStats {
    /// Counts a frame that could not be read, and why.
    pub fn count_undecodable(&mut self, why: Undecodable) {
        self.undecodable_frames += 1;
        let u = &mut self.undecodable;
        *match why {
            Undecodable::Compressed => &mut u.compressed,
            Undecodable::ChainStart => &mut u.chain_start,
            Undecodable::KeyUnknown => &mut u.key_unknown,
            Undecodable::ChainLost => &mut u.chain_lost,
            Undecodable::LayeringUnknown => &mut u.layering_unknown,
            Undecodable::Inconsistent => &mut u.inconsistent,
        } += 1;
    }
}

/// Upper bounds (inclusive) of the frame-size histogram buckets; the last bucket is open.
pub const SIZE_BUCKETS: [u16; 6] = [0, 15, 63, 255, 1023, 4095];

/// Sizes of frame payloads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SizeStats {
    count: u64,
    total: u64,
    min: u16,
    max: u16,
    /// Frames per size bucket: 0, 1-15, 16-63, 64-255, 256-1023, 1024-4095, 4096 and more.
    histogram: [u64; SIZE_BUCKETS.len() + 1],
}

impl SizeStats {
    pub fn record(&mut self, len: u16) {
        self.min = if self.count == 0 {
            len
        } else {
            self.min.min(len)
        };
        self.max = self.max.max(len);
        self.count += 1;
        self.total += u64::from(len);
        let bucket = SIZE_BUCKETS.partition_point(|&bound| bound < len);
        self.histogram[bucket] += 1;
    }

    pub fn min(&self) -> Option<u16> {
        (self.count > 0).then_some(self.min)
    }

    pub fn max(&self) -> Option<u16> {
        (self.count > 0).then_some(self.max)
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.total as f64 / self.count as f64)
    }

    pub fn histogram(&self) -> &[u64] {
        &self.histogram
    }
}

/// Serialised as `{"min": .., "max": .., "mean": .., "histogram": [..]}`.
impl Serialize for SizeStats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("SizeStats", 4)?;
        st.serialize_field("min", &self.min())?;
        st.serialize_field("max", &self.max())?;
        st.serialize_field("mean", &self.mean())?;
        st.serialize_field("histogram", &self.histogram)?;
        st.end()
    }
}

/// One line of the command table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandCount {
    /// Command code.
    pub code: u8,
    /// Its name, `"unknown"` for codes without a known length (counted, not parsed).
    pub name: &'static str,
    /// Occurrences per direction.
    pub count: PerDir<u64>,
}

/// One line of the virtual-channel table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelCount {
    /// Channel id from VIRTUAL_WRITE.
    pub channel: u8,
    /// Channel name from the client's bindings, when bound.
    pub name: Option<WireText>,
    /// VIRTUAL_WRITE commands per direction.
    pub writes: PerDir<u64>,
    /// Payload bytes per direction (without the channel id byte).
    pub bytes: PerDir<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_stats_track_min_max_mean_and_buckets() {
        let mut s = SizeStats::default();
        assert_eq!((s.min(), s.max(), s.mean()), (None, None, None));
        for len in [0, 13, 15, 16, 853, 4095, 4096, 65535] {
            s.record(len);
        }
        assert_eq!((s.min(), s.max()), (Some(0), Some(65535)));
        assert_eq!(s.histogram(), &[1, 2, 1, 0, 1, 1, 2]);
        let mean = s.mean().unwrap();
        assert!((mean - 74_623.0 / 8.0).abs() < 1e-9);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"min":0,"max":65535,"mean":9327.875,"histogram":[1,2,1,0,1,1,2]}"#
        );
    }
}
