//! The licensing section: a compact table with one row per client, license server and vendor
//! (what an admin scans first), then a short block per session with what the row leaves out:
//! who asked (user, client host, FlexNet versions), each lmgrd handshake and where it sent the
//! client, each vendor connection and how it went, and the features. The section is bounded:
//! at most [`MAX_DETAILED`] blocks of at most [`MAX_RECORDS`] handshakes and connections each;
//! the JSON outputs have everything.

use crate::model::{
    AnnouncedOutcome, AnnouncedPort, CadenceStats, Handshake, HandshakeOutcome, LicensingSession,
    Report, SeriesState, VendorConnection, name_of, port_class,
};
use crate::output::table::Table;
use crate::output::units::{duration, time_of_day};
use ctxscope_dissectors::WireText;
use std::io::{self, Write};

/// Sessions with a detail block; the table lists them all.
const MAX_DETAILED: usize = 20;
/// Handshakes, and vendor connections, listed per block.
const MAX_RECORDS: usize = 6;
/// Features listed per block.
const MAX_FEATURES: usize = 6;
/// Ports listed per table cell.
const MAX_PORTS: usize = 3;
/// Distinct users, hosts or versions listed per block.
const MAX_NAMES: usize = 3;
/// Characters of a wire string (user, host, feature) shown; the JSON outputs have them whole.
const MAX_TEXT: usize = 32;

pub(super) fn section(r: &Report, out: &mut impl Write) -> io::Result<()> {
    if r.licensing.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nLicensing (FlexLM)")?;
    let mut t = Table::new(&[
        "CLIENT",
        "SERVER",
        "VENDOR",
        "STATUS",
        "VENDOR PORTS",
        "LICENSES",
        "HEARTBEATS",
    ]);
    for s in &r.licensing {
        t.row(vec![
            s.client.to_string(),
            s.server.to_string(),
            s.vendor.as_ref().map_or("-".into(), clip),
            name_of(&s.status),
            vendor_ports(s),
            licenses(s),
            heartbeats(s),
        ]);
    }
    t.write(out, "  ")?;
    for s in r.licensing.iter().take(MAX_DETAILED) {
        writeln!(out)?;
        detail(s, out)?;
    }
    if r.licensing.len() > MAX_DETAILED {
        writeln!(
            out,
            "\n  ... and {} more sessions in the table above (all details are in --format json / ndjson)",
            r.licensing.len() - MAX_DETAILED
        )?;
    }
    Ok(())
}

/// "7279 static", "52011, 52233 dynamic", "7279 static, 52011 dynamic": every port announced
/// or connected to.
fn vendor_ports(s: &LicensingSession) -> String {
    let mut ports: Vec<(u16, bool)> = Vec::new();
    let announced = s
        .handshakes
        .iter()
        .filter_map(|h| h.announced.as_ref())
        .map(|a| (a.port, a.static_port));
    let connected = s.vendor_connections.iter().map(|v| (v.port, v.static_port));
    for p in announced.chain(connected) {
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    let group = |static_port: bool| {
        let of_kind: Vec<u16> = ports
            .iter()
            .filter(|p| p.1 == static_port)
            .map(|p| p.0)
            .collect();
        (!of_kind.is_empty())
            .then(|| format!("{} {}", list(&of_kind, MAX_PORTS), port_class(static_port)))
    };
    let parts: Vec<String> = [group(true), group(false)].into_iter().flatten().collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// "5 out, 0 in, 3 denied"
fn licenses(s: &LicensingSession) -> String {
    let counts = s.licenses();
    if counts.is_empty() {
        "-".into()
    } else {
        counts.to_string()
    }
}

/// "61 every 2m00s", "OVERDUE, 4 every 2m00s", "1 heartbeat", "-": the beats of all the
/// session's vendor connections, the interval of the latest connection that has one.
fn heartbeats(s: &LicensingSession) -> String {
    let text = match (s.beat_count(), s.beat_interval_secs()) {
        (0, _) => "-".to_string(),
        (1, _) => "1 heartbeat".to_string(),
        (n, Some(m)) => format!("{n} every {}", duration(m)),
        (n, None) => format!("{n} heartbeats"),
    };
    match s.beat_state() {
        Some(state @ SeriesState::Overdue) => format!("{}, {text}", state.word()),
        _ => text,
    }
}

/// The block of one session.
fn detail(s: &LicensingSession, out: &mut impl Write) -> io::Result<()> {
    let vendor = s.vendor.as_ref().map_or("-".into(), clip);
    let mut head = format!(
        "  {} > {} {vendor}: {}",
        s.client,
        s.server,
        name_of(&s.status)
    );
    let others: Vec<String> = s.problems.iter().skip(1).map(name_of).collect();
    if !others.is_empty() {
        head.push_str(&format!(" (also {})", others.join(", ")));
    }
    if let Some(notes) = s.notes_text() {
        head.push_str(&format!(", {notes}"));
    }
    if let Some(damage) = s.integrity_text() {
        head.push_str(&format!("; {damage}"));
    }
    writeln!(out, "{head}")?;
    if let Some(who) = client(s) {
        writeln!(out, "    client    {who}")?;
    }
    for (i, h) in s.handshakes.iter().take(MAX_RECORDS).enumerate() {
        let label = if i == 0 { "lmgrd" } else { "" };
        writeln!(out, "    {label:<9} {}", handshake(h))?;
    }
    more(out, s.handshakes.len(), "handshakes")?;
    for (i, v) in s.vendor_connections.iter().take(MAX_RECORDS).enumerate() {
        let label = if i == 0 { "vendor" } else { "" };
        writeln!(out, "    {label:<9} {}", connection(v))?;
        if let Some(c) = &v.heartbeats {
            writeln!(out, "              {}", cadence(c, v.is_overdue()))?;
        }
    }
    more(out, s.vendor_connections.len(), "vendor connections")?;
    if !s.features.is_empty() {
        writeln!(out, "    features  {}", features(s))?;
    }
    if s.dropped > 0 {
        writeln!(
            out,
            "    ({} records not kept: the per-session lists are full)",
            s.dropped
        )?;
    }
    Ok(())
}

fn more(out: &mut impl Write, total: usize, what: &str) -> io::Result<()> {
    if total > MAX_RECORDS {
        writeln!(
            out,
            "              ... and {} more {what}",
            total - MAX_RECORDS
        )?;
    }
    Ok(())
}

/// "SYSTEM on CTXAPP01, FlexNet 11.16; lmgrd 11.16.6.0": what the HELLOs and lmgrd said.
fn client(s: &LicensingSession) -> Option<String> {
    let mut who: Vec<String> = Vec::new();
    let mut client_versions: Vec<&str> = Vec::new();
    let mut lmgrd_versions: Vec<&str> = Vec::new();
    for h in &s.handshakes {
        let user = h.user.as_ref().map(clip);
        let host = h.client_host.as_ref().map(clip);
        let id = match (user, host) {
            (Some(u), Some(h)) => Some(format!("{u} on {h}")),
            (Some(one), None) | (None, Some(one)) => Some(one),
            (None, None) => None,
        };
        push_new(&mut who, id);
        push_new(&mut client_versions, h.client_version.as_deref());
        push_new(&mut lmgrd_versions, h.server_version.as_deref());
    }
    let mut parts = Vec::new();
    if !who.is_empty() {
        parts.push(list(&who, MAX_NAMES));
    }
    if !client_versions.is_empty() {
        parts.push(format!("FlexNet {}", list(&client_versions, MAX_NAMES)));
    }
    let mut text = parts.join(", ");
    if !lmgrd_versions.is_empty() {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(&format!("lmgrd {}", list(&lmgrd_versions, MAX_NAMES)));
    }
    (!text.is_empty()).then_some(text)
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, item: Option<T>) {
    if let Some(item) = item
        && !list.contains(&item)
    {
        list.push(item);
    }
}

/// "flow 1 09:00:00.000 :27000 redirected to ctxlic01:7279 (static), used by flow 2 (open)"
fn handshake(h: &Handshake) -> String {
    let what = match (h.outcome, &h.announced, &h.error) {
        (HandshakeOutcome::Redirected, Some(a), _) => redirect(a),
        (HandshakeOutcome::Error, _, Some(e)) => format!("error: {e}"),
        (HandshakeOutcome::NoRedirect, _, _) => {
            "no redirect: lmgrd did not name the vendor daemon's port".into()
        }
        (outcome, _, _) => name_of(&outcome),
    };
    format!(
        "flow {} {} :{} {what}",
        h.flow,
        time_of_day(h.at),
        h.lmgrd_port
    )
}

fn redirect(a: &AnnouncedPort) -> String {
    let mut text = format!(
        "redirected to {}:{} ({})",
        clip(&a.host),
        a.port,
        port_class(a.static_port)
    );
    match (a.connection, a.vendor_flow) {
        (AnnouncedOutcome::Used, Some(flow)) => {
            text.push_str(&format!(", used by flow {flow} ({})", name_of(&a.result())));
            if a.connections > 1 {
                text.push_str(&format!(", {} connections", a.connections));
            }
        }
        (AnnouncedOutcome::NotSeen, _) => text.push_str(", no connection to it was seen"),
        _ => text.push_str(&format!(", {}", name_of(&a.result()))),
    }
    text
}

/// "flow 2 09:00:00.087 :7279 open (static, announced by flow 1); 2 out, 0 in"
fn connection(v: &VendorConnection) -> String {
    let mut text = format!(
        "flow {} {} :{} {} ({}, {})",
        v.flow,
        time_of_day(v.started),
        v.port,
        name_of(&v.outcome),
        port_class(v.static_port),
        v.announcement()
    );
    let counts = v.licenses();
    if !counts.is_empty() {
        text.push_str(&format!("; {counts}"));
    }
    text
}

/// "heartbeats: 4 decoded every 2m00s ±332 ms, longest silence 12m41s; OVERDUE, silent since
/// 09:08:16.722" (± the jitter).
fn cadence(c: &CadenceStats, overdue: bool) -> String {
    let mut text = format!("heartbeats: {} {}", c.count, c.source.word());
    if let Some(m) = c.interval_median_secs {
        text.push_str(&format!(" every {}", duration(m)));
    }
    if let Some(j) = c.jitter_secs {
        text.push_str(&format!(" ±{}", duration(j)));
    }
    text.push_str(&format!(
        ", longest silence {}",
        duration(c.longest_silence_secs)
    ));
    if overdue {
        text.push_str(&format!("; {}", SeriesState::Overdue.word()));
        if let Some(since) = c.silent_since {
            text.push_str(&format!(", silent since {}", time_of_day(since)));
        }
    }
    text
}

/// "CITRIX 1 out, 0 in; XDT_ENT_UD 3 out, 1 in, 2 denied"
fn features(s: &LicensingSession) -> String {
    let shown: Vec<String> = s
        .features
        .iter()
        .map(|f| format!("{} {}", clip(&f.feature), f.licenses()))
        .collect();
    list_with(&shown, MAX_FEATURES, "; ")
}

/// `items` joined by ", ", at most `max` of them and then "+N".
fn list<T: ToString>(items: &[T], max: usize) -> String {
    let shown: Vec<String> = items.iter().map(ToString::to_string).collect();
    list_with(&shown, max, ", ")
}

fn list_with(items: &[String], max: usize, sep: &str) -> String {
    let mut text = items
        .iter()
        .take(max)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(sep);
    if items.len() > max {
        text.push_str(&format!("{sep}+{} more", items.len() - max));
    }
    text
}

/// A wire string cut to [`MAX_TEXT`] characters (it is already escaped, so plain ASCII).
fn clip(text: &WireText) -> String {
    let s = text.as_str();
    if s.chars().count() <= MAX_TEXT {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(MAX_TEXT - 3).collect();
    cut.push_str("...");
    cut
}
