//! One UDP flow as a script of datagrams, produced lazily as captured frames.
//!
//! A [`UdpConversation`] holds the flow's settings and a script ([`UdpStep`]s): a datagram in
//! one direction, or a pause. Datagrams of a burst follow each other `spacing` apart; nothing
//! is acknowledged or retransmitted (UDP does neither). Directions follow the engine:
//! `Dir::ToServer` is the client's datagram.

use super::frames::{Frames, Transmit};
use super::link::{Link, LinkType};
use super::packet::{IpHeader, UdpDatagram, fragment_ipv4, write_udp_packet};
use super::pcapfile::Frame;
use super::tcp::BASE_TIME;
use ctxscope_dissectors::{Dir, Timestamp};
use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::time::Duration;

/// One step of a UDP script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpStep {
    /// A datagram in `dir`; the next step comes `spacing` later.
    Send { dir: Dir, payload: Vec<u8> },
    /// Nothing on the wire for this long.
    Idle(Duration),
}

/// Settings and script of one UDP flow between two IPv4 endpoints.
#[derive(Clone, Debug)]
pub struct UdpConversation {
    client: SocketAddrV4,
    server: SocketAddrV4,
    link: Link,
    start: Timestamp,
    spacing: Duration,
    ipv4_fragment_payload: Option<usize>,
    steps: Vec<UdpStep>,
}

impl UdpConversation {
    /// Defaults: Ethernet, start at [`BASE_TIME`], 1 ms between the datagrams of a burst.
    pub fn v4(client: SocketAddrV4, server: SocketAddrV4) -> UdpConversation {
        UdpConversation {
            client,
            server,
            link: Link::ethernet(),
            start: BASE_TIME,
            spacing: Duration::from_millis(1),
            ipv4_fragment_payload: None,
            steps: Vec::new(),
        }
    }

    /// (client, server) addresses of the flow.
    pub fn endpoints(&self) -> (SocketAddrV4, SocketAddrV4) {
        (self.client, self.server)
    }

    pub fn link(mut self, link: Link) -> Self {
        self.link = link;
        self
    }

    /// Time of the first datagram.
    pub fn start(mut self, start: Timestamp) -> Self {
        self.start = start;
        self
    }

    /// Time from one datagram to the next step.
    pub fn spacing(mut self, spacing: Duration) -> Self {
        self.spacing = spacing;
        self
    }

    /// Every datagram sent as IPv4 fragments of at most `max_payload` bytes.
    pub fn ipv4_fragments(mut self, max_payload: usize) -> Self {
        self.ipv4_fragment_payload = Some(max_payload);
        self
    }

    pub fn step(mut self, step: UdpStep) -> Self {
        self.steps.push(step);
        self
    }

    pub fn send(self, dir: Dir, payload: impl Into<Vec<u8>>) -> Self {
        self.step(UdpStep::Send {
            dir,
            payload: payload.into(),
        })
    }

    pub fn idle(self, duration: Duration) -> Self {
        self.step(UdpStep::Idle(duration))
    }

    pub fn link_type(&self) -> LinkType {
        self.link.link_type()
    }

    pub fn start_time(&self) -> Timestamp {
        self.start
    }

    /// The frames of the script, produced lazily.
    pub fn datagrams(self) -> Datagrams {
        self.datagrams_then(std::iter::empty())
    }

    /// The frames of the script followed by those of `more` steps, pulled one at a time.
    pub fn datagrams_then(
        mut self,
        more: impl Iterator<Item = UdpStep> + Send + 'static,
    ) -> Datagrams {
        let script = std::mem::take(&mut self.steps);
        Frames::new(Transmitter {
            now: self.start,
            // IP ids per side, from the ports so that flows differ.
            ids: [self.client.port(), self.server.port().rotate_left(8)],
            steps: Box::new(script.into_iter().chain(more)),
            conv: self,
        })
    }
}

/// Frames of one UDP conversation, in time order. Created by [`UdpConversation::datagrams`].
pub type Datagrams = Frames<Transmitter>;

/// Sends a UDP script's datagrams (each as IPv4 fragments if the conversation asks).
pub struct Transmitter {
    conv: UdpConversation,
    steps: Box<dyn Iterator<Item = UdpStep> + Send>,
    now: Timestamp,
    ids: [u16; 2],
}

impl Transmitter {
    fn frames_of(&mut self, dir: Dir, payload: &[u8], ready: &mut VecDeque<Frame>) {
        let c = &self.conv;
        let (src, dst) = dir.by_sender(c.client, c.server);
        let id = &mut self.ids[dir.index()];
        *id = id.wrapping_add(1);
        let ip = IpHeader::V4 {
            src: *src.ip(),
            dst: *dst.ip(),
            ttl: dir.pick(64, 128),
            id: *id,
            dont_fragment: c.ipv4_fragment_payload.is_none(),
        };
        let mut packet = Vec::with_capacity(payload.len() + 28);
        let udp = UdpDatagram {
            src_port: src.port(),
            dst_port: dst.port(),
            payload,
        };
        write_udp_packet(&ip, &udp, &mut packet);
        let pieces = match c.ipv4_fragment_payload {
            Some(max) => fragment_ipv4(&packet, max),
            None => vec![packet],
        };
        for piece in pieces {
            let frame = c.link.frame(dir, &piece);
            ready.push_back(Frame::new(self.now, c.link.link_type(), frame));
        }
    }
}

impl Transmit for Transmitter {
    fn transmit_next(&mut self, ready: &mut VecDeque<Frame>) -> Option<()> {
        match self.steps.next()? {
            UdpStep::Send { dir, payload } => {
                self.frames_of(dir, &payload, ready);
                self.now = self.now.plus(self.conv.spacing);
            }
            UdpStep::Idle(d) => self.now = self.now.plus(d),
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn conversation() -> UdpConversation {
        UdpConversation::v4(
            "10.1.20.31:50000".parse().unwrap(),
            "10.1.10.21:1494".parse().unwrap(),
        )
    }

    /// (ms after the start, source port, payload) of each frame.
    fn datagrams(frames: &[Frame]) -> Vec<(u64, u16, Vec<u8>)> {
        frames
            .iter()
            .map(|f| {
                let p = SlicedPacket::from_ethernet(&f.data).expect("parses");
                let Some(TransportSlice::Udp(u)) = p.transport else {
                    panic!("UDP")
                };
                let ms = f.ts.since(BASE_TIME).as_millis() as u64;
                (ms, u.source_port(), u.payload().to_vec())
            })
            .collect()
    }

    #[test]
    fn a_script_becomes_timed_datagrams_both_ways() {
        let frames: Vec<Frame> = conversation()
            .spacing(Duration::from_millis(2))
            .send(Dir::ToServer, b"hello".to_vec())
            .send(Dir::ToClient, b"world".to_vec())
            .idle(Duration::from_secs(1))
            .send(Dir::ToServer, Vec::new())
            .datagrams()
            .collect();
        assert_eq!(
            datagrams(&frames),
            [
                (0, 50000, b"hello".to_vec()),
                (2, 1494, b"world".to_vec()),
                (1004, 50000, Vec::new()),
            ]
        );
    }

    #[test]
    fn lazy_steps_follow_the_script_and_fragments_carry_one_datagram() {
        let more = (0..3u8).map(|i| UdpStep::Send {
            dir: Dir::ToClient,
            payload: vec![i; 100],
        });
        let frames: Vec<Frame> = conversation()
            .ipv4_fragments(48)
            .send(Dir::ToServer, vec![9; 10])
            .datagrams_then(more)
            .collect();
        // 10 + 8 bytes fit one fragment; 100 + 8 make three of 48, 48 and 12.
        assert_eq!(frames.len(), 1 + 3 * 3);
        let first = SlicedPacket::from_ethernet(&frames[1].data).expect("parses");
        let Some(NetSlice::Ipv4(ip)) = first.net else {
            panic!("IPv4")
        };
        assert!(ip.header().more_fragments());
        assert_eq!(ip.payload().payload.len(), 48);
    }
}
