//! Every dissector fed an arbitrary script of reads, gaps and a close: the registry's, and the
//! DTLS dissector (each read one datagram).
//!
//! Input: a protocol byte, a flags byte (bit 0: the connection was seen from its SYN), then
//! steps of `[op][len][len bytes]`: op bit 0..1 = read to server, read to client, gap (of `len`
//! times 1,000 bytes), close; bits 2.. = seconds since the previous step.
#![no_main]

use ctxscope_dissectors::{Context, Dir, Dissector, Registry, Timestamp, tls};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let &[proto, flags, ref steps @ ..] = input else {
        return;
    };
    let mut steps: &[u8] = steps;
    let registry: Vec<_> = Registry::builtin().iter().collect();
    let context = Context {
        announced_vendor: (flags & 2 != 0).then(|| "CITRIX".to_string()),
        from_start: flags & 1 != 0,
    };
    let mut dissector: Box<dyn Dissector> =
        match registry.get(usize::from(proto) % (registry.len() + 1)) {
            Some(proto) => proto.dissector(&context),
            None => Box::new(tls::dtls::Dissector::new()),
        };
    let mut events = Vec::new();
    let mut ts = Timestamp::from_secs(1_800_000_000);
    while let &[op, len, ref rest @ ..] = steps {
        let len = usize::from(len);
        let (data, rest) = rest.split_at(len.min(rest.len()));
        steps = rest;
        ts = ts.plus(std::time::Duration::from_secs(u64::from(op >> 2)));
        match op & 3 {
            0 => dissector.feed(Dir::ToServer, data, ts, &mut events),
            1 => dissector.feed(Dir::ToClient, data, ts, &mut events),
            2 => {
                let dir = if len % 2 == 0 {
                    Dir::ToServer
                } else {
                    Dir::ToClient
                };
                dissector.gap(dir, len as u64 * 1_000, ts, &mut events);
            }
            _ => break,
        }
        // What the engine does with events: keep them, read the summary.
        let _ = dissector.summary();
        let _ = dissector.buffered();
        events.clear();
    }
    dissector.close(ts, &mut events);
    let _ = dissector.summary();
});
