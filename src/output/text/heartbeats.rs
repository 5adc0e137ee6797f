//! The heartbeats section: one row per long-lived flow with a beat series.

use super::name_of;
use crate::model::Report;
use crate::output::table::Table;
use crate::output::units::duration;
use std::io::{self, Write};

pub(super) fn section(r: &Report, out: &mut impl Write) -> io::Result<()> {
    if r.heartbeats.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nHeartbeats and keep-alives")?;
    let mut t = Table::new(&[
        "FLOW",
        "PROTO",
        "KIND",
        "CLIENT",
        "SERVER",
        "BEATS",
        "LAST",
        "MEDIAN",
        "JITTER",
        "LONGEST SILENCE",
        "STATE",
    ])
    .right(&["FLOW", "BEATS", "MEDIAN", "JITTER", "LONGEST SILENCE"]);
    for h in &r.heartbeats {
        let c = &h.stats;
        let state = match (h.open, c.overdue) {
            (true, true) => "OVERDUE",
            (true, false) => "ok",
            (false, _) => "closed",
        };
        t.row(vec![
            h.flow.to_string(),
            h.proto.map_or("-".into(), |p| p.name().to_string()),
            name_of(&c.kind),
            h.client.to_string(),
            h.server.to_string(),
            c.count.to_string(),
            c.last.map_or("-".into(), |t| t.to_string()),
            c.interval_median_secs.map_or("-".into(), duration),
            c.jitter_secs.map_or("-".into(), duration),
            duration(c.longest_silence_secs),
            state.to_string(),
        ]);
    }
    t.write(out, "  ")
}
