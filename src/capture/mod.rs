//! Packet sources: capture files (pcap, pcapng) and live interfaces, through one code path.
//!
//! libpcap opens both; a `Source` hands out one packet at a time with its timestamp, the bytes
//! captured and the length it had on the wire. Live capture can save every packet it sees to a
//! file (`--write`), and reports the kernel's drop counters.

use crate::decode::LinkType;
use crate::model::KernelStats;
use ctxscope_dissectors::Timestamp;
use pcap::{Active, Capture, Offline, Precision};
use std::fmt;
use std::path::{Path, PathBuf};

pub mod ahead;
pub(crate) mod pcapng;

pub use pcapng::MAX_INTERFACES as MAX_PCAPNG_INTERFACES;

/// One captured packet, borrowed from the source until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    /// The link layer the packet starts with (pcapng interfaces can differ).
    pub link: LinkType,
    pub data: &'a [u8],
    /// Length on the wire; larger than `data.len()` when the snaplen cut the packet.
    pub wire_len: u32,
}

/// What the source produced.
pub enum Next<'a> {
    Packet(Packet<'a>),
    /// Live capture: no packet within the read timeout (lets the caller check for a stop).
    Idle,
    /// A packet on an interface whose link type ctxscope cannot decode (pcapng): counted.
    UnsupportedLink(i32),
    /// A record the file has but ctxscope could not use; reading goes on after it.
    Skipped(Skipped),
    /// End of the file.
    End,
}

/// A record skipped by a file source (pcapng), for the engine to count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// A packet record that is corrupt, or names an interface that cannot be used; says what
    /// it has ("a corrupt pcapng packet block").
    MalformedPacket(&'static str),
    /// An interface description beyond the cap on interfaces per pcapng section.
    InterfaceOverCap,
}

/// Settings for a live capture.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub interface: String,
    pub filter: Option<String>,
    pub snaplen: i32,
    pub promiscuous: bool,
    /// Deliver packets as they arrive instead of when the kernel buffer fills.
    pub immediate: bool,
    /// Kernel buffer size in bytes.
    pub buffer_size: i32,
}

impl Default for LiveOptions {
    fn default() -> LiveOptions {
        LiveOptions {
            interface: String::new(),
            filter: None,
            snaplen: 262_144,
            promiscuous: true,
            // Not immediate mode by default: with it libpcap uses TPACKET_V2, a ring of fixed
            // frames of min(snaplen, MTU) bytes, only ~256 of them in 16 MiB on lo (64 KiB
            // MTU): replayed on lo the TUI dropped packets from 10 kpps. Without it (TPACKET_V3,
            // packets packed into blocks) it dropped none at 186 kpps. Packets then come when
            // a block fills or after the read timeout (200 ms).
            immediate: false,
            buffer_size: 16 << 20,
        }
    }
}

#[derive(Debug)]
pub enum CaptureError {
    /// The file or interface could not be opened; the message says why and what to do.
    Open(String),
    /// A link type ctxscope cannot decode.
    UnsupportedLink { source: String, dlt: i32 },
    /// Reading failed part way (e.g. a file cut short); the packets before it were delivered.
    Read(String),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Open(m) | CaptureError::Read(m) => f.write_str(m),
            CaptureError::UnsupportedLink { source, dlt } => write!(
                f,
                "{source}: link type {dlt} is not supported (supported: Ethernet, Linux SLL/SLL2, raw IP, loopback)"
            ),
        }
    }
}

impl std::error::Error for CaptureError {}

enum Handle {
    File(Capture<Offline>),
    PcapNg(pcapng::PcapNgFile),
    Live(Capture<Active>),
}

pub struct Source {
    handle: Handle,
    /// The link type of every packet; `None` for pcapng, where each interface has its own.
    link: Option<LinkType>,
    name: String,
    savefile: Option<pcap::Savefile>,
    file_size: Option<u64>,
    /// Approximate bytes of the file consumed so far (record headers + captured bytes).
    consumed: u64,
    /// The kernel's counters of a live capture, made 64-bit.
    kernel: KernelCounters,
}

/// libpcap's kernel counters are 32-bit (`struct pcap_stat`) and wrap after 4.3 G packets,
/// about 72 minutes at 1 M packets/s; a sensor runs for weeks. Each reading adds what every
/// counter moved since the last one, modulo 2^32, to 64-bit totals: right as long as fewer than
/// 2^32 packets pass between two readings (the live loop reads them at every tick).
#[derive(Debug, Default)]
struct KernelCounters {
    last: [u32; 3],
    total: [u64; 3],
}

impl KernelCounters {
    fn read(&mut self, now: [u32; 3]) -> [u64; 3] {
        for ((total, last), now) in self.total.iter_mut().zip(&mut self.last).zip(now) {
            *total += u64::from(now.wrapping_sub(*last));
            *last = now;
        }
        self.total
    }
}

/// Size of a classic pcap record header, for progress.
const RECORD_HEADER_LEN: u64 = 16;

/// First four bytes of a pcapng file (the section header block type).
pub(crate) const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

impl Source {
    /// Opens a capture file; `name` is how messages and reports refer to it.
    pub fn open_file(path: &Path, name: &str) -> Result<Source, CaptureError> {
        let name = name.to_string();
        let meta =
            std::fs::metadata(path).map_err(|e| CaptureError::Open(format!("{name}: {e}")))?;
        if meta.is_dir() {
            return Err(CaptureError::Open(format!(
                "{name}: is a directory, not a capture file"
            )));
        }
        if meta.len() == 0 {
            return Err(CaptureError::Open(format!(
                "{name}: empty file, not a pcap or pcapng capture"
            )));
        }
        let mut file =
            std::fs::File::open(path).map_err(|e| CaptureError::Open(format!("{name}: {e}")))?;
        let mut magic = [0u8; 4];
        let is_pcapng =
            std::io::Read::read_exact(&mut file, &mut magic).is_ok() && magic == PCAPNG_MAGIC;
        let (handle, link) = if is_pcapng {
            std::io::Seek::rewind(&mut file)
                .map_err(|e| CaptureError::Open(format!("{name}: {e}")))?;
            // Link types are per interface in pcapng.
            (Handle::PcapNg(pcapng::PcapNgFile::open(file, &name)?), None)
        } else {
            let cap = Capture::from_file_with_precision(path, Precision::Nano)
                .map_err(|e| CaptureError::Open(format!("{name}: {}", describe(&e))))?;
            let link = link_of(&name, cap.get_datalink().0)?;
            (Handle::File(cap), Some(link))
        };
        Ok(Source {
            handle,
            link,
            name,
            savefile: None,
            file_size: Some(meta.len()),
            consumed: 0,
            kernel: KernelCounters::default(),
        })
    }

    pub fn open_live(opts: &LiveOptions) -> Result<Source, CaptureError> {
        let name = opts.interface.clone();
        let open_err = |e: pcap::Error| CaptureError::Open(live_open_message(&name, &e));
        let inactive = Capture::from_device(name.as_str())
            .map_err(open_err)?
            .snaplen(opts.snaplen)
            .promisc(opts.promiscuous)
            .immediate_mode(opts.immediate)
            .buffer_size(opts.buffer_size)
            .precision(Precision::Nano)
            // With immediate mode the timeout only bounds how long a read waits when the link
            // is idle, so a stop request is noticed promptly.
            .timeout(200);
        let mut cap = inactive.open().map_err(open_err)?;
        if let Some(filter) = &opts.filter {
            cap.filter(filter, true).map_err(|e| {
                CaptureError::Open(format!(
                    "{name}: bad capture filter {filter:?}: {}",
                    describe(&e)
                ))
            })?;
        }
        let link = link_of(&name, cap.get_datalink().0)?;
        Ok(Source {
            handle: Handle::Live(cap),
            link: Some(link),
            name,
            savefile: None,
            file_size: None,
            consumed: 0,
            kernel: KernelCounters::default(),
        })
    }

    /// Saves every packet read from now on to `path` (pcap format, same link type).
    pub fn write_to(&mut self, path: &PathBuf) -> Result<(), CaptureError> {
        let saved = match &self.handle {
            Handle::File(c) => c.savefile(path),
            Handle::Live(c) => c.savefile(path),
            Handle::PcapNg(_) => {
                return Err(CaptureError::Open(
                    "--write copies live captures only".into(),
                ));
            }
        };
        let file = saved
            .map_err(|e| CaptureError::Open(format!("{}: {}", path.display(), describe(&e))))?;
        self.savefile = Some(file);
        Ok(())
    }

    /// The link type of a pcap file or interface; `None` for pcapng (per interface).
    pub fn link(&self) -> Option<LinkType> {
        self.link
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// (bytes consumed, file size) for progress display; `None` for live capture.
    pub fn progress(&self) -> Option<(u64, u64)> {
        let done = match &self.handle {
            Handle::PcapNg(f) => f.consumed(),
            _ => self.consumed,
        };
        self.file_size.map(|size| (done.min(size), size))
    }

    /// A handle another thread can use to make a blocked live read return (`None` for files).
    pub fn breaker(&mut self) -> Option<pcap::BreakLoop> {
        match &mut self.handle {
            Handle::Live(c) => Some(c.breakloop_handle()),
            _ => None,
        }
    }

    /// The kernel's counters so far, for a live capture.
    pub fn kernel_stats(&mut self) -> Option<KernelStats> {
        let Handle::Live(cap) = &mut self.handle else {
            return None;
        };
        let s = cap.stats().ok()?;
        let [received, dropped, if_dropped] =
            self.kernel.read([s.received, s.dropped, s.if_dropped]);
        Some(KernelStats {
            received,
            dropped,
            if_dropped,
            unread: 0,
        })
    }

    pub fn next_packet(&mut self) -> Result<Next<'_>, CaptureError> {
        let result = match &mut self.handle {
            Handle::File(c) => c.next_packet(),
            Handle::Live(c) => c.next_packet(),
            Handle::PcapNg(f) => return f.next_packet(),
        };
        match result {
            Ok(p) => {
                if let Some(file) = &mut self.savefile {
                    file.write(&p);
                }
                self.consumed += RECORD_HEADER_LEN + p.data.len() as u64;
                // With nanosecond precision libpcap puts nanoseconds in the microsecond field.
                let ts = Timestamp::from_parts(
                    p.header.ts.tv_sec,
                    u32::try_from(p.header.ts.tv_usec).unwrap_or(0),
                );
                // libpcap handles always have a link type (checked at open).
                let link = self.link.unwrap_or(LinkType::Ethernet);
                Ok(Next::Packet(Packet {
                    ts,
                    link,
                    data: p.data,
                    wire_len: p.header.len,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => Ok(Next::Idle),
            Err(pcap::Error::NoMorePackets) => Ok(Next::End),
            Err(e) => Err(CaptureError::Read(format!(
                "{}: {}",
                self.name,
                describe(&e)
            ))),
        }
    }

    /// Flushes the savefile, if any.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        match &mut self.savefile {
            Some(f) => f.flush().map_err(|e| {
                CaptureError::Read(format!("writing the capture copy: {}", describe(&e)))
            }),
            None => Ok(()),
        }
    }
}

/// Lists capture interfaces: (name, description).
pub fn interfaces() -> Result<Vec<(String, Option<String>)>, CaptureError> {
    let devices = pcap::Device::list().map_err(|e| CaptureError::Open(describe(&e)))?;
    Ok(devices.into_iter().map(|d| (d.name, d.desc)).collect())
}

fn link_of(source: &str, dlt: i32) -> Result<LinkType, CaptureError> {
    LinkType::from_dlt(dlt).ok_or_else(|| CaptureError::UnsupportedLink {
        source: source.to_string(),
        dlt,
    })
}

fn describe(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(m) => m.clone(),
        other => other.to_string(),
    }
}

fn live_open_message(iface: &str, e: &pcap::Error) -> String {
    let msg = describe(e);
    let lower = msg.to_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        format!(
            "{iface}: {msg}. Capturing needs root or the CAP_NET_RAW and CAP_NET_ADMIN \
             capabilities: run as root, or `sudo setcap cap_net_raw,cap_net_admin=eip $(command -v ctxscope)`"
        )
    } else if lower.contains("no such device") || lower.contains("doesn't exist") {
        format!("{iface}: {msg}. List the interfaces with `ctxscope interfaces`")
    } else {
        format!("{iface}: {msg}")
    }
}

#[cfg(test)]
mod tests {
    use super::KernelCounters;

    #[test]
    fn kernel_counters_go_on_past_libpcaps_32_bits() {
        let mut k = KernelCounters::default();
        assert_eq!(k.read([10, 0, 0]), [10, 0, 0]);
        assert_eq!(
            k.read([u32::MAX - 5, 3, 0]),
            [u64::from(u32::MAX) - 5, 3, 0]
        );
        // received wraps: 6 packets up to 2^32, then 20 more.
        assert_eq!(k.read([20, 3, 1]), [(1u64 << 32) + 20, 3, 1]);
        // Twice more round, each reading less than 2^32 after the last.
        assert_eq!(k.read([u32::MAX, 3, 1]), [(2u64 << 32) - 1, 3, 1]);
        assert_eq!(k.read([1, 3, 1]), [(2u64 << 32) + 1, 3, 1]);
    }
}
