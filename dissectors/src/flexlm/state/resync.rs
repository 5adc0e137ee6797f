//! Resynchronisation: finding message boundaries again after losing them (the policy is
//! described in the parent module).
//!
//! Candidates are decided strictly in stream order, so a candidate that needs more bytes than
//! are buffered makes the search wait (a few hundred bytes at most) instead of looking past it:
//! that keeps the outcome independent of how the stream is cut into feeds. At close, what is
//! still undecided is decided with the bytes there are.

use super::{AnomalyKind, AnyEvent, Connection, Step};
use crate::buffer::Overflow;
use crate::flexlm::codes::is_legacy_command;
use crate::flexlm::crypt;
use crate::flexlm::framed::{self, Header};
use crate::flexlm::legacy;
use crate::types::{Dir, Timestamp};

/// Most bytes skipped while looking for a message start before a direction is given up.
pub const RESYNC_BUDGET: usize = 8 * 1024;
/// Largest 0x2F message accepted as a resync candidate once bytes have been skipped.
pub const SEARCH_MAX_BINARY: usize = 2048;

/// Where a direction stands with respect to message boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tracking {
    /// The next byte starts a message.
    Locked,
    /// Looking for a message start; `skipped` bytes skipped so far in this episode.
    Searching { skipped: usize },
    /// Given up: bytes are only counted.
    Lost,
}

/// How strictly a possible message start is checked while searching.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scrutiny {
    /// Where a boundary is expected (after a gap, at a mid-stream pickup): one valid message.
    AtBoundary,
    /// After skipping bytes: a legacy message must be followed by another valid message.
    AfterSkip,
    /// The message after a candidate, confirming it.
    Confirming,
}

/// Whether bytes plausibly start a message.
enum Candidate {
    Yes,
    No,
    NeedMore,
}

impl Connection {
    /// Loses the message boundaries at the current byte: it is skipped and searching starts.
    pub(super) fn lose_sync(&mut self, dir: Dir) -> Step {
        self.summary.dir_mut(dir).resyncs += 1;
        self.summary.dir_mut(dir).skipped_bytes += 1;
        self.start_search(dir, 1);
        Step::Consumed(1)
    }

    pub(super) fn start_search(&mut self, dir: Dir, skipped: usize) {
        let state = &mut self.dirs[dir.index()];
        state.tracking = Tracking::Searching { skipped };
        state.bad_checksum_run = false;
    }

    /// Searching: skips bytes until a plausible message start, within the budget.
    pub(super) fn search(
        &mut self,
        dir: Dir,
        bytes: &[u8],
        mut skipped: usize,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) -> Step {
        let mut pos = 0;
        let outcome = loop {
            let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) else {
                break Step::Consumed(pos);
            };
            if skipped >= RESYNC_BUDGET {
                self.dirs[dir.index()].tracking = Tracking::Lost;
                self.summary.dir_mut(dir).lost = true;
                self.anomalies.raise(out, ts, dir, AnomalyKind::Desync, || {
                    format!(
                        "no FlexLM message found in {skipped} bytes; no longer decoding this \
                         direction: it does not carry FlexLM as expected (another protocol on a \
                         FlexLM port, or damage throughout), and its bytes are only counted. Check \
                         which service listens on this port"
                    )
                });
                break Step::Consumed(pos);
            }
            let scrutiny = if skipped == 0 {
                Scrutiny::AtBoundary
            } else {
                Scrutiny::AfterSkip
            };
            match self.candidate(rest, scrutiny) {
                Candidate::Yes => {
                    self.dirs[dir.index()].tracking = Tracking::Locked;
                    if skipped > 0 {
                        self.anomalies.raise(out, ts, dir, AnomalyKind::Resync, || {
                            format!(
                                "message boundaries found again after skipping {skipped} bytes: \
                                 that much FlexLM traffic could not be decoded (damage or capture \
                                 loss), so this connection's message counts may be low; check the \
                                 tcp.* findings for lost segments, and the capture point"
                            )
                        });
                    }
                    break Step::Consumed(pos);
                }
                Candidate::NeedMore if pos == 0 => break Step::NeedMore,
                Candidate::NeedMore => break Step::Consumed(pos),
                Candidate::No => {
                    pos += 1;
                    skipped += 1;
                }
            }
        };
        if let Tracking::Searching { .. } = self.dirs[dir.index()].tracking {
            self.dirs[dir.index()].tracking = Tracking::Searching { skipped };
        }
        self.summary.dir_mut(dir).skipped_bytes += pos as u64;
        outcome
    }

    /// Whether `bytes` plausibly starts a message.
    fn candidate(&self, bytes: &[u8], scrutiny: Scrutiny) -> Candidate {
        match self.candidate_so_far(bytes, scrutiny) {
            Candidate::NeedMore if self.at_end => Candidate::No,
            answer => answer,
        }
    }

    /// [`Self::candidate`] on the bytes there are so far.
    fn candidate_so_far(&self, bytes: &[u8], scrutiny: Scrutiny) -> Candidate {
        let Some(&first) = bytes.first() else {
            return Candidate::NeedMore;
        };
        if first == framed::MAGIC {
            let Some(header) = Header::parse(bytes) else {
                return Candidate::NeedMore;
            };
            let cap = match scrutiny {
                Scrutiny::AtBoundary => framed::MAX_LEN,
                Scrutiny::AfterSkip | Scrutiny::Confirming => SEARCH_MAX_BINARY,
            };
            if header.problem(cap).is_none() {
                return match bytes.get(..header.len) {
                    None => Candidate::NeedMore,
                    Some(msg) if header.crc_ok(msg) => Candidate::Yes,
                    Some(_) => Candidate::No,
                };
            }
            // Not a binary message; it may still be an encrypted legacy one.
        }
        if !is_legacy_command(first) && self.xor_key.is_none() {
            return Candidate::No;
        }
        let Some(size) = legacy::message_size(bytes, self.legacy_size) else {
            return Candidate::NeedMore;
        };
        let Some(msg) = bytes.get(..size) else {
            return Candidate::NeedMore;
        };
        let mut scratch = [0u8; legacy::MAX_SIZE];
        let valid = legacy::is_valid(msg)
            || self
                .xor_key
                .is_some_and(|key| crypt::try_key(msg, key, &mut scratch).is_some());
        match (valid, scrutiny) {
            (false, _) => Candidate::No,
            (true, Scrutiny::AfterSkip) => {
                self.candidate(bytes.get(size..).unwrap_or_default(), Scrutiny::Confirming)
            }
            (true, _) => Candidate::Yes,
        }
    }

    pub(super) fn overflow(
        &mut self,
        dir: Dir,
        overflow: Overflow,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) {
        let d = self.summary.dir_mut(dir);
        d.buffer_overflows += 1;
        d.skipped_bytes += overflow.discarded as u64;
        d.resyncs += 1;
        self.anomalies
            .raise(out, ts, dir, AnomalyKind::BufferOverflow, || {
                format!(
                    "{} pending bytes exceeded the buffer cap and were discarded, and decoding \
                     searches for the next valid message: a message larger than any FlexLM message \
                     should be; if it repeats, keep the capture and report it",
                    overflow.discarded
                )
            });
        self.start_search(dir, 0);
    }
}
