//! The fuzz targets' entry functions (`tests/fuzz`, cargo fuzz): each target is one call to a
//! function here, and `tests/fuzz_regressions.rs` replays the kept inputs through the same
//! functions in every `cargo test`. Not part of the analyzer's interface.
//!
//! Targets, by [`TARGETS`] name:
//! - `engine`: any pcap file through the whole analysis and the three report formats;
//! - `pcapng`: any pcapng file through the reader and the analysis;
//! - `packets`: a link type and frames with times, straight into [`Engine::packet`] (no file
//!   layer), then [`Engine::finish`] and the text report ([`input::Frame`]);
//! - `reassembly`: TCP segments of both directions into one [`TcpConn`]
//!   ([`input::WireSegment`]);
//! - `dissector-NAME`, one per protocol of [`Registry::builtin`]: its dissector fed two
//!   interleaved directions with gaps and a close ([`input::Step`]; a UDP protocol's data step
//!   is one datagram).
//!
//! The text report must never carry a raw ESC or BEL: strings from packets are sanitised.

pub mod input;
pub mod mutate;
pub mod seeds;

use crate::capture::{Packet, Source};
use crate::config::Config;
use crate::decode::LinkType;
use crate::engine::Engine;
use crate::model::Report;
use crate::output::{Format, write};
use crate::reassembly::{Delivery, Limits, Segment, TcpConn};
pub use ctxscope_dissectors::Proto;
use ctxscope_dissectors::{Context, Dir, Event, Registry, Timestamp};
use input::{Frame, Reader, START, Step, WireSegment};
use std::sync::OnceLock;
use std::time::Duration;

/// The link types a `packets` input can pick, by their DLT.
pub const LINKS: [i32; 6] = [1, 113, 276, 101, 0, 108];

/// The prefix of the per-protocol targets' names.
pub const DISSECTOR: &str = "dissector-";

/// The names of every target, the dissectors' from the registry.
pub fn targets() -> Vec<String> {
    let fixed = ["engine", "pcapng", "packets", "reassembly"].map(String::from);
    let registry = Registry::builtin();
    let dissectors = registry.iter().map(|p| format!("{DISSECTOR}{}", p.name()));
    fixed.into_iter().chain(dissectors).collect()
}

/// Runs the target named `target` on `input`; `false` if there is no such target.
pub fn run(target: &str, input: &[u8]) -> bool {
    match target {
        "engine" => pcap_file(input),
        "pcapng" => pcapng_file(input),
        "packets" => packets(input),
        "reassembly" => reassembly(input),
        _ => match target
            .strip_prefix(DISSECTOR)
            .and_then(|name| Registry::builtin().get(name))
        {
            Some(proto) => dissector(proto, input),
            None => return false,
        },
    }
    true
}

/// The protocol of the `dissector` fuzz target, named by `CTXSCOPE_FUZZ_PROTO`.
///
/// # Panics
/// When the variable does not name a protocol: the fuzz target cannot run without one.
pub fn proto_from_env() -> Proto {
    let registry = Registry::builtin();
    let name = std::env::var("CTXSCOPE_FUZZ_PROTO").unwrap_or_default();
    registry.get(&name).unwrap_or_else(|| {
        panic!(
            "set CTXSCOPE_FUZZ_PROTO to one of {}",
            registry.names().join(", ")
        )
    })
}

/// The default settings, or tight caps that a small input can hit (a few flows, small
/// reassembly stores, few events, findings and sessions).
fn config(tight: bool) -> Config {
    static CONFIGS: OnceLock<[Config; 2]> = OnceLock::new();
    let [default, small] = CONFIGS.get_or_init(|| {
        let tight = [
            "limits.max_flows=4",
            "limits.max_flow_records=8",
            "limits.max_events_per_flow=4",
            "limits.max_events_total=16",
            "limits.max_findings=8",
            "limits.max_announcements=2",
            "limits.reassembly_bytes_per_direction=4096",
            "limits.reassembly_segments_per_direction=8",
            "limits.unacked_bytes_per_direction=1024",
            "limits.reassembly_bytes_total=8192",
            "limits.max_fragmented_datagrams=2",
            "limits.max_sessions=2",
            "limits.max_scan_sources=2",
            "limits.max_edt_attempts=2",
        ]
        .map(String::from);
        let small = Config::load(None, &tight).unwrap_or_default();
        [Config::default(), small]
    });
    if tight { small } else { default }.clone()
}

/// Writes the text report, which must carry no raw ESC or BEL.
fn write_text(report: &Report) {
    let mut text = Vec::new();
    let _ = write(report, Format::Text, &mut text);
    if let Some(at) = text.iter().position(|b| matches!(b, 0x1b | 0x07)) {
        let from = at.saturating_sub(60);
        panic!(
            "a raw control character reached the text report: {:?}",
            String::from_utf8_lossy(&text[from..(at + 20).min(text.len())])
        );
    }
}

/// Writes the report in every format.
fn write_reports(report: &Report) {
    write_text(report);
    for format in [Format::Json, Format::Ndjson] {
        let _ = write(report, format, &mut std::io::sink());
    }
}

/// The `engine` target: a pcap file, parsed in memory; and the same file read as a file,
/// by libpcap and by the workers' reader, which must agree.
pub fn pcap_file(input: &[u8]) {
    use pcap_parser::{LegacyPcapSlice, PcapBlockOwned};
    let Ok(file) = LegacyPcapSlice::from_slice(input) else {
        return;
    };
    let Some(link) = LinkType::from_dlt(file.header.network.0) else {
        return;
    };
    let mut engine = Engine::new(config(false));
    engine.begin_source("fuzz", Some(link));
    for block in file {
        let Ok(PcapBlockOwned::Legacy(b)) = block else {
            break;
        };
        engine.packet(&Packet {
            ts: Timestamp::from_parts(i64::from(b.ts_sec), b.ts_usec.saturating_mul(1_000)),
            link,
            data: b.data,
            wire_len: b.origlen,
        });
    }
    write_reports(&engine.finish());
    read_both_ways(input, "pcap");
}

/// The `pcapng` target: the pcapng reader on a file, through the engine; and the same file
/// walked in place by the workers' reader, which must agree.
pub fn pcapng_file(input: &[u8]) {
    // Only pcapng goes to the Rust reader; pcap files go to libpcap.
    if input.starts_with(&crate::capture::PCAPNG_MAGIC) {
        read_both_ways(input, "pcapng");
    }
}

/// Writes `input` to a file and reads it with the copying reader (libpcap, or the pcapng
/// reader) into one engine, and with the workers' reader (walked in place as far as it goes)
/// into one worker: the reports must be the same, since one worker holds the whole caps and
/// only the reading could tell them apart. The reports are written as every target does.
fn read_both_ways(input: &[u8], extension: &str) {
    let path = std::env::temp_dir().join(format!(
        "ctxscope-fuzz-{}-{:?}.{extension}",
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&path, input).is_err() {
        return;
    }
    let mut engine = Engine::new(config(false));
    // Named as the workers name it.
    let name = path.display().to_string();
    let opened = Source::open_file(&path, &name).map(|mut source| {
        crate::run::read_source(&mut source, &mut engine, &mut ());
    });
    let one = engine.finish();
    let workers = crate::run::analyse_files(&config(false), std::slice::from_ref(&path), 1, false);
    let _ = std::fs::remove_file(&path);
    match workers {
        Ok(workers) => assert!(
            opened.is_ok() && json(&workers) == json(&one),
            "the workers' reader reads the file otherwise than the copying reader"
        ),
        Err(_) => assert!(opened.is_err(), "only the workers refused the file"),
    }
    write_reports(&one);
}

fn json(report: &Report) -> String {
    serde_json::to_string(report).unwrap_or_default()
}

/// The `packets` target: `[link u8]` and [`Frame`]s into the engine.
pub fn packets(input: &[u8]) {
    let mut r = Reader::new(input);
    let Some(head) = r.u8() else {
        return;
    };
    let dlt = LINKS[usize::from(head & 0x7f) % LINKS.len()];
    let Some(link) = LinkType::from_dlt(dlt) else {
        return;
    };
    let mut engine = Engine::new(config(head & 0x80 != 0));
    engine.begin_source("fuzz", Some(link));
    let mut ts = START;
    while let Some(frame) = Frame::read(&mut r) {
        ts = ts.plus(frame.delta);
        let captured = u32::try_from(frame.data.len()).unwrap_or(u32::MAX);
        engine.packet(&Packet {
            ts,
            link,
            data: frame.data,
            wire_len: captured.saturating_add(u32::from(frame.cut)),
        });
    }
    // The text report only: the JSON writers cost more than the rest of a run and take the
    // same model, which the `engine` and `pcapng` targets write in every format.
    write_text(&engine.finish());
}

/// Small per-direction caps, so that an input of a few segments reaches them.
const TIGHT: Limits = Limits {
    max_buffered_bytes: 2048,
    max_buffered_segments: 8,
    max_unacked_bytes: 512,
};

/// The `reassembly` target: `[options u8]` and [`WireSegment`]s into one connection. Checks
/// that the held bytes stay within the caps and that nothing empty is delivered.
pub fn reassembly(input: &[u8]) {
    let mut r = Reader::new(input);
    let Some(options) = r.u8() else {
        return;
    };
    let limits = if options & 1 != 0 {
        TIGHT
    } else {
        Limits::default()
    };
    let mut conn = TcpConn::new(limits);
    let mut ts = START;
    let mut check = |_: Dir, chunk: Delivery<'_>| match chunk {
        Delivery::Data(d) => assert!(!d.is_empty(), "empty data delivered"),
        Delivery::Gap(n) => assert!(n > 0, "empty gap delivered"),
    };
    while let Some(s) = WireSegment::read(&mut r) {
        ts = ts.plus(s.delta);
        let segment = Segment {
            ts,
            seq: s.seq,
            ack: s.ack,
            flags: s.flags,
            window: s.window,
            payload: s.payload,
            truncated: u32::from(s.truncated),
        };
        conn.segment(s.dir, &segment, &mut check);
        let most = limits.max_buffered_bytes + limits.max_unacked_bytes;
        assert!(
            conn.held_bytes() <= 2 * most,
            "{} bytes held, the caps allow {}",
            conn.held_bytes(),
            2 * most
        );
        if options & 2 != 0 && conn.held_bytes() > most {
            conn.shed(&mut check);
        }
    }
    let _ = (conn.state(), conn.history(), conn.handshake_rtt());
    conn.finish(&mut check);
    assert_eq!(conn.held_bytes(), 0, "bytes still held after finish");
}

/// A `dissector-NAME` target: `[options u8]` and [`Step`]s into `proto`'s dissector.
pub fn dissector(proto: Proto, input: &[u8]) {
    let mut r = Reader::new(input);
    let Some(options) = r.u8() else {
        return;
    };
    let context = Context {
        announced_vendor: (options & 2 != 0).then(|| "CITRIX".to_string()),
        from_start: options & 1 != 0,
    };
    let mut dissector = proto.dissector(&context);
    let mut events: Vec<Event> = Vec::new();
    let mut ts = START;
    while let Some((step, secs)) = Step::read(&mut r) {
        ts = ts.plus(Duration::from_secs(secs));
        match step {
            Step::Data(dir, data) => dissector.feed(dir, data, ts, &mut events),
            Step::Gap(dir, len) => dissector.gap(dir, len, ts, &mut events),
            Step::Close => break,
        }
        // What the engine reads after each delivery; the summary, which costs more than most
        // steps (ICA's builds its tables), only when the input asks.
        let _ = (dissector.buffered(), dissector.proto());
        if options & 4 != 0 {
            let _ = dissector.summary();
        }
        events.clear();
    }
    dissector.close(ts, &mut events);
    let _ = (dissector.summary(), dissector.carry());
}
