//! TLS and DTLS: what the handshake says about the protection of a connection. The server chose
//! a deprecated version; its certificate is expired (or not yet valid) at the time of the
//! packet; it does not name the server the client asked for (SNI).
//!
//! Judged as each message is read; the SNI of a connection is kept until its certificate comes
//! (or the connection leaves), so memory follows the connections open at once.

use super::Findings;
use crate::flow::Flow;
use crate::ids::FlowId;
use crate::model::{Finding, FindingKind};
use ctxscope_dissectors::tls::{Certificate, ServerHello};
use ctxscope_dissectors::{Body, Event, Timestamp, WireText, tls};
use rustc_hash::FxHashMap;

/// Names of a certificate listed in a finding's message.
const NAMES_LISTED: usize = 3;

#[derive(Default)]
pub struct Tls {
    /// Live connections whose ClientHello named a server -> that name.
    sni: FxHashMap<FlowId, WireText>,
}

impl Tls {
    pub fn on_events(&mut self, flow: &Flow, events: &[Event], findings: &mut Findings) {
        for e in events {
            let Body::Tls(ev) = &e.body else { continue };
            match ev {
                tls::Event::ClientHello(hello) => {
                    if let Some(sni) = &hello.sni {
                        self.sni.insert(flow.id, sni.clone());
                    }
                }
                tls::Event::ServerHello(hello) => legacy_version(flow, hello, e.ts, findings),
                tls::Event::Certificate(cert) => {
                    expired(flow, cert, e.ts, findings);
                    if let Some(sni) = self.sni.remove(&flow.id) {
                        name_mismatch(flow, cert, &sni, e.ts, findings);
                    }
                }
            }
        }
    }

    /// The connection leaves the flow table.
    pub fn retire(&mut self, flow: FlowId) {
        self.sni.remove(&flow);
    }
}

fn legacy_version(flow: &Flow, hello: &ServerHello, ts: Timestamp, findings: &mut Findings) {
    if !hello.version.is_legacy() {
        return;
    }
    findings.raise(
        Finding::new(
            FindingKind::TlsLegacyVersion,
            ts,
            format!(
                "the server {} chose {} for {}: SSL 3.0, TLS 1.0/1.1 and DTLS 1.0 are deprecated (RFC 8996) and switched off by default in current clients; enable TLS 1.2 or 1.3 (DTLS 1.2) on the server and switch the old versions off",
                flow.server, hello.version, flow.client.ip
            ),
        )
        .on_flow(flow.id),
    );
}

fn expired(flow: &Flow, cert: &Certificate, ts: Timestamp, findings: &mut Findings) {
    let when = if ts > cert.not_after {
        format!("expired on {}", cert.not_after)
    } else if ts < cert.not_before {
        format!("is not valid before {}", cert.not_before)
    } else {
        return;
    };
    findings.raise(
        Finding::new(
            FindingKind::TlsCertificateExpired,
            ts,
            format!(
                "the certificate of {} ({}) {when}: clients refuse the connection or warn, and users learn to click through; renew it and bind the new one (VDA, Gateway, StoreFront)",
                flow.server, cert.subject
            ),
        )
        .on_flow(flow.id),
    );
}

fn name_mismatch(
    flow: &Flow,
    cert: &Certificate,
    sni: &WireText,
    ts: Timestamp,
    findings: &mut Findings,
) {
    let names: Vec<&WireText> = if cert.san_dns_count > 0 {
        cert.san_dns.iter().collect()
    } else {
        cert.common_name.iter().collect()
    };
    if names.iter().any(|n| covers(n.as_str(), sni.as_str())) {
        return;
    }
    // Names past the cap were not kept: one of them may cover it.
    if cert.san_dns.len() < cert.san_dns_count as usize {
        return;
    }
    let mut listed: Vec<&str> = names
        .iter()
        .take(NAMES_LISTED)
        .map(|n| n.as_str())
        .collect();
    if names.len() > NAMES_LISTED {
        listed.push("...");
    }
    let which = if cert.san_dns_count > 0 {
        "SAN names"
    } else {
        "subject CN"
    };
    let named = if listed.is_empty() {
        "no name".to_string()
    } else {
        format!("{which} {}", listed.join(", "))
    };
    findings.raise(
        Finding::new(
            FindingKind::TlsCertificateNameMismatch,
            ts,
            format!(
                "{} asked {} for {sni}, but its certificate has {named}: clients refuse the connection or warn; issue a certificate for that name, or point clients at a name the certificate has",
                flow.client.ip, flow.server
            ),
        )
        .on_flow(flow.id),
    );
}

/// Whether certificate name `pattern` covers host name `host` (RFC 6125 6.4): the same name,
/// ignoring case, or a wildcard `*.` standing for exactly one whole leftmost label.
fn covers(pattern: &str, host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    match pattern.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest.eq_ignore_ascii_case(parent)),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn a_wildcard_covers_exactly_one_label() {
        assert!(covers("vda.farm.example", "VDA.Farm.Example"));
        assert!(covers("vda.farm.example", "vda.farm.example."));
        assert!(covers("*.aliyuncs.com", "beacon-api.aliyuncs.com"));
        assert!(covers("*.Gw.Example", "a.gw.example"));
        assert!(!covers("*.gw.example", "gw.example"));
        assert!(!covers("*.gw.example", "a.b.gw.example"));
        assert!(!covers("*.gw.example", ".gw.example"));
        assert!(!covers("vda.farm.example", "vdb.farm.example"));
        // Only a whole label is a wildcard.
        assert!(!covers("v*.farm.example", "vda.farm.example"));
        assert!(!covers("*", "localhost"));
    }
}
