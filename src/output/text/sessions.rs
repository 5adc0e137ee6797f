//! The sessions section: one row per ICA or CGP session.

use super::name_of;
use crate::model::Report;
use crate::output::table::Table;
use std::io::{self, Write};

pub(super) fn section(r: &Report, out: &mut impl Write) -> io::Result<()> {
    if r.sessions.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nSessions (ICA / CGP)")?;
    let mut t = Table::new(&[
        "ID",
        "VIA",
        "CLIENT",
        "SERVER",
        "CLIENT NAME",
        "APPLICATION",
        "BUILD",
        "ENCRYPTION",
        "CHANNELS",
        "FRAMES C>S",
        "FRAMES S>C",
        "RECONNECTS",
        "STATE",
    ])
    .right(&[
        "ID",
        "BUILD",
        "CHANNELS",
        "FRAMES C>S",
        "FRAMES S>C",
        "RECONNECTS",
    ]);
    for s in &r.sessions {
        let encryption = match (&s.encryption, s.key_exchanged_in_clear) {
            (Some(e), true) => format!("{} (key in clear)", name_of(e)),
            (Some(e), false) => name_of(e),
            (None, _) => "-".into(),
        };
        let state = match (s.open, &s.ended_by) {
            (true, _) => "open".to_string(),
            (false, Some(end)) => name_of(end),
            (false, None) => "ended".to_string(),
        };
        t.row(vec![
            s.id.to_string(),
            s.transport.name().to_string(),
            s.client.to_string(),
            s.server.to_string(),
            s.client_name
                .as_ref()
                .map_or("-".into(), ToString::to_string),
            s.application
                .as_ref()
                .map_or("-".into(), ToString::to_string),
            s.client_build.map_or("-".into(), |b| b.to_string()),
            encryption,
            s.channels.len().to_string(),
            s.frames[0].to_string(),
            s.frames[1].to_string(),
            s.reconnects.to_string(),
            state,
        ]);
    }
    t.write(out, "  ")
}
