//! The registry of sample captures: one small file per edge case, written by
//! `ctxscope generate DIR` and compared byte for byte by the tests.
//!
//! # Adding a scenario
//!
//! Write one function in the module of its family and add one line to that module's list.
//! A scenario made of TCP conversations returns a [`TcpCapture`] and is listed with the
//! `tcp_captures!` macro, which also lets the tests compare tshark's reassembled streams with
//! the bytes each conversation's script sent:
//!
//! ```text
//! fn checkout_denied() -> TcpCapture {
//!     TcpCapture::pcap(vec![TcpConversation::v4(client, server).handshake()
//!         .client_send(encode::checkout(..)).server_send(encode::denied(..)).close(Dir::ToServer)])
//! }
//! tcp_captures! {
//!     "flexlm/checkout_denied.pcap", "vendor daemon refuses a checkout" => checkout_denied;
//! }
//! ```
//!
//! Any other file is a plain [`Scenario`] whose `build` returns the file's bytes, listed with
//! the `scenario_files!` macro (path, what it exercises, an expression making the bytes). A new
//! family module adds one line to `GROUPS` (and to `SCRIPTED` if it uses `tcp_captures!`) below.

/// Lists scenarios, each its path, what it exercises and the expression that makes the whole
/// file's bytes.
macro_rules! scenario_files {
    ($($path:literal, $about:literal => $bytes:expr;)+) => {
        vec![$($crate::scenarios::Scenario {
            path: $path,
            about: $about,
            build: || $bytes,
        }),+]
    };
}

/// Lists scenarios built from a [`TcpCapture`]: defines `scenarios()` (the registry entries)
/// and `captures()` (the same captures unbuilt, for tests that check the streams).
macro_rules! tcp_captures {
    ($($path:literal, $about:literal => $make:path;)+) => {
        pub(super) fn scenarios() -> Vec<$crate::scenarios::Scenario> {
            scenario_files![$($path, $about => $crate::scenarios::build($make());)+]
        }

        pub(super) fn captures() -> Vec<$crate::scenarios::Scripted> {
            vec![$(($path, $make())),+]
        }
    };
}

pub mod citrix;
mod flexlm;
mod links;
mod malformed;
mod scans;
mod tcp_edges;

pub use malformed::READER_PCAPNG_INTERFACES;

use super::ica::{self, Client, IcaSession, Protection};
use super::link::LinkType;
use super::mixer::Mixer;
use super::pcapfile::{Frame, Interface, MAX_SNAPLEN, PcapWriter, PcapngWriter, TsResolution};
use super::tcp::TcpConversation;
use super::udp::UdpConversation;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

/// One sample capture.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// Relative path with the real extension, e.g. `tcp/out_of_order.pcap`.
    pub path: &'static str,
    /// One line: the edge case it exercises.
    pub about: &'static str,
    /// The whole file.
    pub build: fn() -> Vec<u8>,
}

/// Scenario families, each a function listing its scenarios.
const GROUPS: &[fn() -> Vec<Scenario>] = &[
    tcp_edges::scenarios,
    links::scenarios,
    malformed::scenarios,
    flexlm::scenarios,
    citrix::scenarios,
    scans::scenarios,
];

/// Families whose captures are checked with settings (a `NAME.toml` beside `NAME.pcap`).
const SETTINGS: &[fn() -> Vec<CaptureSettings>] = &[flexlm::settings];

/// Families listed with `tcp_captures!`.
const SCRIPTED: &[fn() -> Vec<Scripted>] = &[
    tcp_edges::captures,
    links::captures,
    flexlm::captures,
    citrix::captures,
    scans::captures,
];

/// A scripted scenario: its path and its capture, unbuilt.
pub type Scripted = (&'static str, TcpCapture);

/// Every scenario, in a stable order.
pub fn scenarios() -> Vec<Scenario> {
    GROUPS.iter().flat_map(|group| group()).collect()
}

/// The settings one capture is checked with: `ctxscope check` reads `NAME.toml` beside
/// `NAME.pcap` (the config file's format). Written by the generator with the captures, so
/// that regenerating `captures/` reproduces them too.
#[derive(Clone, Copy, Debug)]
pub struct CaptureSettings {
    /// The capture's path, as in [`Scenario::path`].
    pub capture: &'static str,
    /// The whole TOML file.
    pub toml: &'static str,
}

impl CaptureSettings {
    /// Where the file goes: the capture's path with the extension `toml`.
    pub fn path(&self) -> PathBuf {
        Path::new(self.capture).with_extension("toml")
    }
}

/// Every settings file, in a stable order.
pub fn settings() -> Vec<CaptureSettings> {
    SETTINGS.iter().flat_map(|group| group()).collect()
}

/// The scenarios made of scripted TCP conversations, unbuilt: tests compare what tshark
/// reassembles with [`TcpConversation::sent`].
pub fn scripted() -> Vec<Scripted> {
    SCRIPTED.iter().flat_map(|group| group()).collect()
}

/// Writes every scenario and settings file under `dir` (creating folders); returns the paths
/// written.
pub fn write_all(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let captures = scenarios()
        .into_iter()
        .map(|s| (PathBuf::from(s.path), (s.build)()));
    let settings = settings()
        .into_iter()
        .map(|s| (s.path(), s.toml.as_bytes().to_vec()));
    for (relative, bytes) in captures.chain(settings) {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// File format of a [`TcpCapture`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Pcap {
        resolution: TsResolution,
        snaplen: u32,
    },
    /// One interface per link type, in order of first use.
    Pcapng { resolution: TsResolution },
}

/// Conversations (and optional loose frames) merged by time into one file.
pub struct TcpCapture {
    pub format: FileFormat,
    /// In order of their first packet: conversation k is tshark's `tcp.stream` k.
    pub conversations: Vec<TcpConversation>,
    /// UDP flows beside the TCP conversations (EDT).
    pub udp: Vec<UdpConversation>,
    /// Frames that belong to no conversation (garbage, noise), in time order.
    pub extra: Vec<Frame>,
}

impl TcpCapture {
    /// A classic pcap file, microseconds, no snapshot limit.
    pub fn pcap(conversations: Vec<TcpConversation>) -> TcpCapture {
        TcpCapture {
            format: FileFormat::Pcap {
                resolution: TsResolution::Micro,
                snaplen: MAX_SNAPLEN,
            },
            conversations,
            udp: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// The same capture with `udp` flows beside its TCP conversations.
    pub fn with_udp(mut self, udp: Vec<UdpConversation>) -> TcpCapture {
        self.udp = udp;
        self
    }

    pub fn pcapng(resolution: TsResolution, conversations: Vec<TcpConversation>) -> TcpCapture {
        TcpCapture {
            format: FileFormat::Pcapng { resolution },
            conversations,
            udp: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// The file; an error if a conversation's link type does not fit a classic pcap file's.
    pub fn to_bytes(self) -> io::Result<Vec<u8>> {
        let mut links: Vec<LinkType> = Vec::new();
        let all_links = self
            .conversations
            .iter()
            .map(TcpConversation::link_type)
            .chain(self.udp.iter().map(UdpConversation::link_type));
        for link in all_links.chain(self.extra.iter().map(|f| f.link)) {
            if !links.contains(&link) {
                links.push(link);
            }
        }
        let mut mixer = Mixer::new();
        for conversation in self.conversations {
            mixer.add(conversation.packets());
        }
        for flow in self.udp {
            mixer.add(flow.datagrams());
        }
        mixer.add(self.extra);
        match self.format {
            FileFormat::Pcap {
                resolution,
                snaplen,
            } => {
                let link = links.first().copied().unwrap_or(LinkType::ETHERNET);
                let mut writer = PcapWriter::new(Vec::new(), link, snaplen, resolution)?;
                mixer.write_to(&mut writer)?;
                writer.into_inner()
            }
            FileFormat::Pcapng { resolution } => {
                let mut writer = PcapngWriter::new(Vec::new())?;
                for link in links {
                    writer.add_interface(Interface::new(link, resolution))?;
                }
                mixer.write_to(&mut writer)?;
                writer.into_inner()
            }
        }
    }
}

/// Builds a scenario's file. A failure here is a mistake in a scenario definition, which
/// the tests (every scenario is built) catch, so it is a panic rather than a file.
pub(crate) fn build(capture: TcpCapture) -> Vec<u8> {
    capture
        .to_bytes()
        .unwrap_or_else(|e| panic!("scenario definition cannot be written: {e}"))
}

// Shared by the scenario families: a thin client talking ICA to a XenApp server.

pub(crate) const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 20, 31);
pub(crate) const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 10, 5);
pub(crate) const ICA_PORT: u16 = 1494;

/// A conversation from the client's `client_port` to the server's ICA port, with an MSS
/// small enough that a couple of kilobytes make several segments. The port doubles as seed.
pub(crate) fn ica_conversation(client_port: u16) -> TcpConversation {
    TcpConversation::v4(
        SocketAddrV4::new(CLIENT_IP, client_port),
        SocketAddrV4::new(SERVER_IP, ICA_PORT),
    )
    .seed(u64::from(client_port))
    .mss(536)
}

/// The thin client of the edge-case captures.
const EDGE_CLIENT: Client<'static> = Client {
    name: "THINCLIENT07",
    build: 2410,
    application: "Desktop",
    logon: None,
};

/// The opening of an unencrypted ICA stream: detect exchange (server first) and init phase.
pub(crate) fn ica_open(conversation: TcpConversation) -> TcpConversation {
    ica::on_tcp(
        conversation,
        IcaSession::open(&EDGE_CLIENT, Protection::Clear, 1).take(),
    )
}

/// Framed ICA data (after [`ica_open`]) totalling at least `len` bytes, deterministic from
/// `seed`.
pub(crate) fn ica_bytes(seed: u64, len: usize) -> Vec<u8> {
    ica::clear_frames(seed, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_relative_and_have_capture_extensions() {
        let all = scenarios();
        let mut paths: Vec<_> = all.iter().map(|s| s.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), all.len(), "duplicate scenario path");
        for s in &all {
            assert!(
                !s.path.starts_with('/') && !s.path.contains(".."),
                "{}",
                s.path
            );
            assert!(
                s.path.ends_with(".pcap") || s.path.ends_with(".pcapng"),
                "{}",
                s.path
            );
            assert!(!s.about.is_empty());
        }
    }

    #[test]
    fn scripted_captures_are_registered_scenarios_in_the_right_format() {
        let registered: Vec<_> = scenarios().iter().map(|s| s.path).collect();
        for (path, capture) in scripted() {
            assert!(registered.contains(&path), "{path}");
            let is_ng = matches!(capture.format, FileFormat::Pcapng { .. });
            assert_eq!(is_ng, path.ends_with(".pcapng"), "{path}");
            let starts: Vec<_> = capture
                .conversations
                .iter()
                .map(|c| c.start_time())
                .collect();
            assert!(
                starts.is_sorted(),
                "{path}: conversations out of start order"
            );
        }
    }

    #[test]
    fn settings_belong_to_registered_captures() {
        // That each one loads as a config file is the analyzer's test (tests/synth_valid.rs).
        let registered: Vec<_> = scenarios().iter().map(|s| s.path).collect();
        for s in settings() {
            assert!(registered.contains(&s.capture), "{}", s.capture);
        }
    }

    #[test]
    fn ica_bytes_are_whole_frames() {
        let bytes = ica_bytes(3, 1000);
        assert!(bytes.len() >= 1000);
        let mut at = 0;
        while at < bytes.len() {
            at += 2 + usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
        }
        assert_eq!(at, bytes.len());
    }

    #[test]
    fn a_pcap_with_two_link_types_is_refused() {
        let a = ica_conversation(1).handshake();
        let b = ica_conversation(2)
            .link(super::super::link::Link::RawIp)
            .handshake();
        assert!(TcpCapture::pcap(vec![a, b]).to_bytes().is_err());
    }
}
