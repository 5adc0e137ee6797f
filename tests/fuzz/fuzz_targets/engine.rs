//! The whole analysis of a capture: any pcap file (link decoding, IPv4 defragmentation, TCP
//! reassembly, classification, every dissector, the analysis) and the three report formats.
#![no_main]

use ctxscope::capture::Packet;
use ctxscope::config::Config;
use ctxscope::decode::LinkType;
use ctxscope::engine::Engine;
use ctxscope::output::{Format, write};
use ctxscope_dissectors::Timestamp;
use libfuzzer_sys::fuzz_target;
use pcap_parser::{LegacyPcapSlice, PcapBlockOwned};

fuzz_target!(|input: &[u8]| {
    let Ok(file) = LegacyPcapSlice::from_slice(input) else {
        return;
    };
    let Some(link) = LinkType::from_dlt(file.header.network.0) else {
        return;
    };
    let mut engine = Engine::new(Config::default());
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
    let report = engine.finish();
    for format in [Format::Text, Format::Json, Format::Ndjson] {
        let _ = write(&report, format, &mut std::io::sink());
    }
});
