//! Planning: one script step becomes a list of segments with sequence numbers, flags and
//! delays. Acknowledgment numbers are left to transmission, which knows what each receiver got.

use super::impair::{self, ImpairProfile, Impairment};
use super::{KeepAliveProbe, Step, Timing};
use crate::rng::Rng;
use ctxscope_dissectors::Dir;
use ctxscope_dissectors::TcpFlags;
use std::time::Duration;

/// Spacing of back-to-back segments of one burst.
pub(super) const BURST_GAP: Duration = Duration::from_micros(20);
/// Linux's initial retransmission timeout, the first SYN retry interval.
const SYN_RETRY: Duration = Duration::from_secs(1);
/// Linux's minimum retransmission timeout, the wait before a data retransmission.
pub(super) const RTO: Duration = Duration::from_millis(200);
const CLIENT: Dir = Dir::ToServer;
const SERVER: Dir = Dir::ToClient;

/// One segment to transmit.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Planned {
    pub dir: Dir,
    pub seq: u32,
    pub flags: TcpFlags,
    pub payload: Vec<u8>,
    /// Advertised window in bytes; `None` for the sender's configured window.
    pub window: Option<u32>,
    /// Time since the conversation's previous packet.
    pub delay: Duration,
    /// False when the capture missed it (the receiver still got it).
    pub captured: bool,
    /// Index among the data segments of its send step, for impairments to refer to.
    pub ordinal: Option<usize>,
}

impl Planned {
    fn new(dir: Dir, seq: u32, flags: TcpFlags, delay: Duration) -> Planned {
        Planned {
            dir,
            seq,
            flags,
            payload: Vec::new(),
            window: None,
            delay,
            captured: true,
            ordinal: None,
        }
    }

    /// A pure ACK (no data, no SYN/FIN/RST).
    pub fn is_pure_ack(&self) -> bool {
        self.flags == TcpFlags::ACK && self.payload.is_empty()
    }
}

/// Turns steps into segments, keeping each side's next sequence number.
pub(super) struct Planner {
    snd_nxt: [u32; 2],
    mss: usize,
    timing: Timing,
    /// Idle time not yet spent: it delays the next step's first packet.
    pending_idle: Duration,
    profile: Option<ImpairProfile>,
    rng: Rng,
}

impl Planner {
    pub fn new(
        isn: [u32; 2],
        mss: usize,
        timing: Timing,
        profile: Option<ImpairProfile>,
        rng: Rng,
    ) -> Planner {
        Planner {
            snd_nxt: isn,
            mss,
            timing,
            pending_idle: Duration::ZERO,
            profile,
            rng,
        }
    }

    pub fn plan(&mut self, step: Step) -> Vec<Planned> {
        let mut out = Vec::new();
        match step {
            Step::Handshake => {
                let lead = self.lead_in();
                out.push(self.control(CLIENT, TcpFlags::SYN, lead));
                out.push(self.control(SERVER, TcpFlags::SYN | TcpFlags::ACK, self.half_rtt()));
                out.push(self.ack(CLIENT, self.half_rtt()));
            }
            Step::Send {
                dir,
                data,
                mut impairments,
            } => {
                let mut drawn = self.draw(data.len());
                impairments.append(&mut drawn);
                self.plan_send(dir, &data, &impairments, &mut out);
            }
            Step::KeepAlive { dir, probe } => {
                let lead = self.lead_in();
                let mut probe_segment = self.probe(dir, lead);
                if probe == KeepAliveProbe::OneByte {
                    probe_segment.payload.push(0);
                }
                out.push(probe_segment);
                out.push(self.ack(dir.reverse(), self.half_rtt()));
            }
            Step::ZeroWindow { dir, stall } => {
                let lead = self.lead_in();
                let mut closed = self.ack(dir, lead);
                closed.window = Some(0);
                out.push(closed.clone());
                out.push(self.probe(dir.reverse(), stall / 2));
                closed.delay = self.half_rtt();
                out.push(closed);
                out.push(self.ack(dir, stall / 2)); // window update
            }
            Step::Fin { dir } => {
                let lead = self.lead_in();
                out.push(self.control(dir, TcpFlags::FIN | TcpFlags::ACK, lead));
                out.push(self.ack(dir.reverse(), self.half_rtt()));
            }
            Step::Rst { dir } => {
                let seq = self.snd_nxt[dir.index()];
                out.push(Planned::new(
                    dir,
                    seq,
                    TcpFlags::RST | TcpFlags::ACK,
                    self.lead_in(),
                ));
            }
            Step::SynUnanswered { retries } => {
                let lead = self.lead_in();
                let syn = self.control(CLIENT, TcpFlags::SYN, lead);
                out.push(syn.clone());
                for retry in 0..retries {
                    let backoff = SYN_RETRY.saturating_mul(1 << retry.min(16));
                    out.push(Planned {
                        delay: backoff,
                        ..syn.clone()
                    });
                }
            }
            Step::SynRefused => {
                let lead = self.lead_in();
                out.push(self.control(CLIENT, TcpFlags::SYN, lead));
                // A closed port answers with sequence number 0 and a zero window.
                let mut refusal =
                    Planned::new(SERVER, 0, TcpFlags::RST | TcpFlags::ACK, self.half_rtt());
                refusal.window = Some(0);
                out.push(refusal);
            }
            Step::Idle(duration) => self.pending_idle += duration,
        }
        out
    }

    /// Data segments of at most one MSS, each followed by the peer's ACK, then impaired.
    fn plan_send(
        &mut self,
        dir: Dir,
        data: &[u8],
        impairments: &[Impairment],
        out: &mut Vec<Planned>,
    ) {
        let mss = if impairments.contains(&Impairment::TinySegments) {
            1
        } else {
            self.mss
        };
        let count = data.len().div_ceil(mss);
        for (i, chunk) in data.chunks(mss).enumerate() {
            let delay = if i == 0 { self.lead_in() } else { BURST_GAP };
            let mut flags = TcpFlags::ACK;
            if i + 1 == count {
                flags |= TcpFlags::PSH; // end of the application's write
            }
            let seq = self.advance(dir, chunk.len());
            out.push(Planned {
                payload: chunk.to_vec(),
                ordinal: Some(i),
                ..Planned::new(dir, seq, flags, delay)
            });
            out.push(self.ack(dir.reverse(), self.half_rtt()));
        }
        impair::apply(out, impairments, self.half_rtt());
    }

    /// Impairments drawn from the random profile for a send of `len` bytes.
    fn draw(&mut self, len: usize) -> Vec<Impairment> {
        match self.profile {
            Some(profile) => profile.draw(&mut self.rng, len, self.mss),
            None => Vec::new(),
        }
    }

    /// A SYN or FIN (each takes one sequence number) or other control segment.
    fn control(&mut self, dir: Dir, flags: TcpFlags, delay: Duration) -> Planned {
        let seq = self.advance(dir, 1);
        Planned::new(dir, seq, flags, delay)
    }

    fn ack(&self, dir: Dir, delay: Duration) -> Planned {
        Planned::new(dir, self.snd_nxt[dir.index()], TcpFlags::ACK, delay)
    }

    /// A probe reusing the last sequence number already sent (keep-alive, zero-window probe).
    fn probe(&self, dir: Dir, delay: Duration) -> Planned {
        let seq = self.snd_nxt[dir.index()].wrapping_sub(1);
        Planned::new(dir, seq, TcpFlags::ACK, delay)
    }

    /// Takes `len` sequence numbers in `dir`; returns the first.
    fn advance(&mut self, dir: Dir, len: usize) -> u32 {
        let next = &mut self.snd_nxt[dir.index()];
        let seq = *next;
        // Sequence space is modulo 2^32, so truncating the length is the arithmetic wanted.
        *next = next.wrapping_add(len as u32);
        seq
    }

    /// Delay of a step's first packet: think time plus any idle time requested before it.
    fn lead_in(&mut self) -> Duration {
        self.timing.think + std::mem::take(&mut self.pending_idle)
    }

    fn half_rtt(&self) -> Duration {
        self.timing.rtt / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planner(mss: usize) -> Planner {
        let timing = Timing {
            rtt: Duration::from_millis(2),
            think: Duration::from_millis(10),
        };
        Planner::new([100, 5000], mss, timing, None, Rng::new(1))
    }

    fn summary(plan: &[Planned]) -> Vec<(Dir, u32, u8, usize)> {
        plan.iter()
            .map(|p| (p.dir, p.seq, p.flags.bits(), p.payload.len()))
            .collect()
    }

    #[test]
    fn handshake_takes_one_sequence_number_per_side() {
        let mut p = planner(1460);
        let plan = p.plan(Step::Handshake);
        assert_eq!(
            summary(&plan),
            [
                (CLIENT, 100, 0x02, 0),
                (SERVER, 5000, 0x12, 0),
                (CLIENT, 101, 0x10, 0)
            ]
        );
        assert_eq!(p.snd_nxt, [101, 5001]);
    }

    #[test]
    fn send_is_cut_at_the_mss_with_an_ack_after_each_segment() {
        let mut p = planner(4);
        let plan = p.plan(Step::Send {
            dir: SERVER,
            data: b"0123456789".to_vec(),
            impairments: vec![],
        });
        assert_eq!(
            summary(&plan),
            [
                (SERVER, 5000, 0x10, 4),
                (CLIENT, 100, 0x10, 0),
                (SERVER, 5004, 0x10, 4),
                (CLIENT, 100, 0x10, 0),
                (SERVER, 5008, 0x18, 2), // PSH on the last
                (CLIENT, 100, 0x10, 0),
            ]
        );
        assert_eq!(plan[0].delay, Duration::from_millis(10));
        assert_eq!(plan[1].delay, Duration::from_millis(1));
        assert_eq!(plan[2].delay, BURST_GAP);
        assert_eq!(p.snd_nxt[SERVER.index()], 5010);
    }

    #[test]
    fn idle_delays_the_next_step_and_sequence_numbers_wrap() {
        let mut p = Planner::new(
            [u32::MAX - 1, 0],
            1460,
            planner(1).timing,
            None,
            Rng::new(1),
        );
        assert!(p.plan(Step::Idle(Duration::from_secs(5))).is_empty());
        let plan = p.plan(Step::Fin { dir: CLIENT });
        assert_eq!(plan[0].delay, Duration::from_millis(5010));
        assert_eq!(p.snd_nxt[0], u32::MAX);
        let plan = p.plan(Step::Send {
            dir: CLIENT,
            data: vec![7; 3],
            impairments: vec![],
        });
        assert_eq!(plan[0].seq, u32::MAX);
        assert_eq!(p.snd_nxt[0], 2);
    }

    #[test]
    fn probes_reuse_the_previous_sequence_number() {
        let mut p = planner(1460);
        let plan = p.plan(Step::KeepAlive {
            dir: SERVER,
            probe: KeepAliveProbe::OneByte,
        });
        assert_eq!(
            summary(&plan),
            [(SERVER, 4999, 0x10, 1), (CLIENT, 100, 0x10, 0)]
        );
        let plan = p.plan(Step::ZeroWindow {
            dir: CLIENT,
            stall: Duration::from_secs(2),
        });
        let windows: Vec<_> = plan.iter().map(|s| s.window).collect();
        assert_eq!(windows, [Some(0), None, Some(0), None]);
        assert_eq!(plan[1].seq, 4999);
        assert_eq!(plan[3].delay, Duration::from_secs(1));
    }

    #[test]
    fn unanswered_syn_backs_off_and_refusal_is_rst_with_sequence_zero() {
        let mut p = planner(1460);
        let plan = p.plan(Step::SynUnanswered { retries: 3 });
        let delays: Vec<_> = plan.iter().map(|s| s.delay.as_secs()).collect();
        assert_eq!(delays, [0, 1, 2, 4]); // think time rounds down to 0 s
        assert!(
            plan.iter()
                .all(|s| s.seq == 100 && s.flags == TcpFlags::SYN)
        );
        let mut p = planner(1460);
        let plan = p.plan(Step::SynRefused);
        assert_eq!(
            summary(&plan),
            [(CLIENT, 100, 0x02, 0), (SERVER, 0, 0x14, 0)]
        );
    }
}
