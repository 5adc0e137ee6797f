//! The per-packet hot paths, from the frame to the dissector, and the whole engine.
//!
//! `cargo bench --bench hot_paths`. The inputs are made by the project's generator, in memory:
//! a slice of the benchmark farm (`ctxscope generate --farm`) and one ICA session. Compare the
//! numbers of one run with each other (fast decode against etherparse, in-order against
//! reordered reassembly); the machine is shared, absolute times move between runs.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ctxscope::capture::Packet;
use ctxscope::config::Config;
use ctxscope::decode::{self, LinkType};
use ctxscope::engine::Engine;
use ctxscope::reassembly::{Limits, Segment, TcpConn, TcpFlags};
use ctxscope_dissectors::{Context, Dir, Dissector, Timestamp, ica};
use ctxscope_generator::ica::{Beat, Client, IcaSession, Protection};
use ctxscope_generator::scenarios::citrix::write_load;
use ctxscope_generator::{Frame, FrameSink};
use std::hint::black_box;

/// Bytes of farm traffic the decode and engine benchmarks run over (about 26,000 packets).
const FARM_BYTES: u64 = 10 << 20;

/// Collects generated frames in memory.
#[derive(Default)]
struct Frames(Vec<Frame>);

impl FrameSink for Frames {
    fn write_frame(&mut self, frame: &Frame) -> std::io::Result<()> {
        self.0.push(frame.clone());
        Ok(())
    }
}

fn farm() -> Vec<Frame> {
    let mut frames = Frames::default();
    write_load(&mut frames, FARM_BYTES, 1).expect("in memory");
    frames.0
}

fn packet(frame: &Frame) -> Packet<'_> {
    Packet {
        ts: frame.ts,
        link: LinkType::Ethernet,
        data: &frame.data,
        wire_len: frame.orig_len,
    }
}

fn decoding(c: &mut Criterion) {
    let frames = farm();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("ctxscope", |b| {
        b.iter(|| {
            for f in &frames {
                let _ = black_box(decode::decode(LinkType::Ethernet, &f.data, false));
            }
        })
    });
    // The general decoder alone, for the ratio.
    g.bench_function("etherparse", |b| {
        b.iter(|| {
            for f in &frames {
                let _ = black_box(etherparse::SlicedPacket::from_ethernet(&f.data));
            }
        })
    });
    g.finish();
}

/// One direction's segments of `len` bytes each, as (sequence number, payload).
fn segments(count: u32, len: usize) -> (Vec<u8>, Vec<u32>) {
    let stream: Vec<u8> = (0..count as usize * len).map(|i| i as u8).collect();
    let seqs = (0..count).map(|i| 1_000 + i * len as u32).collect();
    (stream, seqs)
}

/// Feeds a handshake, then the segments in `order` (indices into `seqs`); returns the bytes
/// delivered.
fn reassemble(stream: &[u8], seqs: &[u32], len: usize, order: &[usize]) -> usize {
    let mut conn = TcpConn::new(Limits::default());
    let ts = Timestamp::from_secs(1_800_000_000);
    let mut delivered = 0;
    let mut count = |_: Dir, d: ctxscope::reassembly::Delivery<'_>| {
        if let ctxscope::reassembly::Delivery::Data(bytes) = d {
            delivered += bytes.len();
        }
    };
    let control = |seq, ack, flags| Segment {
        ts,
        seq,
        ack,
        flags,
        window: 64_000,
        payload: &[],
        truncated: 0,
    };
    conn.segment(Dir::ToServer, &control(999, 0, TcpFlags::SYN), &mut count);
    let syn_ack = TcpFlags(TcpFlags::SYN.0 | TcpFlags::ACK.0);
    conn.segment(Dir::ToClient, &control(5_000, 1_000, syn_ack), &mut count);
    conn.segment(
        Dir::ToServer,
        &control(1_000, 5_001, TcpFlags::ACK),
        &mut count,
    );
    for &i in order {
        let at = i * len;
        let seg = Segment {
            payload: &stream[at..at + len],
            ..control(seqs[i], 5_001, TcpFlags::ACK)
        };
        conn.segment(Dir::ToServer, &seg, &mut count);
    }
    delivered
}

fn reassembly(c: &mut Criterion) {
    const COUNT: u32 = 1_000;
    const LEN: usize = 1_460;
    let (stream, seqs) = segments(COUNT, LEN);
    let in_order: Vec<usize> = (0..COUNT as usize).collect();
    // Every pair swapped: half the segments wait in the out-of-order buffer.
    let swapped: Vec<usize> = (0..COUNT as usize).map(|i| i ^ 1).collect();
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Elements(u64::from(COUNT)));
    for (name, order) in [("in_order", &in_order), ("pairs_swapped", &swapped)] {
        assert_eq!(
            reassemble(&stream, &seqs, LEN, order),
            stream.len(),
            "{name}"
        );
        g.bench_function(name, |b| {
            b.iter(|| black_box(reassemble(&stream, &seqs, LEN, order)))
        });
    }
    g.finish();
}

/// The two directions of an ICA session with basic encryption: init phase, then screen
/// updates and typing.
fn ica_session() -> Vec<(Dir, Vec<u8>)> {
    let client = Client {
        name: "WKS-BENCH",
        build: 2410,
        application: "Desktop",
        logon: None,
    };
    IcaSession::open(&client, Protection::Basic(0x5a), 7)
        .licensing()
        .screen(400)
        .typing(400)
        .clipboard(4_000)
        .take()
        .into_iter()
        .filter_map(|beat| match beat {
            Beat::Write(dir, bytes) => Some((dir, bytes)),
            Beat::Pause(_) => None,
        })
        .collect()
}

fn ica_dissector(c: &mut Criterion) {
    let writes = ica_session();
    let bytes: usize = writes.iter().map(|(_, w)| w.len()).sum();
    let context = Context {
        announced_vendor: None,
        from_start: true,
    };
    let ts = Timestamp::from_secs(1_800_000_000);
    let mut g = c.benchmark_group("ica");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("basic_encryption", |b| {
        b.iter_batched_ref(
            || (ica::Dissector::new(&context), Vec::new()),
            |(dissector, events)| {
                for (dir, w) in &writes {
                    dissector.feed(*dir, w, ts, events);
                    events.clear();
                }
                black_box(dissector.summary())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn engine(c: &mut Criterion) {
    let frames = farm();
    let mut g = c.benchmark_group("engine");
    g.sample_size(20);
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("farm", |b| {
        b.iter(|| {
            let mut engine = Engine::new(Config::default());
            engine.begin_source("bench", Some(LinkType::Ethernet));
            for f in &frames {
                engine.packet(&packet(f));
            }
            black_box(engine.finish())
        })
    });
    g.finish();
}

criterion_group!(hot_paths, decoding, reassembly, ica_dissector, engine);
criterion_main!(hot_paths);
