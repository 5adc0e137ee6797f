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
//! # Memory
//!
//! Per direction at most [`RTT_SEGMENTS_PER_DIRECTION`](crate::model::RTT_SEGMENTS_PER_DIRECTION)
//! segments wait (24 bytes each; past that a segment is not timed, counted in
//! `rtt_untracked_segments`); a list that empties gives its buffer
//! back. Per side, from its first sample on, one box of 4.1 KB: the [`RttSketch`] (count,
//! exact minimum and maximum, a 705-bucket log-linear histogram: quantiles within 1.6%) and the
//! [`RttTimeline`] (the last hour minute by minute). A day-long connection costs what a
//! minute-long one does.

mod flight;
mod histogram;
mod sketch;
mod timeline;

pub use sketch::RttSketch;
pub use timeline::{MINUTES, Minute, RttTimeline};

use crate::model::{MinuteRtt, RttStats};
use ctxscope_dissectors::{Dir, Timestamp};
use flight::Flight;
use std::time::Duration;

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
        let s = &self.sketch;
        let ms = |d: Option<Duration>| micros_as_ms(d.unwrap_or_default());
        RttStats {
            samples: s.count(),
            min_ms: ms(s.min()),
            median_ms: ms(s.quantile(0.5)),
            p95_ms: ms(s.quantile(0.95)),
            max_ms: ms(s.max()),
            minutes: self
                .timeline
                .minutes()
                .map(|m| MinuteRtt {
                    start: Timestamp::from_secs(m.minute.saturating_mul(60)),
                    samples: m.samples,
                    median_ms: micros_as_ms(m.median),
                })
                .collect(),
        }
    }

    fn record(&mut self, at: Timestamp, rtt: Duration) {
        self.sketch.record(rtt);
        self.timeline.record(at.nanos(), rtt);
    }
}

/// Milliseconds rounded to the microsecond (what pcap timestamps resolve).
fn micros_as_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Both directions' segments awaiting their ACK, and both sides' samples.
#[derive(Debug, Default)]
pub(super) struct AckRtt {
    flights: [Flight; 2],
    /// Indexed by the direction of the ACKs: `Dir::ToServer` is the client side.
    sides: [Option<Box<SideRtt>>; 2],
}

/// What a segment carries for the RTT, as offsets in each direction's sequence space.
pub(super) struct Timed {
    /// Its sequence range in the sender's direction (`end` counts a SYN or FIN), when it has
    /// payload, a SYN or a FIN.
    pub sent: Option<(i64, i64)>,
    /// Its acknowledgement number in the peer's direction (once that direction started).
    pub ack: Option<i64>,
    pub ts: Timestamp,
}

impl AckRtt {
    /// One segment sent in `dir`: times the peer's segment it acknowledges, then waits for the
    /// ACK of its own. Returns false when it could not be timed (the list was full).
    #[inline]
    pub(super) fn segment(&mut self, dir: Dir, seg: &Timed) -> bool {
        if let Some(ack) = seg.ack
            && let Some(sent_at) = self.flights[dir.reverse().index()].acked(ack)
            && seg.ts.nanos() > sent_at
        {
            let rtt = seg.ts.since(Timestamp::from_nanos(sent_at));
            self.sides[dir.index()]
                .get_or_insert_default()
                .record(seg.ts, rtt);
        }
        match seg.sent {
            Some((start, end)) => self.flights[dir.index()].sent(start, end, seg.ts.nanos()),
            None => true,
        }
    }

    /// The direction's sequence space started over: what it sent before is forgotten.
    pub(super) fn restart(&mut self, dir: Dir) {
        self.flights[dir.index()].clear();
    }

    /// The samples of the ACKs sent in `dir`, if any.
    pub(super) fn side(&self, dir: Dir) -> Option<&SideRtt> {
        self.sides[dir.index()].as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_of_samples_is_summarised_in_the_same_fixed_box() {
        // An ACK every 100 ms for 24 hours, RTT uniform between 20 and 220 ms. `SideRtt` holds
        // no pointer: its size is all it costs (`tests/rtt.rs` measures a whole connection's
        // heap over a day).
        let mut side = SideRtt::default();
        let start = 1_768_467_600 * 1_000_000_000i64;
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for i in 0..24 * 3600 * 10i64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let rtt = Duration::from_micros(20_000 + rng % 200_000);
            side.record(Timestamp::from_nanos(start + i * 100_000_000), rtt);
        }
        assert!(
            size_of::<SideRtt>() < 4200,
            "{} bytes",
            size_of::<SideRtt>()
        );
        let stats = side.stats();
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
}
