//! RTT on both sides of the capture point, from data and the ACK that answers it: Wireshark's
//! `tcp.analysis.ack_rtt`, split by who sent the ACK.
//!
//! An ACK sent by the client times the round trip from the capture point to the client and
//! back (the client side: the WAN when the capture is in the data centre); one sent by the
//! server, the server side.
//!
//! # The rule (Wireshark 4.0, `tcp_analyze_sequence_number`)
//!
//! Every segment with payload, SYN or FIN is remembered with its time, its sequence number and
//! where it ends (`seq + len`, plus one for a SYN or FIN): retransmissions too, and one-byte
//! keep-alives. Every segment's acknowledgement number (whatever its ACK flag says) then goes
//! over the peer's remembered segments:
//! - one ending exactly at the ACK is matched and forgotten; the ACK's sample is the time since
//!   it was sent. If several end there (a segment and its retransmission), the one sent first
//!   gives the sample: no Karn's rule, so an ACK after a retransmission times the original;
//! - one ending before it is forgotten without a sample (a cumulative ACK times only the last
//!   segment it covers);
//! - one the ACK falls inside now starts at the ACK (a partial ACK: no sample; the rest keeps
//!   its first time);
//! - a sample of zero (the same timestamp) is not one; neither is a negative one (capture time
//!   going backwards; tshark prints it negative, we drop it).
//!
//! Checked against tshark 4.0.17 on hand-made captures (`tests/rtt.rs` beside this module
//! replays each; ms are capture times):
//!
//! | case | tshark's `ack_rtt` |
//! |---|---|
//! | SYN at 0, SYN-ACK at 10, ACK at 30 | server 10 ms (SYN-ACK), client 20 ms (ACK) |
//! | SYN at 0, again at 1000, SYN-ACK at 1010 | 1010 ms: from the first SYN |
//! | 100 B at 100 and 101, one ACK of both at 110 | one sample, 9 ms (the second segment) |
//! | 200 B at 100, ACK of half at 105, of all at 120 | none, then 20 ms |
//! | 100 B at 100 and 101, ACK at 150 bytes (110), then of all (120) | none, then 19 ms |
//! | 100 B at 100, retransmitted at 300, ACK at 310 | 210 ms (from the original) |
//! | 100 B at 100 and 101, both again as one at 300, ACK at 310 | 209 ms (the second original) |
//! | second 100 B at 100, first at 101, one ACK at 110 | 10 ms (the one ending at the ACK) |
//! | data with FIN at 100, ACK of both at 110 | 10 ms |
//! | the same ACK twice | the first only |
//! | 1-byte keep-alive at 5000, its ACK at 5007 | 7 ms |
//! | ACK at the same time as the data | none |
//! | data without the ACK flag whose ack number matches | a sample |
//! | RST-ACK acknowledging data | a sample |
//!
//! # Memory and cost
//!
//! In the connection, 128 bytes per direction, the first 64 of them one cache line: the two
//! oldest segments awaiting their ACK and a [`batch`] of the last samples. More waiting segments
//! go to a heap list given back when it empties; at most
//! [`RTT_SEGMENTS_PER_DIRECTION`](crate::model::RTT_SEGMENTS_PER_DIRECTION) wait (16 bytes
//! each; past that a segment is not timed, counted in `rtt_untracked_segments`). Per side, from
//! its first full batch on, one box of 4.1 KB: the [`RttSketch`] (count, minimum and maximum,
//! a 705-bucket log-linear histogram: quantiles within 1.6%) and the [`RttTimeline`] (the last
//! hour minute by minute). A day-long connection costs what a minute-long one does.
//!
//! The engine's time goes to cache misses over thousands of connections, so a packet touches
//! two lines here (its direction's and the peer's), and the box once per batch (a batch holds
//! samples of one minute in up to three histogram buckets: a connection with a steady round
//! trip fills it for a minute). A first version with the waiting segments and every sample on
//! the heap cost the farm benchmark 13% more CPU.

mod batch;
mod flight;
mod histogram;
mod sketch;
mod timeline;

pub use sketch::RttSketch;
pub use timeline::{MINUTES, Minute, RttTimeline};

use crate::model::{MinuteRtt, RttStats};
use batch::Batch;
use ctxscope_dissectors::{Dir, Timestamp};
use flight::{Far, Flight, Near};
use std::time::Duration;

const NANOS_PER_MINUTE: i64 = 60_000_000_000;

/// The RTT samples of one side of the capture point.
#[derive(Clone, Debug, Default)]
pub struct SideRtt {
    sketch: RttSketch,
    timeline: RttTimeline,
}

impl SideRtt {
    pub fn sketch(&self) -> &RttSketch {
        &self.sketch
    }

    pub fn timeline(&self) -> &RttTimeline {
        &self.timeline
    }

    /// What the report shows: count, minimum, median, 95th percentile, maximum, the minutes.
    pub fn stats(&self) -> RttStats {
        RttStats {
            minutes: self
                .timeline
                .minutes()
                .map(|m| MinuteRtt {
                    start: Timestamp::from_secs(m.minute.saturating_mul(60)),
                    samples: m.samples,
                    median_ms: micros_as_ms(m.median),
                })
                .collect(),
            ..self.sketch.stats()
        }
    }

    fn absorb(&mut self, batch: &Batch) {
        self.sketch.absorb(batch);
        self.timeline.absorb(batch);
    }
}

/// Milliseconds rounded to the microsecond (what pcap timestamps resolve).
pub(super) fn micros_as_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// One direction's part: the segments it sent awaiting the peer's ACK, and the samples of the
/// ACKs it sent (its side of the capture point): the last ones in a [`Batch`], the rest in a
/// summary allocated at the first. What a packet touches, the near segments and the batch,
/// fills the first cache line.
#[derive(Debug, Default)]
#[repr(C, align(64))]
struct Direction {
    near: Near,
    batch: Batch,
    far: Far,
    summary: Option<Box<SideRtt>>,
}

impl Direction {
    fn flight(&mut self) -> Flight<'_> {
        Flight {
            near: &mut self.near,
            far: &mut self.far,
        }
    }

    #[inline]
    fn sample(&mut self, minute: i32, micros: u32) {
        if !self.batch.add(minute, micros) {
            self.flush();
            self.batch.add(minute, micros); // fits an empty batch
        }
    }

    fn flush(&mut self) {
        self.summary.get_or_insert_default().absorb(&self.batch);
        self.batch.clear();
    }

    /// The summary with the batch, if there is any sample.
    fn side(&self) -> Option<SideRtt> {
        if self.summary.is_none() && self.batch.is_empty() {
            return None;
        }
        let mut side = self.summary.as_deref().cloned().unwrap_or_default();
        if !self.batch.is_empty() {
            side.absorb(&self.batch);
        }
        Some(side)
    }
}

/// Both directions' segments awaiting their ACK, and both sides' samples.
///
/// A connection's first segment can time nothing (nothing was sent before it): it is kept as
/// it came, and the lists (a few hundred bytes) are allocated with the second segment, which
/// plays it first. So a connection that never gets past one segment (a SYN nobody answers, a
/// SYN flood's) costs a few words here.
#[derive(Debug, Default)]
pub(super) struct AckRtt {
    /// Indexed by direction: `Dir::ToServer` holds the client's segments and the client side.
    directions: Option<Box<[Direction; 2]>>,
    /// The first segment, until the second comes.
    first: Option<(Dir, Timed)>,
}

/// What a segment carries for the RTT, as offsets in each direction's sequence space.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timed {
    /// Where its sequence space ends in the sender's direction (a SYN or FIN counted), when it
    /// has payload, a SYN or a FIN.
    pub sent: Option<i64>,
    /// Its acknowledgement number in the peer's direction (once that direction started).
    pub ack: Option<i64>,
    pub ts: Timestamp,
}

impl AckRtt {
    /// One segment sent in `dir`: times the peer's segment it acknowledges, then waits for the
    /// ACK of its own. Returns false when it could not be timed (the list was full).
    #[inline]
    pub(super) fn segment(&mut self, dir: Dir, seg: &Timed) -> bool {
        let directions = match (&mut self.directions, self.first.take()) {
            (Some(directions), _) => directions,
            (None, None) => {
                // Nothing to time against, and room in the empty list: tracked.
                self.first = Some((dir, *seg));
                return true;
            }
            (directions @ None, Some((first_dir, first))) => {
                let directions = directions.insert(Box::default());
                time(directions, first_dir, &first);
                directions
            }
        };
        time(directions, dir, seg)
    }

    /// The direction's sequence space started over: what it sent before is forgotten.
    pub(super) fn restart(&mut self, dir: Dir) {
        match &mut self.directions {
            Some(directions) => directions[dir.index()].flight().clear(),
            None => {
                if self.first.is_some_and(|(first_dir, _)| first_dir == dir) {
                    self.first = None;
                }
            }
        }
    }

    /// The samples of the ACKs sent in `dir`, if any.
    pub(super) fn side(&self, dir: Dir) -> Option<SideRtt> {
        self.directions.as_ref()?[dir.index()].side()
    }
}

/// One segment sent in `dir` through both directions' lists: see [`AckRtt::segment`].
#[inline]
fn time(directions: &mut [Direction; 2], dir: Dir, seg: &Timed) -> bool {
    let [to_server, to_client] = directions;
    let (this, peer) = match dir {
        Dir::ToServer => (to_server, to_client),
        Dir::ToClient => (to_client, to_server),
    };
    let now = seg.ts.nanos();
    if let Some(ack) = seg.ack
        && let Some(sent_at) = peer.flight().acked(ack)
        && now > sent_at
    {
        // Whole microseconds, rounded; past 71 minutes (u32) in the overflow bucket anyway.
        let rtt = now.abs_diff(sent_at).saturating_add(500) / 1000;
        let minute = now.div_euclid(NANOS_PER_MINUTE);
        let minute = minute.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        this.sample(minute, u32::try_from(rtt).unwrap_or(u32::MAX));
    }
    match seg.sent {
        Some(end) => this.flight().sent(end, now),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_of_samples_is_summarised_in_the_same_fixed_box() {
        // An ACK every 100 ms for 24 hours, RTT uniform between 20 and 220 ms. `SideRtt` holds
        // no pointer: its size is all it costs (`tests/rtt_memory.rs` measures a whole
        // connection's heap over a day).
        let mut direction = Direction::default();
        let start = 1_768_467_600 * 1_000_000_000i64;
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for i in 0..24 * 3600 * 10i64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let rtt = 20_000 + (rng % 200_000) as u32;
            direction.sample(((start + i * 100_000_000) / NANOS_PER_MINUTE) as i32, rtt);
        }
        assert!(
            size_of::<SideRtt>() < 4200,
            "{} bytes",
            size_of::<SideRtt>()
        );
        let stats = direction.side().expect("samples").stats();
        assert_eq!(stats.samples, 864_000);
        assert_eq!(stats.minutes.len(), MINUTES);
        assert!(
            (stats.median_ms - 120.0).abs() < 120.0 * 0.03,
            "{}",
            stats.median_ms
        );
        assert!(
            (stats.p95_ms - 210.0).abs() < 210.0 * 0.03,
            "{}",
            stats.p95_ms
        );
        assert!(stats.min_ms >= 20.0 && stats.max_ms < 220.0);
    }

    #[test]
    fn batches_add_up_to_the_samples_one_by_one() {
        // Samples spread over many buckets and minutes, through batches, against each sample
        // added on its own.
        let mut direction = Direction::default();
        let mut one_by_one = SideRtt::default();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..20_000i64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let rtt = (rng % 5_000_000) as u32 >> (rng % 20);
            let minute = 29_474_460 + (i / 300) as i32;
            direction.sample(minute, rtt);
            let mut single = Batch::default();
            assert!(single.add(minute, rtt));
            one_by_one.absorb(&single);
        }
        let batched = direction.side().expect("samples");
        assert_eq!(batched.sketch(), one_by_one.sketch());
        assert_eq!(batched.stats(), one_by_one.stats());
        assert!(batched.stats().minutes.len() > 60 - 1);
    }
}
