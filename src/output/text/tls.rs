//! The TLS / DTLS section: one row per TLS connection and per EDT flow over DTLS, with what the
//! handshake shows in the clear (server name asked for, version and cipher suite chosen, the
//! server certificate's subject, issuer, end of validity and number of SAN names) and the Citrix
//! protocol it carries (ICA or CGP on their port, EDT). Text from the wire is cut to fit; the
//! JSON report has every field.

use super::sessions::clip;
use super::{MAX_FLOW_ROWS, rest_note};
use crate::model::{FlowRecord, Report};
use crate::output::facts::{date, no_certificate, tls_version};
use crate::output::table::Column::{Left, Right};
use crate::output::table::Table;
use ctxscope_dissectors::{Proto, Summary, tls};
use std::io::{self, Write};

/// Cells holding text from the wire are cut to this many characters.
const NAME_CELL: usize = 32;

pub(super) fn section(r: &Report, out: &mut impl Write) -> io::Result<()> {
    let flows: Vec<Handshake<'_>> = r
        .flows
        .iter()
        .filter_map(|f| match &f.summary {
            Some(Summary::Tls(s)) => Some((f.as_ref(), s.as_ref(), None)),
            Some(Summary::Edt(e)) => e.dtls.as_ref().map(|d| (f.as_ref(), &d.tls, d.version())),
            _ => None,
        })
        .collect();
    let columns = [
        Right("FLOW"),
        Left("SERVER"),
        Left("CARRIES"),
        Left("SNI"),
        Left("VERSION"),
        Left("CIPHER SUITE"),
        Left("CERTIFICATE SUBJECT"),
        Left("ISSUER"),
        Left("NOT AFTER"),
        Right("SANS"),
    ];
    let title = "TLS / DTLS (handshake metadata)";
    let shown = flows.iter().take(MAX_FLOW_ROWS);
    Table::section(out, title, &columns, shown, |t, &(f, s, record)| {
        t.row(row(f, s, record));
    })?;
    if flows.len() > MAX_FLOW_ROWS {
        writeln!(out, "  {}", rest_note(flows.len() - MAX_FLOW_ROWS, ""))?;
    }
    Ok(())
}

/// A flow, what its TLS or DTLS dissector read, and for DTLS the version its records say.
type Handshake<'r> = (&'r FlowRecord, &'r tls::Summary, Option<tls::Version>);

fn row(f: &FlowRecord, s: &tls::Summary, record: Option<tls::Version>) -> Vec<String> {
    let h = &s.handshake;
    let cut = |text: &str| clip(text, NAME_CELL);
    let (subject, issuer, not_after, sans) = match &h.certificate {
        Some(c) => (
            cut(c.subject.as_str()),
            cut(c.issuer.as_str()),
            date(c.not_after),
            c.san_dns_count.to_string(),
        ),
        None => (
            no_certificate(s).into(),
            String::new(),
            "-".into(),
            "-".into(),
        ),
    };
    vec![
        f.id.to_string(),
        f.server.to_string(),
        carries(f),
        h.client_hello
            .as_ref()
            .and_then(|c| c.sni.as_ref())
            .map_or("-".into(), |sni| cut(sni.as_str())),
        tls_version(h, record),
        h.server_hello
            .as_ref()
            .map_or("-".into(), |sh| sh.cipher_suite.to_string()),
        subject,
        issuer,
        not_after,
        sans,
    ]
}

/// The Citrix protocol inside: ICA or CGP over TLS on their port, EDT over DTLS.
fn carries(f: &FlowRecord) -> String {
    match f.inside_tls {
        Some(p) => p.name().to_string(),
        None if f.proto == Some(Proto::EDT) => Proto::EDT.name().to_string(),
        None => "-".into(),
    }
}
