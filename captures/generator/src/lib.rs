//! Deterministic synthesis of sample captures (`ctxscope generate`).
//!
//! This crate depends on the dissectors (for their message encoders) and never on the analyzer,
//! which uses it for its `generate` command and its tests.
//!
//! Every capture in `captures/` is written by this code and must come out byte for byte the
//! same on every run: nothing here reads the clock, the environment or an unseeded random
//! source. Layers, bottom up:
//!
//! - [`rng`]: SplitMix64, the only source of variety.
//! - [`pcapfile`]: classic pcap and pcapng writers ([`Frame`] in, bytes out), and broken files.
//! - [`link`]: link headers (Ethernet with VLAN tags, Linux SLL/SLL2, raw IP, loopback).
//! - [`packet`]: IPv4/IPv6 + TCP packets with correct checksums; IPv4 fragmentation.
//! - [`tcp`]: a [`TcpConversation`] script (handshake, sends, keep-alives, closes ...) with
//!   impairments, produced lazily as frames.
//! - [`udp`]: a [`UdpConversation`] script (datagrams both ways, pauses), produced lazily.
//! - [`flood`]: random TCP packets, each a connection of its own (flow-table churn).
//! - [`mixer`]: merges many conversations by time with bounded memory.
//! - [`ica`]: ICA sessions built with the ICA dissector's encoders (init phase, encryption,
//!   virtual-channel writes), short or produced lazily for large captures.
//! - [`scenarios`](mod@scenarios): the registry of sample captures.
//! - [`rewrite`]: real captures transformed (cut into small segments, duplicated, reordered,
//!   moved to other ports, over IPv6, delayed on one side) and written back.
//!
//! A large multi-flow capture streams straight to disk:
//!
//! ```no_run
//! use ctxscope_generator::{ica::{Client, LongSession, Protection, Shape}, Mixer, PcapWriter,
//!     TcpConversation, TsResolution, LinkType, BASE_TIME};
//! use std::{io::BufWriter, net::SocketAddrV4, time::Duration};
//!
//! let user = Client { name: "WKS0001", build: 2410, application: "Desktop", logon: None };
//! let flows = (0..5_000u32).map(move |i| {
//!     let client = SocketAddrV4::new([10, 2, (i >> 8) as u8, i as u8].into(), 50_000);
//!     let server = SocketAddrV4::new([10, 1, 10, 5].into(), 1494);
//!     let session = LongSession::new(&user, Protection::Basic(0x5a), u64::from(i), Shape::default());
//!     TcpConversation::v4(client, server)
//!         .start(BASE_TIME.plus(Duration::from_millis(u64::from(i) * 20)))
//!         .handshake()
//!         .packets_then(session)
//! });
//! let file = BufWriter::new(std::fs::File::create("bench.pcap")?);
//! let mut writer = PcapWriter::new(file, LinkType::ETHERNET, 262_144, TsResolution::Micro)?;
//! Mixer::with_arrivals(flows).write_to(&mut writer)?;
//! writer.into_inner()?;
//! # Ok::<(), std::io::Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod adversarial;
pub mod flood;
pub mod frames;
pub mod ica;
pub mod link;
pub mod mixer;
pub mod packet;
pub mod pcapfile;
pub mod rewrite;
pub mod rng;
pub mod scenarios;
pub mod tcp;
pub mod udp;

pub use link::{Link, LinkType, VlanTags};
pub use mixer::Mixer;
pub use pcapfile::{Frame, FrameSink, PcapWriter, PcapngWriter, TsResolution};
pub use rng::Rng;
pub use scenarios::{Scenario, scenarios, write_all};
pub use tcp::{BASE_TIME, Impairment, Step, TcpConversation};
pub use udp::{UdpConversation, UdpStep};
