//! The EDT section: UDP flows labelled EDT (HDX adaptive transport; both directions carried
//! datagrams), with what can be measured without a public layout: datagrams and sizes each way,
//! the longest silence, a keep-alive cadence, and DTLS when the datagrams are DTLS records.
//! Attempts nobody answered are not here: the findings name them.

use crate::model::{FlowRecord, Report};
use crate::output::facts::{keepalive, sizes};
use crate::output::table::Table;
use crate::output::units::{bytes, duration};
use ctxscope_dissectors::edt;
use ctxscope_dissectors::{Dir, Proto, Summary};
use std::io::{self, Write};

pub(super) fn section(r: &Report, out: &mut impl Write) -> io::Result<()> {
    let flows: Vec<(&FlowRecord, &edt::Summary)> = r
        .flows
        .iter()
        .filter(|f| f.proto == Some(Proto::EDT))
        .filter_map(|f| match &f.summary {
            Some(Summary::Edt(s)) => Some((f.as_ref(), s.as_ref())),
            _ => None,
        })
        .collect();
    if flows.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nEDT (HDX adaptive transport over UDP, labelled by port: no public layout)"
    )?;
    let mut t = Table::new(&[
        "FLOW",
        "CLIENT",
        "SERVER",
        "DATAGRAMS C>S/S>C",
        "BYTES C>S/S>C",
        "SIZES C>S",
        "SIZES S>C",
        "LONGEST SILENCE",
        "KEEP-ALIVE",
        "DTLS",
    ])
    .right(&[
        "FLOW",
        "DATAGRAMS C>S/S>C",
        "BYTES C>S/S>C",
        "LONGEST SILENCE",
    ]);
    let [c, s] = [Dir::ToServer.index(), Dir::ToClient.index()];
    for (f, e) in &flows {
        t.row(vec![
            f.id.to_string(),
            f.client.to_string(),
            f.server.to_string(),
            format!("{}/{}", e.datagrams[c], e.datagrams[s]),
            format!("{}/{}", bytes(e.bytes[c]), bytes(e.bytes[s])),
            sizes(&e.sizes[c]),
            sizes(&e.sizes[s]),
            duration(e.longest_silence_ms as f64 / 1000.0),
            keepalive(e.keepalive.as_ref()),
            e.dtls
                .as_ref()
                .and_then(edt::Dtls::version)
                .map_or("-".into(), |v| v.to_string()),
        ]);
    }
    t.write(out, "  ")?;
    writeln!(
        out,
        "  (SIZES: smallest-largest payload; KEEP-ALIVE: small datagrams after silences at a steady interval)"
    )
}
