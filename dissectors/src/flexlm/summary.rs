//! Counters of one FlexLM connection, readable at any time.

use super::codes::MessageKind;
use super::event::{CommVersion, Framing, Role};
use crate::anomaly::AnomalyCount;
use crate::types::{Dir, Timestamp};
use serde::Serialize;
use std::borrow::Cow;

/// Distinct message kinds tallied per connection; further kinds are only counted in
/// [`Summary::kinds_overflow`].
pub const MAX_KINDS: usize = 64;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The role the engine assumed when it created the dissector.
    pub role_hint: Role,
    /// The role the traffic showed (see [`super::Event::Role`]), if it did.
    pub role: Option<Role>,
    /// Comm version from the client's HELLO.
    pub comm_version: Option<CommVersion>,
    /// Size of legacy messages on this connection (147 until a HELLO says otherwise).
    pub legacy_size: u16,
    /// A verified HANDSHAKE was seen: later legacy messages may be XOR-encrypted.
    pub handshake_seen: bool,
    /// An XOR key was recovered and used to decrypt messages.
    pub xor_key_recovered: bool,
    /// Boxed to keep the engine's `Summary` enum small.
    pub to_server: Box<DirSummary>,
    pub to_client: Box<DirSummary>,
    /// Messages per kind and direction, in order of first appearance (at most [`MAX_KINDS`]).
    pub kinds: Vec<KindCount>,
    /// Messages whose kind was not tallied because `kinds` was full.
    pub kinds_overflow: u64,
    /// Anomalies by code (only codes seen).
    pub anomalies: Vec<AnomalyCount>,
}

/// Counters of one direction.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DirSummary {
    /// Bytes fed (gaps not included).
    pub bytes: u64,
    /// Messages framed, decoded or not.
    pub messages: u64,
    pub legacy_messages: u64,
    pub binary_messages: u64,
    pub first_message: Option<Timestamp>,
    pub last_message: Option<Timestamp>,
    /// Legacy messages after a HANDSHAKE that neither validated nor decrypted.
    pub undecodable: u64,
    /// Legacy messages decoded after XOR decryption.
    pub decrypted: u64,
    pub bad_checksum: u64,
    pub bad_header_check: u64,
    pub bad_crc: u64,
    /// 0x2F headers with a length below 20 or above the cap.
    pub bad_length: u64,
    /// 0x2F payloads that did not match their type's layout.
    pub bad_payload: u64,
    /// Bytes of license text not kept in text events (past their excerpt).
    pub text_bytes_cut: u64,
    /// Bytes that belonged to no message: skipped while resynchronising, after giving up, or
    /// partial messages discarded at a gap.
    pub skipped_bytes: u64,
    /// Times decoding lost the message boundaries and searched for them again.
    pub resyncs: u64,
    /// True once decoding of this direction was given up (bytes are only counted).
    pub lost: bool,
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Bytes of an incomplete message left at close.
    pub truncated_bytes: u64,
    /// Times the stream buffer overflowed (should never happen: messages are capped).
    pub buffer_overflows: u64,
}

impl DirSummary {
    /// Messages that failed their integrity check (legacy checksum, 0x2F CRC-14 or header check
    /// byte), each reported as one of `AnomalyKind::INTEGRITY_FAILURES`.
    pub fn integrity_failures(&self) -> u64 {
        self.bad_checksum + self.bad_crc + self.bad_header_check
    }
}

/// How many messages of one kind went each way.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindCount {
    pub framing: Framing,
    pub code: u16,
    pub name: Cow<'static, str>,
    pub to_server: u64,
    pub to_client: u64,
}

impl Summary {
    pub fn new(role_hint: Role, legacy_size: usize) -> Summary {
        Summary {
            role_hint,
            role: None,
            comm_version: None,
            legacy_size: u16::try_from(legacy_size).unwrap_or(u16::MAX),
            handshake_seen: false,
            xor_key_recovered: false,
            to_server: Box::default(),
            to_client: Box::default(),
            kinds: Vec::new(),
            kinds_overflow: 0,
            anomalies: Vec::new(),
        }
    }

    pub fn dir(&self, dir: Dir) -> &DirSummary {
        dir.pick(&self.to_server, &self.to_client)
    }

    pub fn dir_mut(&mut self, dir: Dir) -> &mut DirSummary {
        dir.pick(&mut self.to_server, &mut self.to_client)
    }

    /// Counts one framed message (decoded or not) in `dir` at `ts`; `kind` is `None` for an
    /// undecodable one.
    pub fn count_message(
        &mut self,
        dir: Dir,
        framing: Framing,
        kind: Option<MessageKind>,
        ts: Timestamp,
    ) {
        let d = self.dir_mut(dir);
        d.messages += 1;
        match framing {
            Framing::Legacy => d.legacy_messages += 1,
            Framing::Binary => d.binary_messages += 1,
        }
        d.first_message.get_or_insert(ts);
        d.last_message = Some(ts);
        if let Some(kind) = kind {
            self.count_kind(dir, kind);
        }
    }

    fn count_kind(&mut self, dir: Dir, kind: MessageKind) {
        let index = match self
            .kinds
            .iter()
            .position(|k| k.framing == kind.framing && k.code == kind.code)
        {
            Some(i) => i,
            None if self.kinds.len() < MAX_KINDS => {
                self.kinds.push(KindCount {
                    framing: kind.framing,
                    code: kind.code,
                    name: kind.name(),
                    to_server: 0,
                    to_client: 0,
                });
                self.kinds.len() - 1
            }
            None => {
                self.kinds_overflow += 1;
                return;
            }
        };
        if let Some(k) = self.kinds.get_mut(index) {
            *dir.pick(&mut k.to_server, &mut k.to_client) += 1;
        }
    }

    /// The tally of one kind, `(to_server, to_client)`.
    pub fn kind_count(&self, kind: MessageKind) -> (u64, u64) {
        self.kinds
            .iter()
            .find(|k| k.framing == kind.framing && k.code == kind.code)
            .map_or((0, 0), |k| (k.to_server, k.to_client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_counted_per_direction_and_kind() {
        let mut s = Summary::new(Role::Lmgrd, 147);
        let t1 = Timestamp::from_secs(1);
        let t2 = Timestamp::from_secs(2);
        s.count_message(
            Dir::ToServer,
            Framing::Legacy,
            Some(MessageKind::legacy(b'h')),
            t1,
        );
        s.count_message(
            Dir::ToClient,
            Framing::Binary,
            Some(MessageKind::binary(0x0113)),
            t2,
        );
        s.count_message(Dir::ToServer, Framing::Legacy, None, t2);
        assert_eq!(s.to_server.messages, 2);
        assert_eq!(s.to_server.legacy_messages, 2);
        assert_eq!(s.to_server.first_message, Some(t1));
        assert_eq!(s.to_server.last_message, Some(t2));
        assert_eq!(s.to_client.binary_messages, 1);
        assert_eq!(s.kind_count(MessageKind::legacy(b'h')), (1, 0));
        assert_eq!(s.kind_count(MessageKind::binary(0x0113)), (0, 1));
        assert_eq!(s.kinds.len(), 2);
        assert_eq!(s.kinds[1].name, "redirect");
    }

    #[test]
    fn the_kind_table_is_capped() {
        let mut s = Summary::new(Role::Lmgrd, 147);
        let ts = Timestamp::from_secs(1);
        for t in 0..(MAX_KINDS as u16 + 10) {
            s.count_message(
                Dir::ToClient,
                Framing::Binary,
                Some(MessageKind::binary(0x0200 + t)),
                ts,
            );
        }
        assert_eq!(s.kinds.len(), MAX_KINDS);
        assert_eq!(s.kinds_overflow, 10);
        assert_eq!(s.to_client.messages, MAX_KINDS as u64 + 10);
    }
}
