//! Seeds for every fuzz target, taken from a capture: the file itself (`engine`, `pcapng`), its
//! frames (`packets`), each TCP connection's segments (`reassembly`) and each classified
//! connection's reassembled bytes, or datagrams, for its protocol's dissector (`dissector-NAME`).
//! `tests/fuzz/seeds.sh` writes them for the sample and real captures.

use super::input::{Frame, Step, WireSegment, Writer};
use super::{DISSECTOR, LINKS};
use crate::capture::{Next, Source};
use crate::config::Config;
use crate::decode::{self, Decoded, LinkType};
use crate::engine::Engine;
use crate::ids::Endpoint;
use crate::model::FlowRecord;
use crate::reassembly::{Delivery, Segment, TcpConn, TcpFlags};
use anyhow::{Context as _, Result};
use ctxscope_dissectors::{Dir, Timestamp, Transport};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A seed's size at most: libFuzzer's inputs stay small, so that executions stay fast.
const MAX_SEED: usize = 48 << 10;
/// A `packets` seed's size at most (`tests/fuzz/run.sh` gives the target the same `-max_len`):
/// each input runs a whole engine, so a few dozen frames per input keep it fast.
const MAX_PACKETS_SEED: usize = 8 << 10;
/// Frames per `packets` seed, and `packets` seeds per capture, at most.
const FRAMES_PER_SEED: usize = 64;
const PACKET_SEEDS: usize = 4;
/// Connections per capture for `reassembly`, and per protocol for its dissector, at most.
const CONNECTIONS: usize = 8;
const PER_PROTOCOL: usize = 4;
/// Packets read from one capture at most.
const MAX_PACKETS: usize = 50_000;

/// One seed: the target it is for and its bytes.
pub type Seed = (String, Vec<u8>);

struct OwnedPacket {
    ts: Timestamp,
    link: LinkType,
    data: Vec<u8>,
    wire_len: u32,
}

/// Every seed `path` gives.
pub fn from_capture(path: &Path) -> Result<Vec<Seed>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut seeds = Vec::new();
    if bytes.len() <= MAX_SEED * 8 {
        let target = if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
            "pcapng"
        } else {
            "engine"
        };
        seeds.push((target.to_string(), bytes));
    }
    let packets = read(path)?;
    seeds.extend(frames(&packets));
    let records = classify(&packets);
    let flows = by_flow(&packets, &records);
    let mut per_proto: BTreeMap<String, usize> = BTreeMap::new();
    for (n, flow) in flows.iter().enumerate() {
        if flow.record.transport == Transport::Tcp && n < CONNECTIONS {
            seeds.push(("reassembly".into(), reassembly(flow)));
        }
        let Some(proto) = flow.record.proto else {
            continue;
        };
        let target = format!("{DISSECTOR}{}", proto.name());
        let count = per_proto.entry(target.clone()).or_default();
        if *count < PER_PROTOCOL {
            *count += 1;
            seeds.push((target, dissector(flow)));
        }
    }
    seeds.retain(|(_, bytes)| bytes.len() > 1);
    Ok(seeds)
}

fn read(path: &Path) -> Result<Vec<OwnedPacket>> {
    let mut source = Source::open_file(path, "seed").map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut packets = Vec::new();
    while packets.len() < MAX_PACKETS {
        match source.next_packet() {
            Ok(Next::Packet(p)) => packets.push(OwnedPacket {
                ts: p.ts,
                link: p.link,
                data: p.data.to_vec(),
                wire_len: p.wire_len,
            }),
            Ok(Next::End) | Err(_) => break,
            Ok(_) => {}
        }
    }
    Ok(packets)
}

/// `packets` seeds: runs of frames of one link type.
fn frames(packets: &[OwnedPacket]) -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut rest = packets;
    while let Some(first) = rest.first() {
        if seeds.len() == PACKET_SEEDS {
            break;
        }
        let link = LINKS
            .iter()
            .position(|&dlt| LinkType::from_dlt(dlt) == Some(first.link))
            .unwrap_or(0);
        let mut w = Writer::default();
        w.u8(u8::try_from(link).unwrap_or(0));
        let mut last = first.ts;
        let mut taken = 0;
        for p in rest.iter().take(FRAMES_PER_SEED) {
            if p.link != first.link || w.len() + p.data.len() > MAX_PACKETS_SEED {
                break;
            }
            let captured = u32::try_from(p.data.len()).unwrap_or(u32::MAX);
            let cut = u16::try_from(p.wire_len.saturating_sub(captured)).unwrap_or(u16::MAX);
            Frame {
                delta: p.ts.since(last),
                data: &p.data,
                cut,
            }
            .write(&mut w);
            last = p.ts;
            taken += 1;
        }
        rest = &rest[taken.max(1)..];
        seeds.push(("packets".to_string(), w.into_bytes()));
    }
    seeds
}

/// The connections of the capture as the analysis saw them.
fn classify(packets: &[OwnedPacket]) -> Vec<Arc<FlowRecord>> {
    let mut engine = Engine::new(Config::default());
    engine.begin_source("seed", packets.first().map(|p| p.link));
    for p in packets {
        engine.packet(&crate::capture::Packet {
            ts: p.ts,
            link: p.link,
            data: &p.data,
            wire_len: p.wire_len,
        });
    }
    engine.finish().flows
}

/// What a packet of one flow carried, in its direction.
enum Part<'a> {
    Tcp(Segment<'a>),
    Datagram(Timestamp, &'a [u8]),
}

struct FlowPackets<'a> {
    record: Arc<FlowRecord>,
    parts: Vec<(Dir, Part<'a>)>,
}

/// Each flow's packets, in capture order, with their direction.
fn by_flow<'a>(packets: &'a [OwnedPacket], records: &[Arc<FlowRecord>]) -> Vec<FlowPackets<'a>> {
    let mut flows: Vec<FlowPackets<'a>> = records
        .iter()
        .map(|r| FlowPackets {
            record: r.clone(),
            parts: Vec::new(),
        })
        .collect();
    for p in packets {
        let cut = u64::from(p.wire_len) > p.data.len() as u64;
        let (transport, src, dst, part) = match decode::decode(p.link, &p.data, cut) {
            Ok(Decoded::Tcp(t)) => (
                Transport::Tcp,
                Endpoint::new(t.src, t.src_port),
                Endpoint::new(t.dst, t.dst_port),
                Part::Tcp(Segment {
                    ts: p.ts,
                    seq: t.seq,
                    ack: t.ack,
                    flags: TcpFlags::from_bits_retain(t.flags),
                    window: t.window,
                    payload: t.payload,
                    truncated: t.truncated,
                }),
            ),
            Ok(Decoded::Udp(u)) => (
                Transport::Udp,
                Endpoint::new(u.src, u.src_port),
                Endpoint::new(u.dst, u.dst_port),
                Part::Datagram(p.ts, u.payload),
            ),
            _ => continue,
        };
        let found = flows.iter_mut().find_map(|f| {
            let r = &f.record;
            let within = r.first <= p.ts && p.ts <= r.last;
            let dir = if (r.client, r.server) == (src, dst) {
                Dir::ToServer
            } else if (r.client, r.server) == (dst, src) {
                Dir::ToClient
            } else {
                return None;
            };
            (r.transport == transport && within).then_some((f, dir))
        });
        if let Some((flow, dir)) = found {
            flow.parts.push((dir, part));
        }
    }
    flows.retain(|f| !f.parts.is_empty());
    flows
}

/// A `reassembly` seed: the connection's segments.
fn reassembly(flow: &FlowPackets<'_>) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(0);
    let mut last = None;
    for (dir, part) in &flow.parts {
        let Part::Tcp(s) = part else { continue };
        if w.len() + s.payload.len() > MAX_SEED {
            break;
        }
        WireSegment {
            dir: *dir,
            flags: s.flags,
            seq: s.seq,
            ack: s.ack,
            window: s.window,
            delta: last.map_or(Duration::ZERO, |at| s.ts.since(at)),
            truncated: u16::try_from(s.truncated).unwrap_or(u16::MAX),
            payload: s.payload,
        }
        .write(&mut w);
        last = Some(s.ts);
    }
    w.into_bytes()
}

/// A `dissector-NAME` seed: the connection's reassembled bytes (or datagrams), gaps and close.
fn dissector(flow: &FlowPackets<'_>) -> Vec<u8> {
    let mut steps: Vec<(Timestamp, Dir, Option<Vec<u8>>, u64)> = Vec::new();
    let mut conn = TcpConn::default();
    for (dir, part) in &flow.parts {
        match part {
            Part::Tcp(s) => {
                conn.segment(*dir, s, &mut |d, chunk| {
                    steps.push(step(s.ts, d, chunk));
                });
            }
            Part::Datagram(ts, payload) => steps.push((*ts, *dir, Some(payload.to_vec()), 0)),
        }
    }
    conn.finish(&mut |d, chunk| steps.push(step(flow.record.last, d, chunk)));
    let from_start = conn.saw_start(Dir::ToServer) || flow.record.transport == Transport::Udp;
    let mut w = Writer::default();
    w.u8(u8::from(from_start) | u8::from(flow.record.announced_by.is_some()) << 1);
    let mut last = flow.record.first;
    for (ts, dir, data, gap) in &steps {
        if w.len() > MAX_SEED {
            break;
        }
        let secs = ts.since(last).as_secs();
        last = last.max(*ts);
        match data {
            Some(data) => {
                for chunk in data.chunks(usize::from(u16::MAX)) {
                    Step::Data(*dir, chunk).write(secs, &mut w);
                }
            }
            None => Step::Gap(*dir, *gap).write(secs, &mut w),
        }
    }
    Step::Close.write(0, &mut w);
    w.into_bytes()
}

fn step(ts: Timestamp, dir: Dir, chunk: Delivery<'_>) -> (Timestamp, Dir, Option<Vec<u8>>, u64) {
    match chunk {
        Delivery::Data(d) => (ts, dir, Some(d.to_vec()), 0),
        Delivery::Gap(n) => (ts, dir, None, n),
    }
}
