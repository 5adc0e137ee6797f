//! The heartbeats section: one row per long-lived flow with a beat series (the flows table has
//! the protocol and ports of each flow).

use crate::model::Report;
use crate::output::table::Table;
use crate::output::units::{duration, time_of_day};
use ctxscope_dissectors::Timestamp;
use std::io::{self, Write};

pub(super) fn section(r: &Report, out: &mut impl Write) -> io::Result<()> {
    if r.heartbeats.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nHeartbeats and keep-alives")?;
    let mut t = Table::new(&[
        "FLOW", "KIND", "SOURCE", "CLIENT", "SERVER", "BEATS", "LAST", "MEDIAN", "JITTER",
        "SILENCE", "STATE",
    ])
    .right(&["FLOW", "BEATS", "MEDIAN", "JITTER", "SILENCE"]);
    for h in &r.heartbeats {
        let c = &h.stats;
        // Since when an overdue series is quiet is in its licensing or session detail.
        t.row(vec![
            h.flow.to_string(),
            c.kind.label().to_string(),
            c.source.word().to_string(),
            h.client.ip.to_string(),
            h.server.to_string(),
            c.count.to_string(),
            c.last.map_or("-".into(), clock),
            c.interval_median_secs.map_or("-".into(), duration),
            c.jitter_secs.map_or("-".into(), duration),
            duration(c.longest_silence_secs),
            h.state().word().to_string(),
        ]);
    }
    t.write(out, "  ")?;
    writeln!(
        out,
        "  (SOURCE: decoded from the messages, or inferred from the timing of exchanges; SILENCE: the\n   longest time without traffic, up to the end of the capture or the close)"
    )
}

/// Time of day to the second: beats are minutes apart.
fn clock(ts: Timestamp) -> String {
    let mut text = time_of_day(ts);
    text.truncate("09:08:16".len());
    text
}
