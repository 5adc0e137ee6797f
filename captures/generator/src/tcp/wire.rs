//! Transmission: planned segments become frames. Each side's receive state is simulated so
//! acknowledgment numbers, TCP timestamps and time stamps are what the endpoints would send.

use super::plan::{Planned, Planner};
use super::{Endpoints, Step, TcpConversation};
use crate::frames::{Frames, Transmit};
use crate::link::IpVersion;
use crate::packet::{self, IpHeader, TcpOptions, TcpSegment};
use crate::pcapfile::Frame;
use crate::rng::Rng;
use ctxscope_dissectors::{Dir, TcpFlags, Timestamp};
use std::collections::VecDeque;

/// True if sequence number `a` comes after `b` (modulo 2^32, RFC 1982 style).
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// What one side has received of its peer's sequence space.
#[derive(Clone, Debug)]
struct Receiver {
    /// Next sequence number expected: the cumulative ACK.
    next: u32,
    /// Ranges received beyond a hole, waiting for it to fill. Impairments are local to a
    /// send, so this holds a handful of ranges at most.
    ahead: Vec<(u32, u32)>,
}

impl Receiver {
    fn receive(&mut self, start: u32, end: u32) {
        if !seq_after(end, self.next) {
            return; // old data: retransmission or keep-alive
        }
        if seq_after(start, self.next) {
            self.ahead.push((start, end));
            return;
        }
        self.next = end;
        while let Some(i) = self
            .ahead
            .iter()
            .position(|&(s, _)| !seq_after(s, self.next))
        {
            let (_, e) = self.ahead.swap_remove(i);
            if seq_after(e, self.next) {
                self.next = e;
            }
        }
    }
}

/// Frames of one conversation, in time order. Created by [`TcpConversation::packets`].
pub type Packets = Frames<Transmitter>;

/// Plans a TCP script's steps into segments and transmits them one at a time.
pub struct Transmitter {
    conv: TcpConversation,
    steps: Box<dyn Iterator<Item = Step> + Send>,
    planner: Planner,
    batch: std::vec::IntoIter<Planned>,
    /// Time of the previous packet; `None` before the first.
    last: Option<Timestamp>,
    /// Indexed like every per-side array: by the direction that side sends in.
    receivers: [Receiver; 2],
    ip_id: [u16; 2],
    flow_label: [u32; 2],
    /// Each side's TCP timestamp clock at the conversation start.
    tsval_base: [u32; 2],
    /// The last TSval each side received, echoed as its TSecr.
    tsecr: [u32; 2],
    scratch: Vec<u8>,
}

impl Transmitter {
    pub(super) fn new(
        conv: TcpConversation,
        isn: [u32; 2],
        mut rng: Rng,
        steps: Box<dyn Iterator<Item = Step> + Send>,
    ) -> Transmitter {
        let ip_id = [rng.next_u16(), rng.next_u16()];
        let flow_label = [rng.next_u32() & 0xF_FFFF, rng.next_u32() & 0xF_FFFF];
        let tsval_base = [rng.next_u32(), rng.next_u32()];
        let planner = Planner::new(isn, conv.mss, conv.timing, conv.profile, rng.fork(1));
        // Without a handshake each side starts out expecting the peer's first byte.
        let receivers = [isn[1], isn[0]].map(|next| Receiver {
            next,
            ahead: Vec::new(),
        });
        Transmitter {
            conv,
            steps,
            planner,
            batch: Vec::new().into_iter(),
            last: None,
            receivers,
            ip_id,
            flow_label,
            tsval_base,
            tsecr: [0, 0],
            scratch: Vec::new(),
        }
    }

    fn transmit(&mut self, seg: Planned, ready: &mut VecDeque<Frame>) {
        let ts = match self.last {
            None => self.conv.start,
            Some(last) => last.plus(seg.delay),
        };
        self.last = Some(ts);
        let (s, r) = (seg.dir.index(), seg.dir.reverse().index());
        let syn = seg.flags.contains(TcpFlags::SYN);
        let ack = if seg.flags.contains(TcpFlags::ACK) {
            self.receivers[s].next
        } else {
            0
        };
        let elapsed_ms = ts.since(self.conv.start).as_millis() as u32;
        let tsval = self.tsval_base[s].wrapping_add(elapsed_ms);
        let options = TcpOptions {
            mss: syn.then(|| u16::try_from(self.conv.mss).unwrap_or(u16::MAX)),
            window_scale: self.conv.window_scale.filter(|_| syn),
            sack_permitted: self.conv.sack_permitted && syn,
            timestamps: self
                .conv
                .timestamps
                .then_some((tsval, self.tsecr[s]))
                .filter(|_| !seg.flags.contains(TcpFlags::RST)),
        };
        let window_bytes = seg.window.unwrap_or(self.conv.window[s]);
        // Windows in SYNs are never scaled (RFC 7323); later ones are, if scaling is on.
        let shift = if syn {
            0
        } else {
            self.conv.window_scale.unwrap_or(0)
        };
        let window = u16::try_from(window_bytes >> shift).unwrap_or(u16::MAX);

        // The receiver gets the segment whether or not the capture does.
        if syn {
            self.receivers[r].next = seg.seq.wrapping_add(1);
        } else if !seg.flags.contains(TcpFlags::RST) {
            let fin = u32::from(seg.flags.contains(TcpFlags::FIN));
            let end = seg
                .seq
                .wrapping_add(seg.payload.len() as u32)
                .wrapping_add(fin);
            self.receivers[r].receive(seg.seq, end);
        }
        if self.conv.timestamps {
            self.tsecr[r] = tsval;
        }
        let ip = self.ip_header(seg.dir);
        self.ip_id[s] = self.ip_id[s].wrapping_add(1);
        if !seg.captured {
            return;
        }
        let (src_port, dst_port) = self.ports(seg.dir);
        let tcp = TcpSegment {
            src_port,
            dst_port,
            seq: seg.seq,
            ack,
            flags: seg.flags,
            window,
            options,
            payload: &seg.payload,
        };
        self.emit(ts, seg.dir, &ip, &tcp, ready);
    }

    /// Frames the packet (as fragments if the conversation fragments data segments).
    fn emit(
        &mut self,
        ts: Timestamp,
        dir: Dir,
        ip: &IpHeader,
        tcp: &TcpSegment,
        ready: &mut VecDeque<Frame>,
    ) {
        let link = self.conv.link;
        let version = match ip {
            IpHeader::V4 { .. } => IpVersion::V4,
            IpHeader::V6 { .. } => IpVersion::V6,
        };
        let fragment_payload = self
            .conv
            .ipv4_fragment_payload
            .filter(|_| version == IpVersion::V4 && !tcp.payload.is_empty());
        if let Some(max_payload) = fragment_payload {
            self.scratch.clear();
            packet::write_tcp_packet(ip, tcp, &mut self.scratch);
            for fragment in packet::fragment_ipv4(&self.scratch, max_payload) {
                let mut data = Vec::with_capacity(link.header_len() + fragment.len());
                link.write_header(dir, version, &mut data);
                data.extend_from_slice(&fragment);
                ready.push_back(Frame::new(ts, link.link_type(), data));
            }
        } else {
            let mut data = Vec::with_capacity(link.header_len() + 80 + tcp.payload.len());
            link.write_header(dir, version, &mut data);
            packet::write_tcp_packet(ip, tcp, &mut data);
            ready.push_back(Frame::new(ts, link.link_type(), data));
        }
    }

    fn ip_header(&self, dir: Dir) -> IpHeader {
        let s = dir.index();
        match self.conv.endpoints {
            Endpoints::V4 { client, server } => {
                let (src, dst) = dir.by_sender(*client.ip(), *server.ip());
                IpHeader::V4 {
                    src,
                    dst,
                    ttl: self.conv.ttl[s],
                    id: self.ip_id[s],
                    dont_fragment: self.conv.ipv4_fragment_payload.is_none(),
                }
            }
            Endpoints::V6 { client, server } => {
                let (src, dst) = dir.by_sender(*client.ip(), *server.ip());
                IpHeader::V6 {
                    src,
                    dst,
                    hop_limit: self.conv.ttl[s],
                    flow_label: self.flow_label[s],
                    extension: self.conv.ipv6_extension,
                }
            }
        }
    }

    fn ports(&self, dir: Dir) -> (u16, u16) {
        let (client, server) = (self.conv.endpoints.client(), self.conv.endpoints.server());
        dir.by_sender(client.port(), server.port())
    }
}

/// One segment at a time: a step's segments are planned when the previous step's are out.
impl Transmit for Transmitter {
    fn transmit_next(&mut self, ready: &mut VecDeque<Frame>) -> Option<()> {
        match self.batch.next() {
            Some(seg) => self.transmit(seg, ready),
            None => self.batch = self.planner.plan(self.steps.next()?).into_iter(),
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::Link;
    use crate::tcp::Impairment;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use std::net::SocketAddrV4;
    use std::time::Duration;

    fn conv() -> TcpConversation {
        TcpConversation::v4(
            SocketAddrV4::new([10, 0, 0, 1].into(), 50_000),
            SocketAddrV4::new([10, 0, 0, 2].into(), 1494),
        )
        .link(Link::RawIp)
        .isn(1000, 9000)
        .mss(4)
    }

    /// (from client?, seq, ack, flags, payload length) per frame.
    fn decode(frames: &[Frame]) -> Vec<(bool, u32, u32, u8, usize)> {
        frames
            .iter()
            .map(|f| {
                let p = SlicedPacket::from_ip(&f.data).expect("valid packet");
                let Some(NetSlice::Ipv4(ip)) = &p.net else {
                    panic!("not IPv4")
                };
                let from_client = ip.header().source() == [10, 0, 0, 1];
                let Some(TransportSlice::Tcp(tcp)) = p.transport else {
                    panic!("not TCP")
                };
                let flags = u8::from(tcp.fin())
                    | u8::from(tcp.syn()) << 1
                    | u8::from(tcp.rst()) << 2
                    | u8::from(tcp.psh()) << 3
                    | u8::from(tcp.ack()) << 4;
                let ack = tcp.acknowledgment_number();
                (
                    from_client,
                    tcp.sequence_number(),
                    ack,
                    flags,
                    tcp.payload().len(),
                )
            })
            .collect()
    }

    #[test]
    fn handshake_data_and_close_are_consistent() {
        let frames: Vec<_> = conv()
            .handshake()
            .client_send(*b"abcdef")
            .close(Dir::ToServer)
            .packets()
            .collect();
        assert_eq!(
            decode(&frames),
            [
                (true, 1000, 0, 0x02, 0),
                (false, 9000, 1001, 0x12, 0),
                (true, 1001, 9001, 0x10, 0),
                (true, 1001, 9001, 0x10, 4),
                (false, 9001, 1005, 0x10, 0),
                (true, 1005, 9001, 0x18, 2),
                (false, 9001, 1007, 0x10, 0),
                (true, 1007, 9001, 0x11, 0),
                (false, 9001, 1008, 0x10, 0),
                (false, 9001, 1008, 0x11, 0),
                (true, 1008, 9002, 0x10, 0),
            ]
        );
        assert_eq!(frames[0].ts, crate::tcp::BASE_TIME);
        assert!(frames.windows(2).all(|w| w[0].ts <= w[1].ts));
        assert_eq!(frames[1].ts.since(frames[0].ts), Duration::from_millis(1));
    }

    #[test]
    fn acks_follow_what_the_receiver_got() {
        let data = *b"0123456789AB"; // three segments: 1001, 1005, 1009
        let frames: Vec<_> = conv()
            .handshake()
            .send(
                Dir::ToServer,
                data,
                [Impairment::Reorder(0), Impairment::Drop(2)],
            )
            .packets()
            .collect();
        let server_acks: Vec<_> = decode(&frames[3..])
            .into_iter()
            .map(|(client, seq, ack, _, len)| if client { (seq, len) } else { (ack, 0) })
            .collect();
        // 1005 arrives before 1001; one ACK covers both; 1009 is not captured yet ACKed.
        assert_eq!(server_acks, [(1005, 4), (1001, 4), (1009, 0), (1013, 0)]);
    }

    #[test]
    fn midstream_keepalive_and_timestamps() {
        let frames: Vec<_> = conv()
            .timestamps()
            .server_send(*b"xy")
            .keep_alive(Dir::ToServer, crate::tcp::KeepAliveProbe::Empty)
            .packets()
            .collect();
        assert_eq!(
            decode(&frames),
            [
                (false, 9000, 1000, 0x18, 2),
                (true, 1000, 9002, 0x10, 0),
                (true, 999, 9002, 0x10, 0),
                (false, 9002, 1000, 0x10, 0),
            ]
        );
        // The client echoes the server's TSval.
        let tsopt = |f: &Frame| f.data[20 + 20 + 2..20 + 20 + 12].to_vec();
        assert_eq!(&tsopt(&frames[0])[2..6], &tsopt(&frames[1])[6..10]);
    }

    #[test]
    fn fragments_share_a_time_stamp_and_carry_the_segment() {
        let frames: Vec<_> = conv()
            .mss(100)
            .ipv4_fragments(24)
            .client_send(vec![7u8; 40])
            .packets()
            .collect();
        // 60 bytes of TCP in 24-byte pieces, then the ACK whole.
        assert_eq!(frames.len(), 4);
        assert!(frames[..3].iter().all(|f| f.ts == frames[0].ts));
        let tcp_bytes: usize = frames[..3].iter().map(|f| f.data.len() - 20).sum();
        assert_eq!(tcp_bytes, 60);
    }

    #[test]
    fn random_impairments_keep_time_order_checksums_and_final_acks() {
        let profile = crate::tcp::ImpairProfile {
            reorder: 0.2,
            retransmit: 0.1,
            partial_retransmit: 0.1,
            overlap_same: 0.1,
            overlap_conflict: 0.1,
            drop: 0.1,
            tiny_segments: 0.05,
        };
        for seed in 0..200u64 {
            let mut rng = Rng::new(seed);
            let mut conversation = conv()
                .seed(seed)
                .mss(rng.between(1, 40))
                .impair_randomly(profile);
            conversation = conversation.handshake();
            for i in 0..4 {
                let dir = if i % 2 == 0 {
                    Dir::ToServer
                } else {
                    Dir::ToClient
                };
                let len = rng.between(0, 120);
                conversation = conversation.send(dir, rng.bytes(len), []);
            }
            let sent = [
                conversation.sent(Dir::ToServer).len(),
                conversation.sent(Dir::ToClient).len(),
            ];
            let frames: Vec<_> = conversation.close(Dir::ToServer).packets().collect();
            assert!(frames.windows(2).all(|w| w[0].ts <= w[1].ts), "seed {seed}");
            let decoded = decode(&frames); // panics on a packet etherparse rejects
            // The last two packets ACK both FINs: everything sent was received.
            let n = decoded.len();
            let client_fin_ack = decoded[n - 3].2; // the server's ACK of the client's FIN
            let server_fin_ack = decoded[n - 1].2;
            assert_eq!(client_fin_ack, 1001 + sent[0] as u32 + 1, "seed {seed}");
            assert_eq!(server_fin_ack, 9001 + sent[1] as u32 + 1, "seed {seed}");
        }
    }

    #[test]
    fn receiver_fills_holes_across_the_wrap() {
        let mut r = Receiver {
            next: u32::MAX - 3,
            ahead: Vec::new(),
        };
        r.receive(1, 5); // beyond a hole
        r.receive(u32::MAX - 3, 1);
        assert_eq!((r.next, r.ahead.len()), (5, 0));
        r.receive(0, 4); // old
        assert_eq!(r.next, 5);
    }
}
