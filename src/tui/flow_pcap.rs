//! `w`: the packets of one flow, copied from a capture file into a new pcap.
//!
//! Packets match by 5-tuple (either direction, the flow's transport) within the flow's
//! first..last time, so a later connection reusing the same ports is left out. IPv4 fragments of
//! that transport between the two hosts in that window are copied too: all but the first carry
//! no ports, and they may hold the flow's segments or datagrams.

use crate::decode::{self, Decoded, LinkType};
use crate::model::{Endpoint, FlowRecord};
use ctxscope_dissectors::{Timestamp, Transport};
use pcap::{Capture, Precision};
use std::net::IpAddr;
use std::path::Path;

/// Which packets belong to a flow.
#[derive(Clone, Copy, Debug)]
pub struct FlowMatch {
    pub transport: Transport,
    pub client: Endpoint,
    pub server: Endpoint,
    pub first: Timestamp,
    pub last: Timestamp,
}

impl FlowMatch {
    pub fn of(f: &FlowRecord) -> FlowMatch {
        FlowMatch {
            transport: f.transport,
            client: f.client,
            server: f.server,
            first: f.first,
            last: f.last,
        }
    }

    fn ends(&self, a: Endpoint, b: Endpoint) -> bool {
        (a == self.client && b == self.server) || (a == self.server && b == self.client)
    }

    fn hosts(&self, a: IpAddr, b: IpAddr) -> bool {
        let (c, s) = (self.client.ip, self.server.ip);
        (a == c && b == s) || (a == s && b == c)
    }

    fn belongs(&self, link: LinkType, ts: Timestamp, frame: &[u8]) -> bool {
        if ts < self.first || ts > self.last {
            return false;
        }
        // Lenient (as if cut): a damaged frame on the flow's endpoints still belongs to it.
        let ends = |src, src_port, dst, dst_port| {
            self.ends(
                Endpoint {
                    ip: src,
                    port: src_port,
                },
                Endpoint {
                    ip: dst,
                    port: dst_port,
                },
            )
        };
        let protocol = match self.transport {
            Transport::Tcp => 6,
            Transport::Udp => 17,
        };
        match (decode::decode(link, frame, true), self.transport) {
            (Ok(Decoded::Tcp(t)), Transport::Tcp) => ends(t.src, t.src_port, t.dst, t.dst_port),
            (Ok(Decoded::Udp(u)), Transport::Udp) => ends(u.src, u.src_port, u.dst, u.dst_port),
            (Ok(Decoded::Fragment(f)), _) => {
                f.protocol == protocol && self.hosts(f.src.into(), f.dst.into())
            }
            _ => false,
        }
    }
}

/// Copies the packets of `flow` from `input` to a new pcap at `out`; returns how many. A read
/// error part way (a file still being written, or cut short) ends the copy with what was
/// found so far.
pub fn write(input: &Path, flow: &FlowMatch, out: &Path) -> Result<u64, String> {
    let name = input.display();
    let mut cap = Capture::from_file_with_precision(input, Precision::Nano)
        .map_err(|e| format!("{name}: {e}"))?;
    let dlt = cap.get_datalink().0;
    let link = LinkType::from_dlt(dlt)
        .ok_or_else(|| format!("{name}: link type {dlt} is not supported"))?;
    let mut save = cap
        .savefile(out)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let mut n = 0u64;
    while let Ok(p) = cap.next_packet() {
        // With nanosecond precision libpcap puts nanoseconds in the microsecond field.
        let ts = Timestamp::from_parts(
            p.header.ts.tv_sec,
            u32::try_from(p.header.ts.tv_usec).unwrap_or(0),
        );
        if flow.belongs(link, ts, p.data) {
            save.write(&p);
            n += 1;
        }
    }
    save.flush()
        .map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(n)
}
