//! The per-packet hot paths, from the frame to the dissector, and the whole engine.
//!
//! `cargo bench --bench hot_paths`. The inputs are made by the project's generator, in memory:
//! a slice of the benchmark farm (`ctxscope generate --farm`) and one ICA session; the reading
//! benchmarks write the slice to temporary pcap and pcapng files. Compare the
//! numbers of one run with each other (fast decode against etherparse, in-order against
//! reordered reassembly); the machine is shared, absolute times move between runs.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ctxscope::capture::{Next, Packet, Source};
use ctxscope::classify::FlowApp;
use ctxscope::config::Config;
use ctxscope::decode::{self, Decoded, LinkType};
use ctxscope::engine::Engine;
use ctxscope::flow::table::Timeouts;
use ctxscope::flow::{Arrival, FlowTable};
use ctxscope::ids::Endpoint;
use ctxscope::output::{self, Format};
use ctxscope::reassembly::{Limits, Segment, TcpConn, TcpFlags};
use ctxscope::run::windows::{PcapWindows, Record};
use ctxscope_dissectors::{Context, Dir, Dissector, Timestamp, Transport, ica};
use ctxscope_generator::ica::{Beat, Client, IcaSession, Protection};
use ctxscope_generator::pcapfile::{Interface, MAX_SNAPLEN};
use ctxscope_generator::scenarios::citrix::write_load;
use ctxscope_generator::{Frame, FrameSink, PcapWriter, PcapngWriter, TsResolution};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    // What the workers' reader looks at to pick a frame's worker.
    g.bench_function("route", |b| {
        b.iter(|| {
            for f in &frames {
                black_box(decode::route(LinkType::Ethernet, &f.data));
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

/// The farm's TCP segments as the flow table sees them.
fn arrivals(frames: &[Frame]) -> Vec<Arrival> {
    frames
        .iter()
        .filter_map(
            |f| match decode::decode(LinkType::Ethernet, &f.data, false) {
                Ok(Decoded::Tcp(tcp)) => Some(Arrival {
                    transport: Transport::Tcp,
                    src: Endpoint {
                        ip: tcp.src,
                        port: tcp.src_port,
                    },
                    dst: Endpoint {
                        ip: tcp.dst,
                        port: tcp.dst_port,
                    },
                    flags: TcpFlags::from_bits_retain(tcp.flags),
                    ts: f.ts,
                }),
                _ => None,
            },
        )
        .collect()
}

fn flow_lookup(c: &mut Criterion) {
    let arrivals = arrivals(&farm());
    let minute = Duration::from_secs(60);
    let table = || {
        let timeouts = Timeouts {
            idle: minute,
            handshake: minute,
            closed: minute,
            udp_idle: minute,
        };
        FlowTable::new(100_000, Limits::default(), timeouts)
    };
    let mut g = c.benchmark_group("flow_table");
    g.throughput(Throughput::Elements(arrivals.len() as u64));
    // Every packet of the slice: mostly flows already in the table, a few hundred new ones.
    g.bench_function("lookup", |b| {
        b.iter_batched_ref(
            table,
            |table| {
                for a in &arrivals {
                    let found = table.lookup(
                        a,
                        |port| port == 1494 || port == 2598,
                        |_, _| FlowApp::new(None, None, None),
                        &mut |_| {},
                    );
                    black_box(matches!(found, ctxscope::flow::Lookup::Found(..)));
                }
            },
            BatchSize::LargeInput,
        )
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
    let syn_ack = TcpFlags::SYN.union(TcpFlags::ACK);
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

/// The farm slice in a temporary capture file named `name`, written by `sink`'s writer.
fn farm_file<S: FrameSink>(
    frames: &[Frame],
    name: &str,
    sink: impl FnOnce(std::fs::File) -> std::io::Result<S>,
) -> PathBuf {
    let path = std::env::temp_dir().join(format!("ctxscope-bench-{}-{name}", std::process::id()));
    let mut sink = sink(std::fs::File::create(&path).expect("a temporary file")).expect("a header");
    for f in frames {
        sink.write_frame(f).expect("written");
    }
    path
}

/// Reading a capture file, packet by packet: the copying reader (libpcap for pcap, the pcapng
/// reader) against the workers' windows walked in place.
fn reading(c: &mut Criterion) {
    let frames = farm();
    let pcap = farm_file(&frames, "farm.pcap", |out| {
        PcapWriter::new(
            out,
            ctxscope_generator::LinkType::ETHERNET,
            MAX_SNAPLEN,
            TsResolution::Micro,
        )
    });
    let pcapng = farm_file(&frames, "farm.pcapng", |out| {
        let mut writer = PcapngWriter::new(out)?;
        writer.add_interface(Interface::new(
            ctxscope_generator::LinkType::ETHERNET,
            TsResolution::Micro,
        ))?;
        Ok(writer)
    });
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Elements(frames.len() as u64));
    for (format, path) in [("pcap", &pcap), ("pcapng", &pcapng)] {
        g.bench_function(format!("{format}/copying"), |b| b.iter(|| copying(path)));
        g.bench_function(format!("{format}/windows"), |b| b.iter(|| in_windows(path)));
    }
    g.finish();
    for path in [pcap, pcapng] {
        let _ = std::fs::remove_file(path);
    }
}

/// Every packet of `path` through the copying reader: the bytes seen.
fn copying(path: &Path) -> usize {
    let mut source = Source::open_file(path, "bench").expect("opens");
    let mut seen = 0;
    while let Ok(Next::Packet(p)) = source.next_packet() {
        seen += black_box(p.data).len();
    }
    seen
}

/// Every packet of `path` walked in windows: the bytes seen.
fn in_windows(path: &Path) -> usize {
    let link = Source::open_file(path, "bench").expect("opens").link();
    let mut windows = PcapWindows::open(path, link).expect("a plain layout");
    let mut seen = 0;
    loop {
        match windows.next_record() {
            Record::Packet { packet, .. } => seen += black_box(packet.data).len(),
            Record::Window => {}
            Record::End | Record::Irregular => return seen,
        }
    }
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

/// Writing the report of the farm slice: thousands of events, each with its timestamp.
fn report(c: &mut Criterion) {
    let mut engine = Engine::new(Config::default());
    engine.begin_source("bench", Some(LinkType::Ethernet));
    for f in &farm() {
        engine.packet(&packet(f));
    }
    let report = engine.finish();
    let mut g = c.benchmark_group("report");
    g.sample_size(20);
    for (name, format) in [("json", Format::Json), ("text", Format::Text)] {
        let mut bytes = Vec::new();
        output::write(&report, format, &mut bytes).expect("in memory");
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name, |b| {
            // As `ctxscope report` writes: through a trait object.
            let mut out: Box<dyn std::io::Write> = Box::new(std::io::sink());
            b.iter(|| output::write(&report, format, &mut out))
        });
    }
    g.finish();
}

criterion_group!(
    hot_paths,
    decoding,
    flow_lookup,
    reassembly,
    ica_dissector,
    reading,
    engine,
    report
);
criterion_main!(hot_paths);
