//! The TLS / DTLS section: one row per connection with a handshake, with what it shows in the
//! clear (server name asked for, version and cipher suite chosen, the server certificate's
//! subject, issuer, end of validity and number of SAN names) and the Citrix protocol it carries
//! on an ICA or CGP port. Text from the wire is cut to fit; the JSON report has every field.

use super::MAX_FLOW_ROWS;
use super::sessions::clip;
use crate::model::{FlowRecord, Report};
use crate::output::table::Table;
use ctxscope_dissectors::{Summary, tls};
use std::io::{self, Write};

/// Cells holding text from the wire are cut to this many characters.
const NAME_CELL: usize = 32;

pub(super) fn section(r: &Report, out: &mut impl Write) -> io::Result<()> {
    let flows: Vec<(&FlowRecord, &tls::Summary)> = r
        .flows
        .iter()
        .filter_map(|f| match &f.summary {
            Some(Summary::Tls(s)) => Some((f.as_ref(), s.as_ref())),
            _ => None,
        })
        .collect();
    if flows.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nTLS / DTLS (handshake metadata)")?;
    let mut t = Table::new(&[
        "FLOW",
        "SERVER",
        "CARRIES",
        "SNI",
        "VERSION",
        "CIPHER SUITE",
        "CERTIFICATE SUBJECT",
        "ISSUER",
        "NOT AFTER",
        "SANS",
    ])
    .right(&["FLOW", "SANS"]);
    for (f, s) in flows.iter().take(MAX_FLOW_ROWS) {
        t.row(row(f, s));
    }
    t.write(out, "  ")?;
    if flows.len() > MAX_FLOW_ROWS {
        writeln!(
            out,
            "  ... and {} more (all of them are in --format json / ndjson)",
            flows.len() - MAX_FLOW_ROWS
        )?;
    }
    Ok(())
}

fn row(f: &FlowRecord, s: &tls::Summary) -> Vec<String> {
    let h = &s.handshake;
    let cut = |text: &str| clip(text, NAME_CELL);
    let (subject, issuer, not_after, sans) = match &h.certificate {
        Some(c) => (
            cut(c.subject.as_str()),
            cut(c.issuer.as_str()),
            date(c.not_after),
            c.san_dns_count.to_string(),
        ),
        None => (not_seen(s), String::new(), "-".into(), "-".into()),
    };
    vec![
        f.id.to_string(),
        f.server.to_string(),
        f.inside_tls.map_or("-".into(), |p| p.name().to_string()),
        h.client_hello
            .as_ref()
            .and_then(|c| c.sni.as_ref())
            .map_or("-".into(), |sni| cut(sni.as_str())),
        version(h),
        h.server_hello
            .as_ref()
            .map_or("-".into(), |sh| sh.cipher_suite.to_string()),
        subject,
        issuer,
        not_after,
        sans,
    ]
}

/// The version the server chose, or what the client offered when the server did not answer.
fn version(h: &tls::Handshake) -> String {
    match (&h.server_hello, &h.client_hello) {
        (Some(sh), _) => sh.version.to_string(),
        (None, Some(ch)) => format!("offered {}", ch.highest_offered()),
        (None, None) => "-".into(),
    }
}

/// Why there is no certificate.
fn not_seen(s: &tls::Summary) -> String {
    let encrypted = s
        .handshake
        .server_hello
        .as_ref()
        .is_some_and(|sh| sh.version.is_13());
    match s.progress {
        _ if encrypted => "(encrypted in TLS 1.3)",
        tls::Progress::Complete => "(none sent)",
        tls::Progress::InProgress => "(not seen)",
        tls::Progress::Abandoned => "(not read)",
    }
    .into()
}

/// The day of a timestamp: "2027-06-01".
pub(super) fn date(t: ctxscope_dissectors::Timestamp) -> String {
    let full = t.to_string();
    full.get(..10).unwrap_or(&full).to_string()
}
