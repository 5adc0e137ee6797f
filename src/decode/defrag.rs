//! IPv4 fragment reassembly, bounded.
//!
//! TCP over fragmented IPv4 is rare on a LAN but does occur (VPNs, odd MTUs). Fragments are kept
//! per datagram until the datagram is whole, for a limited time and up to a limited number of
//! datagrams in flight; anything past a cap is dropped and counted. Overlapping fragments keep
//! the bytes that arrived first (like the Linux stack since 2.6).

use crate::model::DefragStats;
use ctxscope_dissectors::Timestamp;
use etherparse::LaxIpv4Slice;
use rustc_hash::FxHashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// One IPv4 fragment as decoded from a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub id: u16,
    pub protocol: u8,
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: usize,
    pub more: bool,
    pub data: &'a [u8],
}

impl<'a> Fragment<'a> {
    pub(super) fn of(ip: &LaxIpv4Slice<'a>) -> Fragment<'a> {
        let h = ip.header();
        Fragment {
            src: h.source_addr(),
            dst: h.destination_addr(),
            id: h.identification(),
            protocol: h.protocol().0,
            offset: usize::from(h.fragments_offset().value()) * 8,
            more: h.more_fragments(),
            data: ip.payload().payload,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct DatagramKey {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    id: u16,
    protocol: u8,
}

struct Pending {
    first_seen: Timestamp,
    data: Vec<u8>,
    /// Received byte ranges [start, end), kept sorted and merged.
    have: Vec<(usize, usize)>,
    /// Datagram length, once the last fragment (MF = 0) arrived.
    total: Option<usize>,
}

const MAX_DATAGRAM: usize = 65_535;
const MAX_RANGES: usize = 64;

pub struct Defragmenter {
    pending: FxHashMap<DatagramKey, Pending>,
    max_in_flight: usize,
    timeout: Duration,
    stats: DefragStats,
}

impl Defragmenter {
    pub fn new(max_in_flight: usize, timeout: Duration) -> Defragmenter {
        Defragmenter {
            pending: FxHashMap::default(),
            max_in_flight,
            timeout,
            stats: DefragStats::default(),
        }
    }

    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Adds a fragment; returns the whole datagram payload when this fragment completed it.
    pub fn add(&mut self, ts: Timestamp, frag: &Fragment<'_>) -> Option<Vec<u8>> {
        self.stats.fragments += 1;
        let key = DatagramKey {
            src: frag.src,
            dst: frag.dst,
            id: frag.id,
            protocol: frag.protocol,
        };
        let end = frag.offset + frag.data.len();
        if end > MAX_DATAGRAM {
            self.stats.fragments_refused += 1;
            return None;
        }
        if !self.pending.contains_key(&key) && self.pending.len() >= self.max_in_flight {
            self.expire(ts);
            if self.pending.len() >= self.max_in_flight {
                self.evict_oldest();
            }
        }
        let p = self.pending.entry(key).or_insert_with(|| Pending {
            first_seen: ts,
            data: Vec::new(),
            have: Vec::new(),
            total: None,
        });
        if !p.insert(frag.offset, frag.data, frag.more) {
            self.stats.fragments_refused += 1;
            return None;
        }
        if !p.is_complete() {
            return None;
        }
        let done = self.pending.remove(&key)?;
        self.stats.datagrams_reassembled += 1;
        Some(done.data)
    }

    /// Drops datagrams that waited longer than the timeout.
    pub fn expire(&mut self, now: Timestamp) {
        let timeout = self.timeout;
        let before = self.pending.len();
        self.pending
            .retain(|_, p| now.since(p.first_seen) < timeout);
        self.stats.datagrams_timed_out += (before - self.pending.len()) as u64;
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.first_seen)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            self.pending.remove(&k);
            self.stats.datagrams_evicted += 1;
        }
    }
}

impl Pending {
    /// Stores a fragment's bytes where no bytes are yet (first arrival wins). Returns false when
    /// the fragment is refused.
    fn insert(&mut self, offset: usize, data: &[u8], more: bool) -> bool {
        let end = offset + data.len();
        if !more {
            if self.total.is_some_and(|t| t != end) || self.have.iter().any(|r| r.1 > end) {
                return false;
            }
            self.total = Some(end);
        } else if self.total.is_some_and(|t| end > t) {
            return false;
        }
        if self.have.len() >= MAX_RANGES {
            return false;
        }
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        // Fill only the parts of [offset, end) no earlier fragment covered.
        let mut cursor = offset;
        for &(s, e) in &self.have {
            if e <= cursor || s >= end {
                continue;
            }
            if s > cursor {
                self.data[cursor..s].copy_from_slice(&data[cursor - offset..s - offset]);
            }
            cursor = cursor.max(e);
        }
        if cursor < end {
            self.data[cursor..end].copy_from_slice(&data[cursor - offset..]);
        }
        self.have.push((offset, end));
        self.have.sort_unstable();
        self.have = merge(&self.have);
        true
    }

    fn is_complete(&self) -> bool {
        matches!((self.total, self.have.as_slice()), (Some(t), [(0, e)]) if *e == t)
    }
}

fn merge(ranges: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            id: 7,
            protocol: 6,
            offset,
            more,
            data,
        }
    }

    /// A defragmenter holding at most `cap` datagrams for 30 s, and when the fragments come.
    fn defragmenter(cap: usize) -> (Defragmenter, Timestamp) {
        (
            Defragmenter::new(cap, Duration::from_secs(30)),
            Timestamp::from_secs(1),
        )
    }

    #[test]
    fn fragments_in_any_order_make_the_datagram() {
        let (mut d, t) = defragmenter(4);
        assert_eq!(d.add(t, &frag(8, true, b"89abcdef")), None);
        assert_eq!(d.add(t, &frag(16, false, b"tail")), None);
        let whole = d.add(t, &frag(0, true, b"01234567"));
        assert_eq!(whole.as_deref(), Some(&b"0123456789abcdeftail"[..]));
        assert_eq!(d.stats().datagrams_reassembled, 1);
        assert_eq!(d.stats().fragments, 3);
        assert!(d.pending.is_empty());
    }

    #[test]
    fn overlapping_fragments_keep_the_first_bytes() {
        let (mut d, t) = defragmenter(4);
        assert_eq!(d.add(t, &frag(0, true, b"AAAAAAAA")), None);
        let whole = d.add(t, &frag(0, false, b"BBBBBBBBBBBBBBBB")).unwrap();
        assert_eq!(whole, b"AAAAAAAABBBBBBBB");
    }

    #[test]
    fn incomplete_datagrams_time_out_and_caps_hold() {
        let (mut d, t) = defragmenter(2);
        for id in 0..5u16 {
            let mut f = frag(0, true, b"xxxxxxxx");
            f.id = id;
            assert_eq!(d.add(t, &f), None);
        }
        assert_eq!(d.pending.len(), 2);
        assert_eq!(d.stats().datagrams_evicted, 3);
        d.expire(Timestamp::from_secs(40));
        assert_eq!(d.pending.len(), 0);
        assert_eq!(d.stats().datagrams_timed_out, 2);
        // A fragment reaching past 64 KiB is refused without allocating.
        assert_eq!(d.add(t, &frag(65_528, false, b"0123456789")), None);
        assert_eq!(d.stats().fragments_refused, 1);
    }

    #[test]
    fn a_last_fragment_shorter_than_received_data_is_refused() {
        let (mut d, t) = defragmenter(2);
        assert_eq!(d.add(t, &frag(8, true, b"xxxxxxxx")), None);
        assert_eq!(d.add(t, &frag(0, false, b"yyyy")), None);
        assert_eq!(d.stats().fragments_refused, 1);
    }
}
