//! One TCP connection as a script of steps, produced lazily as captured frames.
//!
//! A [`TcpConversation`] holds the connection's settings and a script ([`Step`]s). Turning it
//! into [`Packets`] plans one step at a time into segments (sequence numbers, flags, delays),
//! applies the step's [`Impairment`]s to those segments, then transmits them: acknowledgment
//! numbers are computed by simulating each receiver, so a reordered or lost segment produces
//! the duplicate ACKs and ACKs-past-the-hole a real receiver would send. Memory is one step's
//! segments, however long the script; scripts themselves can be lazy
//! ([`TcpConversation::packets_then`]).
//!
//! Directions follow the engine: `Dir::ToServer` is the client's side of the conversation.
//! Per-side settings are given as (client, server).

mod impair;
mod plan;
mod wire;

pub use impair::{ImpairProfile, Impairment};
pub use wire::{Packets, Transmitter};

use super::frames::Frames;
use super::link::{Link, LinkType};
use super::packet::{Ipv6Extension, MAX_TCP_PAYLOAD};
use super::rng::Rng;
use ctxscope_dissectors::{Dir, Timestamp};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

/// The two ends of the connection; the client is the side that sends the SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoints {
    V4 {
        client: SocketAddrV4,
        server: SocketAddrV4,
    },
    V6 {
        client: SocketAddrV6,
        server: SocketAddrV6,
    },
}

impl Endpoints {
    pub fn client(&self) -> SocketAddr {
        match *self {
            Endpoints::V4 { client, .. } => client.into(),
            Endpoints::V6 { client, .. } => client.into(),
        }
    }

    pub fn server(&self) -> SocketAddr {
        match *self {
            Endpoints::V4 { server, .. } => server.into(),
            Endpoints::V6 { server, .. } => server.into(),
        }
    }
}

/// How a keep-alive probe looks: Linux sends no data, Windows one garbage byte. Both reuse the
/// sequence number just below the next one, so the receiver only acknowledges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepAliveProbe {
    Empty,
    OneByte,
}

/// One step of a conversation script.
///
/// `dir` is the direction of the packet that starts the step (`Dir::ToServer`: the client's).
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// SYN, SYN-ACK, ACK. A script without it starts mid-stream.
    Handshake,
    /// `data` cut at the MSS, each segment followed by the peer's ACK, then impaired.
    Send {
        dir: Dir,
        data: Vec<u8>,
        impairments: Vec<Impairment>,
    },
    /// A keep-alive probe in `dir` and the peer's ACK.
    KeepAlive { dir: Dir, probe: KeepAliveProbe },
    /// The receiver sending in `dir` advertises a zero window; the peer probes it (a Linux
    /// probe: no data, sequence number one below the next) and gets a zero-window ACK; after
    /// `stall` the receiver reopens its window (a window update).
    ZeroWindow { dir: Dir, stall: Duration },
    /// A FIN in `dir` and its ACK. Two of them, one per side, close the connection; one alone
    /// is a half-close.
    Fin { dir: Dir },
    /// A RST in `dir`.
    Rst { dir: Dir },
    /// A SYN that nobody answers, retransmitted `retries` times with exponential backoff
    /// (1 s, 2 s, 4 s, ... as Linux does).
    SynUnanswered { retries: u32 },
    /// A SYN answered by RST-ACK: connection refused.
    SynRefused,
    /// Nothing on the wire for this long.
    Idle(Duration),
}

/// Delays between packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Round-trip time; a response (ACK, SYN-ACK) follows its trigger after half of it.
    pub rtt: Duration,
    /// Pause before each step starts (an application's think time).
    pub think: Duration,
}

/// Settings and script of one TCP connection. Build it with the chained methods, then turn it
/// into frames with [`TcpConversation::packets`].
#[derive(Clone, Debug)]
pub struct TcpConversation {
    endpoints: Endpoints,
    link: Link,
    start: Timestamp,
    seed: Option<u64>,
    isn: Option<[u32; 2]>,
    mss: usize,
    /// Receive window in bytes, per side.
    window: [u32; 2],
    ttl: [u8; 2],
    timing: Timing,
    window_scale: Option<u8>,
    sack_permitted: bool,
    timestamps: bool,
    ipv6_extension: Option<Ipv6Extension>,
    ipv4_fragment_payload: Option<usize>,
    profile: Option<ImpairProfile>,
    steps: Vec<Step>,
}

/// 2026-01-15T09:00:00Z, the default start of every conversation.
pub const BASE_TIME: Timestamp = Timestamp::from_secs(1_768_467_600);

impl TcpConversation {
    pub fn v4(client: SocketAddrV4, server: SocketAddrV4) -> TcpConversation {
        TcpConversation::new(Endpoints::V4 { client, server })
    }

    pub fn v6(client: SocketAddrV6, server: SocketAddrV6) -> TcpConversation {
        TcpConversation::new(Endpoints::V6 { client, server })
    }

    /// Defaults: Ethernet, start at [`BASE_TIME`], MSS 1460, windows 64240, TTL 64 (client)
    /// and 128 (server), RTT 2 ms, think time 20 ms, no TCP options beyond MSS, ISNs and IP ids
    /// derived from the seed (itself derived from the endpoints and start unless set).
    pub fn new(endpoints: Endpoints) -> TcpConversation {
        TcpConversation {
            endpoints,
            link: Link::ethernet(),
            start: BASE_TIME,
            seed: None,
            isn: None,
            mss: 1460,
            window: [64_240, 64_240],
            ttl: [64, 128],
            timing: Timing {
                rtt: Duration::from_millis(2),
                think: Duration::from_millis(20),
            },
            window_scale: None,
            sack_permitted: false,
            timestamps: false,
            ipv6_extension: None,
            ipv4_fragment_payload: None,
            profile: None,
            steps: Vec::new(),
        }
    }

    // Settings.

    pub fn link(mut self, link: Link) -> Self {
        self.link = link;
        self
    }

    /// Time of the first packet.
    pub fn start(mut self, start: Timestamp) -> Self {
        self.start = start;
        self
    }

    /// Seed for everything not given explicitly (ISNs, IP ids, flow labels, TCP timestamps,
    /// random impairments).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Initial sequence numbers; any value works, including ones just below 2^32.
    pub fn isn(mut self, client: u32, server: u32) -> Self {
        self.isn = Some([client, server]);
        self
    }

    /// Largest segment payload both sides send (announced in the SYNs); at least 1.
    pub fn mss(mut self, mss: usize) -> Self {
        self.mss = mss.clamp(1, MAX_TCP_PAYLOAD);
        self
    }

    /// Receive windows in bytes (values above 65535 need [`TcpConversation::window_scale`]).
    pub fn window(mut self, client: u32, server: u32) -> Self {
        self.window = [client, server];
        self
    }

    pub fn ttl(mut self, client: u8, server: u8) -> Self {
        self.ttl = [client, server];
        self
    }

    pub fn rtt(mut self, rtt: Duration) -> Self {
        self.timing.rtt = rtt;
        self
    }

    pub fn think(mut self, think: Duration) -> Self {
        self.timing.think = think;
        self
    }

    /// Both SYNs announce this window scale shift (at most 14).
    pub fn window_scale(mut self, shift: u8) -> Self {
        self.window_scale = Some(shift.min(14));
        self
    }

    /// Both SYNs announce SACK permitted (no SACK blocks are sent).
    pub fn sack_permitted(mut self) -> Self {
        self.sack_permitted = true;
        self
    }

    /// Every segment carries RFC 7323 timestamps (a millisecond clock per side).
    pub fn timestamps(mut self) -> Self {
        self.timestamps = true;
        self
    }

    /// IPv6 only: every packet carries this extension header before TCP.
    pub fn ipv6_extension(mut self, extension: Ipv6Extension) -> Self {
        self.ipv6_extension = Some(extension);
        self
    }

    /// IPv4 only: segments with data are sent as IP fragments of at most `max_payload` bytes
    /// (rounded down to a multiple of 8); no packet of the conversation sets don't-fragment.
    pub fn ipv4_fragments(mut self, max_payload: usize) -> Self {
        self.ipv4_fragment_payload = Some(max_payload);
        self
    }

    /// Every send step also gets impairments drawn from `profile` with the seed.
    pub fn impair_randomly(mut self, profile: ImpairProfile) -> Self {
        self.profile = Some(profile);
        self
    }

    // Script.

    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    pub fn handshake(self) -> Self {
        self.step(Step::Handshake)
    }

    pub fn client_send(self, data: impl Into<Vec<u8>>) -> Self {
        self.send(Dir::ToServer, data, [])
    }

    pub fn server_send(self, data: impl Into<Vec<u8>>) -> Self {
        self.send(Dir::ToClient, data, [])
    }

    /// Sends `data` in `dir` with `impairments` applied to its segments.
    pub fn send(
        self,
        dir: Dir,
        data: impl Into<Vec<u8>>,
        impairments: impl IntoIterator<Item = Impairment>,
    ) -> Self {
        self.step(Step::Send {
            dir,
            data: data.into(),
            impairments: impairments.into_iter().collect(),
        })
    }

    pub fn keep_alive(self, dir: Dir, probe: KeepAliveProbe) -> Self {
        self.step(Step::KeepAlive { dir, probe })
    }

    pub fn zero_window(self, dir: Dir, stall: Duration) -> Self {
        self.step(Step::ZeroWindow { dir, stall })
    }

    /// One side's FIN (a half-close until the other side's).
    pub fn fin(self, dir: Dir) -> Self {
        self.step(Step::Fin { dir })
    }

    /// Orderly close: `first` sends FIN, is ACKed, then the other side does the same.
    pub fn close(self, first: Dir) -> Self {
        self.fin(first).fin(first.reverse())
    }

    pub fn rst(self, dir: Dir) -> Self {
        self.step(Step::Rst { dir })
    }

    pub fn syn_unanswered(self, retries: u32) -> Self {
        self.step(Step::SynUnanswered { retries })
    }

    pub fn syn_refused(self) -> Self {
        self.step(Step::SynRefused)
    }

    pub fn idle(self, duration: Duration) -> Self {
        self.step(Step::Idle(duration))
    }

    // Queries.

    pub fn endpoints(&self) -> Endpoints {
        self.endpoints
    }

    pub fn link_type(&self) -> LinkType {
        self.link.link_type()
    }

    pub fn start_time(&self) -> Timestamp {
        self.start
    }

    /// The bytes the script sends in `dir`, in stream order: what a correct reassembly
    /// delivers, less the segments lost from the capture.
    pub fn sent(&self, dir: Dir) -> Vec<u8> {
        let mut out = Vec::new();
        for step in &self.steps {
            if let Step::Send { dir: d, data, .. } = step
                && *d == dir
            {
                out.extend_from_slice(data);
            }
        }
        out
    }

    /// How many segments the script drops from the capture in `dir` (explicit
    /// [`Impairment::Drop`]s; random ones are not known before transmission).
    pub fn lost_segments(&self, dir: Dir) -> usize {
        self.steps
            .iter()
            .filter_map(|step| match step {
                Step::Send {
                    dir: d,
                    impairments,
                    ..
                } if *d == dir => Some(
                    impairments
                        .iter()
                        .filter(|i| matches!(i, Impairment::Drop(_)))
                        .count(),
                ),
                _ => None,
            })
            .sum()
    }

    /// The frames of the script, produced lazily.
    pub fn packets(self) -> Packets {
        self.packets_then(std::iter::empty())
    }

    /// The frames of the script followed by those of `more` steps, pulled one at a time (for
    /// long generated conversations whose script must not sit in memory).
    pub fn packets_then(mut self, more: impl Iterator<Item = Step> + Send + 'static) -> Packets {
        let seed = self.seed.unwrap_or_else(|| self.derived_seed());
        let mut rng = Rng::new(seed);
        // Drawn even when given, so that fixing the ISNs does not shift any other draw.
        let drawn_isn = [rng.next_u32(), rng.next_u32()];
        let isn = self.isn.unwrap_or(drawn_isn);
        let script = std::mem::take(&mut self.steps);
        let steps = Box::new(script.into_iter().chain(more));
        Frames::new(Transmitter::new(self, isn, rng, steps))
    }

    /// A seed that differs between conversations with different endpoints or start times, so
    /// thousands of generated flows do not share ISNs.
    fn derived_seed(&self) -> u64 {
        let mut key =
            format!("{}>{}", self.endpoints.client(), self.endpoints.server()).into_bytes();
        key.extend_from_slice(&self.start.nanos().to_le_bytes());
        key.iter().fold(0xCBF2_9CE4_8422_2325, |hash, &b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3) // FNV-1a
        })
    }
}
