//! The licensing section: one row per client, license server and vendor.

use super::name_of;
use crate::analysis::cadence::CadenceStats;
use crate::analysis::licensing::LicensingSession;
use crate::model::Report;
use crate::output::table::Table;
use crate::output::units::duration;
use std::io::{self, Write};

pub(super) fn section(r: &Report, out: &mut impl Write) -> io::Result<()> {
    if r.licensing.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nLicensing (FlexLM)")?;
    let mut t = Table::new(&[
        "CLIENT",
        "LICENSE SERVER",
        "VENDOR",
        "STATUS",
        "LMGRD",
        "ANNOUNCED PORTS",
        "VENDOR CONNECTIONS",
        "CHECKOUTS",
        "CHECKINS",
        "HEARTBEATS",
    ])
    .right(&["CHECKOUTS", "CHECKINS"]);
    for s in &r.licensing {
        t.row(vec![
            s.client.to_string(),
            s.server.to_string(),
            s.vendor.as_ref().map_or("-".into(), ToString::to_string),
            name_of(&s.status),
            handshakes(s),
            announced_ports(s),
            vendor_connections(s),
            s.checkouts.to_string(),
            s.checkins.to_string(),
            s.vendor_connections
                .iter()
                .filter_map(|v| v.heartbeats.as_ref())
                .map(cadence)
                .collect::<Vec<_>>()
                .join("; "),
        ]);
    }
    t.write(out, "  ")
}

/// "2 redirected, 1 refused"
fn handshakes(s: &LicensingSession) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for h in &s.handshakes {
        let o = name_of(&h.outcome);
        match counts.iter_mut().find(|(n, _)| *n == o) {
            Some((_, c)) => *c += 1,
            None => counts.push((o, 1)),
        }
    }
    if counts.is_empty() {
        return "-".into();
    }
    counts
        .iter()
        .map(|(n, c)| format!("{c} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "7279 static connected; 52011 dynamic not_seen"
fn announced_ports(s: &LicensingSession) -> String {
    let ports: Vec<String> = s
        .handshakes
        .iter()
        .filter_map(|h| h.announced.as_ref())
        .map(|a| {
            format!(
                "{} {} {}",
                a.port,
                if a.static_port { "static" } else { "dynamic" },
                name_of(&a.connection)
            )
        })
        .collect();
    if ports.is_empty() {
        "-".into()
    } else {
        ports.join("; ")
    }
}

/// "flow 3 :7279 open"
fn vendor_connections(s: &LicensingSession) -> String {
    let conns: Vec<String> = s
        .vendor_connections
        .iter()
        .map(|v| format!("flow {} :{} {}", v.flow, v.port, name_of(&v.outcome)))
        .collect();
    if conns.is_empty() {
        "-".into()
    } else {
        conns.join("; ")
    }
}

/// "61 beats, median 121 s, jitter 0.8 s, OVERDUE"
fn cadence(c: &CadenceStats) -> String {
    let mut s = format!("{} beats", c.count);
    if let Some(m) = c.interval_median_secs {
        s.push_str(&format!(", median {}", duration(m)));
    }
    if let Some(j) = c.jitter_secs {
        s.push_str(&format!(", jitter {}", duration(j)));
    }
    if c.overdue {
        s.push_str(", OVERDUE");
    }
    s
}
