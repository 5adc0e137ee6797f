//! The IMA section: connections labelled IMA by their port (no public wire layout exists), with
//! their volume, their request/answer rhythm and the first bytes of each direction, kept so that
//! a later version can learn the framing. The first bytes are shown cut to fit the line; the
//! JSON report has all that was recorded.

use crate::model::Report;
use crate::output::table::Column::{Left, Right};
use crate::output::table::Table;
use crate::output::units::{bytes, duration};
use ctxscope_dissectors::{Body, Dir, Proto, Summary, ima};
use std::io::{self, Write};

/// Bytes of each direction's start shown (as hex: two characters each).
const SHOWN_BYTES: usize = 40;

pub(super) fn section(r: &Report, out: &mut impl Write) -> io::Result<()> {
    let flows = super::labelled(r, Proto::IMA, |s| match s {
        Summary::Ima(s) => Some(s.as_ref()),
        _ => None,
    });
    if flows.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nIMA (labelled by port: no public wire layout)")?;
    let mut t = Table::new(&[
        Right("FLOW"),
        Left("CLIENT"),
        Left("SERVER"),
        Right("BYTES C>S"),
        Right("BYTES S>C"),
        Right("EXCHANGES"),
        Right("LONGEST IDLE"),
        Left("LAST EXCHANGE"),
    ]);
    for (f, s) in &flows {
        t.row(vec![
            f.id.to_string(),
            f.client.to_string(),
            f.server.to_string(),
            bytes(s.bytes[Dir::ToServer.index()]),
            bytes(s.bytes[Dir::ToClient.index()]),
            s.exchanges.to_string(),
            duration(s.longest_idle_ms as f64 / 1000.0),
            s.last_exchange.map_or("-".into(), |t| t.to_string()),
        ]);
    }
    t.write(out, "  ")?;
    writeln!(
        out,
        "  First bytes (hex, at most {SHOWN_BYTES} of each direction; --format json has all recorded):"
    )?;
    let mut t = Table::new(&[Right("FLOW"), Left("DIR"), Right("LEN"), Left("BYTES")]);
    for (f, _) in &flows {
        for e in &f.events {
            let Body::Ima(ima::Event::FirstBytes {
                len,
                hex,
                stream_start,
            }) = &e.body
            else {
                continue;
            };
            let dir = match e.dir {
                Some(Dir::ToServer) => "c>s",
                Some(Dir::ToClient) => "s>c",
                None => "-",
            };
            let shown = hex.get(..SHOWN_BYTES * 2).unwrap_or(hex);
            let mut cell = shown.to_string();
            if shown.len() < hex.len() {
                cell.push_str("...");
            }
            if !stream_start {
                cell.push_str(" (not the stream's start)");
            }
            t.row(vec![
                f.id.to_string(),
                dir.to_string(),
                len.to_string(),
                cell,
            ]);
        }
    }
    t.write(out, "  ")
}
