//! A large farm capture for benchmarks: thousands of concurrent flows with realistic sizes,
//! streamed to the writer with bounded memory.
//!
//! The mix, per new flow: ICA sessions straight on 1494 (basic encryption mostly, some RC5
//! and some in the clear) of a few hundred kilobytes each, produced lazily round by round;
//! sessions over EDT (UDP 1494, opaque datagrams, also lazy), one in ten of them a client whose
//! UDP goes unanswered; session-reliability (CGP) connections carrying a shorter ICA session;
//! IMA exchanges between servers; and license traffic (lmgrd handshake plus a vendor-daemon
//! connection with checkouts and heartbeats). A flow starts every 2 ms, so a few thousand are
//! open at once.

use super::cgp::{CgpLink, Reliability};
use super::farm::{License, lmgrd, vendor_daemon};
use super::ima::{Exchanges, exchanges};
use super::tcp;
use crate::Mixer;
use crate::ica::{Client, IcaSession, LongSession, Protection, Shape};
use crate::mixer::FrameSource;
use crate::pcapfile::FrameSink;
use crate::rng::Rng;
use crate::tcp::BASE_TIME;
use crate::udp::{UdpConversation, UdpStep};
use ctxscope_dissectors::Dir::{ToClient, ToServer};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// Time between two new flows.
const ARRIVAL: Duration = Duration::from_millis(2);

const WORKSTATIONS: [&str; 6] = [
    "WKS-ACC-01",
    "WKS-SAL-07",
    "KIOSK-03",
    "WKS-HR-02",
    "WKS-WH-11",
    "LAPTOP-DEV-5",
];
const APPLICATIONS: [&str; 5] = ["Desktop", "Outlook", "SAP GUI", "Excel", "Dynamics"];

/// Streams a farm capture of about `target_bytes` into `sink`; returns the packets written.
pub fn write_load(sink: &mut impl FrameSink, target_bytes: u64, seed: u64) -> io::Result<u64> {
    Mixer::with_arrivals(Flows::new(target_bytes, seed)).write_to(sink)
}

/// The flows of the load, in order of their start, until their estimated size reaches the
/// target.
struct Flows {
    rng: Rng,
    index: u32,
    planned: u64,
    target: u64,
}

impl Flows {
    fn new(target: u64, seed: u64) -> Flows {
        Flows {
            rng: Rng::new(seed),
            index: 0,
            planned: 0,
            target,
        }
    }
}

impl Iterator for Flows {
    type Item = FrameSource;

    fn next(&mut self) -> Option<FrameSource> {
        if self.planned >= self.target {
            return None;
        }
        let i = self.index;
        self.index += 1;
        let at = ARRIVAL * i;
        let seed = self.rng.next_u64();
        // Clients in 10.2.0.0/16, XenApp servers 10.1.10.21-28 (IMA between them).
        let client_ip = Ipv4Addr::new(10, 2, (i >> 8) as u8, i as u8);
        let client_port = 49_152 + (i % 16_000) as u16;
        let server_ip = Ipv4Addr::new(10, 1, 10, 21 + (i % 8) as u8);
        let user = Client {
            name: WORKSTATIONS[(seed % 6) as usize],
            build: 2410 + (seed % 3) as u16,
            application: APPLICATIONS[(seed % 5) as usize],
            logon: None,
        };
        let roll = self.rng.below(100);
        let (packets, estimate): (FrameSource, u64) = if roll < 70 {
            // A direct ICA session.
            let protection = match self.rng.below(10) {
                0 => Protection::Rc5,
                1 => Protection::Clear,
                _ => Protection::Basic(self.rng.between(1, 255) as u8),
            };
            let shape = Shape {
                rounds: self.rng.between(40, 160) as u32,
                ..Shape::default()
            };
            let estimate = u64::from(shape.rounds) * 3_300 + 6_000;
            let session = LongSession::new(&user, protection, seed, shape);
            let conversation = tcp((client_ip, client_port), (server_ip, 1494), at).handshake();
            (Box::new(conversation.packets_then(session)), estimate)
        } else if roll < 75 {
            // HDX over EDT, or a client whose UDP is blocked.
            let flow = UdpConversation::v4(
                SocketAddrV4::new(client_ip, client_port),
                SocketAddrV4::new(server_ip, 1494),
            )
            .start(BASE_TIME.plus(at));
            if self.rng.below(10) == 0 {
                let attempt = (0..4).map(move |_| UdpStep::Send {
                    dir: ToServer,
                    payload: vec![0x5a; 98],
                });
                (
                    Box::new(flow.spacing(Duration::from_secs(1)).datagrams_then(attempt)),
                    600,
                )
            } else {
                let rounds = self.rng.between(40, 160) as u32;
                let estimate = u64::from(rounds) * 4_400;
                (
                    Box::new(flow.datagrams_then(edt_rounds(rounds, seed))),
                    estimate,
                )
            }
        } else if roll < 90 {
            // Session reliability carrying a shorter session.
            let mut ica = IcaSession::open(&user, Protection::Basic(0x42), seed);
            for _ in 0..20 {
                ica.pause(Duration::from_millis(self.rng.between(5, 60) as u64))
                    .typing(1)
                    .screen(3);
            }
            let ticket = self.rng.bytes(32);
            let reliability = Reliability {
                ticket: &ticket,
                keepalive: Duration::from_secs(3),
                timeout_secs: 180,
                realtime: false,
            };
            let conversation = tcp((client_ip, client_port), (server_ip, 2598), at).handshake();
            let link = CgpLink::connect(conversation, reliability).carry(ica.take());
            (Box::new(link.finish().packets()), 90_000)
        } else if roll < 95 {
            // IMA between two servers.
            let peer = Ipv4Addr::new(10, 1, 10, 21 + ((i + 1) % 8) as u8);
            let shape = Exchanges {
                count: 20,
                request_len: 60..=400,
                response_len: 100..=1400,
                pause_ms: 10..=200,
            };
            let conversation = tcp((server_ip, client_port), (peer, 2512), at).handshake();
            (
                Box::new(
                    exchanges(conversation, &shape, seed)
                        .close(ToServer)
                        .packets(),
                ),
                20_000,
            )
        } else if roll < 97 {
            (Box::new(lmgrd(server_ip, user.name, at).packets()), 1_000)
        } else {
            let events = [
                (0, License::Checkout),
                (1, License::Checkout),
                (4, License::Heartbeat),
            ];
            (
                Box::new(vendor_daemon(server_ip, user.name, at, &events).packets()),
                2_000,
            )
        };
        self.planned += estimate;
        Some(packets)
    }
}

/// `rounds` rounds of an EDT session, pulled one at a time: the client's input, 2 to 4 screen
/// updates of 1,380 bytes (opaque: EDT has no public layout), the client's acknowledgement, a
/// pause.
fn edt_rounds(rounds: u32, seed: u64) -> impl Iterator<Item = UdpStep> + Send + 'static {
    let mut rng = Rng::new(seed);
    (0..rounds).flat_map(move |_| {
        let send = |dir, payload| UdpStep::Send { dir, payload };
        let mut round = vec![send(ToServer, rng.bytes(60))];
        for _ in 0..rng.between(2, 4) {
            round.push(send(ToClient, rng.bytes(1_380)));
        }
        round.push(send(ToServer, rng.bytes(40)));
        round.push(UdpStep::Idle(Duration::from_millis(
            rng.between(20, 200) as u64
        )));
        round
    })
}
