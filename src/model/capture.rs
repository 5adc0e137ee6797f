//! What was read: per input, and packet-level totals over all of them.

use ctxscope_dissectors::Timestamp;
use serde::Serialize;

/// One input: a file or an interface.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceSummary {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<&'static str>,
    pub packets: u64,
    pub bytes: u64,
    /// Why reading stopped early (the file was cut short, ...). Packets before it were analysed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelStats>,
}

/// Kernel counters of a live capture (libpcap's `pcap_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KernelStats {
    pub received: u64,
    /// Dropped because the capture buffer was full: ctxscope did not keep up.
    pub dropped: u64,
    /// Dropped by the interface or its driver.
    pub if_dropped: u64,
    /// Received but never read, so not analysed: the packets still in the capture buffer
    /// after `--count`'s, or on `lo` the copies of outgoing packets (sent through the kernel's
    /// stack, as tcpreplay does), which the kernel counts and libpcap discards. received =
    /// analysed + dropped + unread at the end of a capture.
    pub unread: u64,
}

/// Packet-level totals over all inputs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CaptureStats {
    pub packets: u64,
    /// Bytes as on the wire.
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Timestamp>,
    pub tcp_packets: u64,
    pub udp_packets: u64,
    /// IP packets that are neither TCP nor UDP (ICMP, ESP, ...).
    pub other_ip_packets: u64,
    /// Frames that are not IP (ARP, LLDP, ...).
    pub non_ip_packets: u64,
    /// Packets the snaplen cut inside their headers (not decodable, not malformed).
    pub headers_cut: u64,
    /// TCP and UDP packets whose payload the snaplen cut (the missing bytes become gaps).
    pub payload_cut: u64,
    /// Frames with invalid or inconsistent headers.
    pub malformed: u64,
    /// Packets on pcapng interfaces with a link type ctxscope cannot decode.
    pub unsupported_link: u64,
    pub ipv4_fragments: DefragStats,
    pub ipv6_fragments: u64,
}

/// Counters of the IPv4 defragmenter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DefragStats {
    pub fragments: u64,
    pub datagrams_reassembled: u64,
    /// Datagrams given up incomplete after `timeouts.ip_fragment_secs`.
    pub datagrams_timed_out: u64,
    /// Datagrams given up because `limits.max_fragmented_datagrams` were in flight (the oldest
    /// goes).
    pub datagrams_evicted: u64,
    /// Fragments refused: beyond 64 KiB, too many pieces, or overlapping with other bytes.
    pub fragments_refused: u64,
}
