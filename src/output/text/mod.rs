//! The human-readable report: what an admin reads first. Only sections with content appear.

mod edt;
mod heartbeats;
mod ima;
mod licensing;
mod sessions;
mod tls;

use super::limits::{LimitHit, limit_hits};
use super::table::Column::{Left, Right};
use super::table::Table;
use super::units::{bytes, duration, round_trip};
use crate::model::{Finding, FlowRecord, Report, RttStats};
use ctxscope_dissectors::{Proto, Severity, Summary, Transport};
use std::io::{self, Write};

/// Flow rows shown before the table is cut (the JSON outputs have them all).
const MAX_FLOW_ROWS: usize = 100;
/// Findings shown per code; the rest are summed up on one line.
const FINDING_ROWS_PER_CODE: usize = 5;
/// Flow IDs listed on that line.
const FLOWS_LISTED: usize = 10;

pub fn write_text(report: &Report, out: &mut impl Write) -> io::Result<()> {
    header(report, out)?;
    sources(report, out)?;
    findings(report, out)?;
    licensing::section(report, out)?;
    sessions::section(report, out)?;
    tls::section(report, out)?;
    ima::section(report, out)?;
    edt::section(report, out)?;
    heartbeats::section(report, out)?;
    flows(report, out)?;
    totals(report, out)
}

/// The flows labelled `proto` with the summary `pick` finds in them: the rows of a protocol's
/// section.
fn labelled<'a, S>(
    r: &'a Report,
    proto: Proto,
    pick: impl Fn(&'a Summary) -> Option<&'a S>,
) -> Vec<(&'a FlowRecord, &'a S)> {
    r.flows
        .iter()
        .filter(|f| f.proto == Some(proto))
        .filter_map(|f| Some((f.as_ref(), pick(f.summary.as_ref()?)?)))
        .collect()
}

fn header(r: &Report, out: &mut impl Write) -> io::Result<()> {
    let c = &r.capture;
    write!(
        out,
        "ctxscope report: {} packets, {}",
        c.packets,
        bytes(c.bytes)
    )?;
    if let (Some(first), Some(last)) = (c.first, c.last) {
        write!(
            out,
            ", {first} to {last} ({})",
            duration(last.since(first).as_secs_f64())
        )?;
    }
    writeln!(out)?;
    let by = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
    writeln!(
        out,
        "{} flows, {} findings (high {}, medium {}, low {}, info {})",
        r.flows.len(),
        r.findings.len(),
        by(Severity::High),
        by(Severity::Medium),
        by(Severity::Low),
        by(Severity::Info)
    )
}

fn sources(r: &Report, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "\nSources")?;
    let mut t = Table::new(&[
        Left("SOURCE"),
        Left("LINK"),
        Right("PACKETS"),
        Right("BYTES"),
        Left("NOTE"),
    ]);
    for s in &r.sources {
        let mut note = s.error.clone().unwrap_or_default();
        if let Some(k) = &s.kernel {
            note = format!(
                "kernel: {} received, {} dropped, {} dropped by interface, {} unread {note}",
                k.received, k.dropped, k.if_dropped, k.unread
            );
        }
        t.row(vec![
            s.name.clone(),
            s.link.unwrap_or("-").to_string(),
            s.packets.to_string(),
            bytes(s.bytes),
            note,
        ]);
    }
    t.write(out, "  ")
}

fn findings(r: &Report, out: &mut impl Write) -> io::Result<()> {
    let columns = [
        Left("SEVERITY"),
        Left("CODE"),
        Left("FLOW"),
        Right("COUNT"),
        Left("MESSAGE"),
    ];
    let groups = findings_by_code(&r.findings);
    Table::section(out, "Findings", &columns, groups, |t, (code, group)| {
        for f in group.iter().take(FINDING_ROWS_PER_CODE) {
            let flow = match (f.flow, f.related_flow) {
                (Some(a), Some(b)) => format!("{a} (from {b})"),
                (Some(a), None) => a.to_string(),
                _ => "-".to_string(),
            };
            t.row(vec![
                f.severity.name().to_string(),
                f.code.to_string(),
                flow,
                f.count.to_string(),
                f.message.clone(),
            ]);
        }
        if let Some(rest) = group.get(FINDING_ROWS_PER_CODE..).filter(|r| !r.is_empty()) {
            t.note(more_findings(code, rest));
        }
    })?;
    Ok(())
}

/// Findings grouped by code, the most severe (then earliest) first, each group in the same
/// order. The codes are a fixed set, so the groups are few whatever the capture.
fn findings_by_code(findings: &[Finding]) -> Vec<(&'static str, Vec<&Finding>)> {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| (std::cmp::Reverse(f.severity), f.first));
    let mut groups: Vec<(&'static str, Vec<&Finding>)> = Vec::new();
    for f in sorted {
        match groups.iter_mut().find(|(code, _)| *code == f.code) {
            Some((_, group)) => group.push(f),
            None => groups.push((f.code, vec![f])),
        }
    }
    groups
}

/// "... and 3663 more ica.unencrypted (flows 12, 13, 14, ...)": the rest of a code's findings.
fn more_findings(code: &str, rest: &[&Finding]) -> String {
    let flows: Vec<String> = rest
        .iter()
        .filter_map(|f| f.flow)
        .take(FLOWS_LISTED + 1)
        .map(|id| id.to_string())
        .collect();
    let mut what = format!(" {code}");
    if !flows.is_empty() {
        let listed = flows.len().min(FLOWS_LISTED);
        let tail = if flows.len() > FLOWS_LISTED {
            ", ..."
        } else {
            ""
        };
        what.push_str(&format!(" (flows {}{tail})", flows[..listed].join(", ")));
    }
    rest_note(rest.len(), &what)
}

/// What a list cut short says of the `rest` left out: "... and 3 more flows (all of them are in
/// --format json / ndjson)"; `what` names them, after a space (" flows"), or is empty.
fn rest_note(rest: usize, what: &str) -> String {
    format!("... and {rest} more{what} (all of them are in --format json / ndjson)")
}

fn flows(r: &Report, out: &mut impl Write) -> io::Result<()> {
    let columns = [
        Right("ID"),
        Left("TRANSPORT"),
        Left("PROTO"),
        Left("BY"),
        Left("CLIENT"),
        Left("SERVER"),
        Left("STATE"),
        Right("PKTS C>S"),
        Right("PKTS S>C"),
        Right("BYTES C>S"),
        Right("BYTES S>C"),
        Right("DURATION"),
        Right("RTT"),
        Right("CLIENT RTT"),
        Right("SERVER RTT"),
        Right("RETX/OOO/LOST"),
        Left("HISTORY"),
        Right("FINDINGS"),
    ];
    let shown = r.flows.iter().take(MAX_FLOW_ROWS);
    Table::section(out, "Flows", &columns, shown, |t, f| t.row(flow_row(f)))?;
    if r.flows.len() > MAX_FLOW_ROWS {
        writeln!(
            out,
            "  {}",
            rest_note(r.flows.len() - MAX_FLOW_ROWS, " flows")
        )?;
    }
    Ok(())
}

fn flow_row(f: &FlowRecord) -> Vec<String> {
    let tcp = f.transport == Transport::Tcp;
    vec![
        f.id.to_string(),
        f.transport.name().to_string(),
        f.proto.map_or("-".into(), |p| p.name().to_string()),
        f.classified_by.map_or("-".into(), |m| m.name().to_string()),
        f.client.to_string(),
        f.server.to_string(),
        f.state.to_string(),
        f.to_server.packets.to_string(),
        f.to_client.packets.to_string(),
        f.to_server.bytes.to_string(),
        f.to_client.bytes.to_string(),
        duration(f.duration_secs),
        f.handshake_rtt_ms.map_or("-".into(), round_trip),
        median_rtt(f.rtt_client_side.as_ref()),
        median_rtt(f.rtt_server_side.as_ref()),
        if tcp { tcp_trouble(f) } else { "-".into() },
        f.history.clone(),
        f.findings.to_string(),
    ]
}

/// The median of one side's ACK RTT samples.
fn median_rtt(side: Option<&RttStats>) -> String {
    side.map_or("-".into(), |s| round_trip(s.median_ms))
}

/// Wireshark's retransmissions, out-of-order and lost segments, both directions together.
fn tcp_trouble(f: &FlowRecord) -> String {
    let [c, s] = [&f.to_server.tcp, &f.to_client.tcp];
    format!(
        "{}/{}/{}",
        c.retransmissions + s.retransmissions,
        c.out_of_order + s.out_of_order,
        c.lost_segments + s.lost_segments
    )
}

fn totals(r: &Report, out: &mut impl Write) -> io::Result<()> {
    let c = &r.capture;
    writeln!(out, "\nCapture")?;
    writeln!(
        out,
        "  TCP {}, UDP {}, other IP {}, non-IP {}, malformed {}, cut by snaplen {} (in headers {}), IPv4 fragments {} ({} datagrams reassembled), IPv6 fragments {}",
        c.tcp_packets,
        c.udp_packets,
        c.other_ip_packets,
        c.non_ip_packets,
        c.malformed,
        c.payload_cut,
        c.headers_cut,
        c.ipv4_fragments.fragments,
        c.ipv4_fragments.datagrams_reassembled,
        c.ipv6_fragments
    )?;
    let mut hit = limit_hits(&r.limits, &r.capture)
        .into_iter()
        .filter(|h| h.count > 0)
        .peekable();
    if hit.peek().is_some() {
        writeln!(out, "  Limits hit:")?;
    }
    for LimitHit { what, count, .. } in hit {
        writeln!(out, "    {count} {what}")?;
    }
    Ok(())
}
