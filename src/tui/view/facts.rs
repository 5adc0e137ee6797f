//! What an EDT flow's measurements and a TLS or DTLS handshake show, as named fields for the
//! detail panes: the Flows view's (one flow) and the Sessions view's (the session's handshake,
//! each EDT connection's measurements). The words are the text report's
//! ([`crate::output::facts`]).

use crate::output::facts::{date, keepalive, no_certificate, sizes, tls_version};
use crate::tui::text::{bytes, duration, time_of_day_micros};
use ctxscope_dissectors::edt::{self, Histogram};
use ctxscope_dissectors::tls::{self, Version};
use ctxscope_dissectors::{Dir, Timestamp};

/// SAN names listed before the count says the rest.
const SAN_NAMES_LISTED: usize = 3;

/// `what client>server, what server>client`, from a per-direction pair.
fn both<T>(pair: &[T; 2], what: impl Fn(&T) -> String) -> String {
    let [c, s] = [Dir::ToServer.index(), Dir::ToClient.index()].map(|i| what(&pair[i]));
    format!("{c} client>server, {s} server>client")
}

/// `2/0/0/1/0/1/0`: datagrams at most 64 bytes, 128, 256, 512, 1024, 1500, larger.
fn classes(h: &Histogram) -> String {
    h.counts().map(|n| n.to_string()).join("/")
}

/// An EDT flow's measurements: datagrams, payload and sizes each way, first and last, the
/// silences, a keep-alive cadence, and its DTLS when the datagrams are DTLS.
pub fn edt_fields(s: &edt::Summary) -> Vec<(&'static str, String)> {
    let time = |t: &Option<Timestamp>| t.map_or("-".into(), time_of_day_micros);
    let mut fields = vec![
        ("datagrams", both(&s.datagrams, u64::to_string)),
        ("payload", both(&s.bytes, |&b| bytes(b))),
    ];
    if s.cut_bytes.iter().any(|&b| b > 0) {
        fields.push(("cut by snaplen", both(&s.cut_bytes, |&b| bytes(b))));
    }
    fields.extend([
        ("sizes", both(&s.sizes, sizes)),
        (
            "size classes",
            format!(
                "{} (up to 64/128/256/512/1024/1500 B, larger)",
                both(&s.sizes, |z| classes(&z.histogram))
            ),
        ),
        ("first", both(&s.first, time)),
        ("last", both(&s.last, time)),
        (
            "silences",
            format!(
                "{} of 1 s or more, the longest {}",
                s.silences,
                duration(s.longest_silence_ms as f64 / 1000.0)
            ),
        ),
        ("keep-alive", keepalive(s.keepalive.as_ref())),
    ]);
    match &s.dtls {
        Some(d) => fields.extend([
            ("DTLS datagrams", both(&d.datagrams, u64::to_string)),
            (
                "DTLS records",
                both(&d.record_version, |v| {
                    v.map_or("-".into(), |v| v.to_string())
                }),
            ),
        ]),
        None => fields.push(("DTLS", "none: the datagrams are EDT's own".into())),
    }
    fields
}

/// What a TLS or DTLS handshake showed: the name asked for, the versions offered and chosen,
/// the cipher suite, ALPN, the server certificate. `record` is a DTLS flow's record version (for
/// a flow picked up after its handshake); `no_certificate` says why none shows.
pub fn handshake_fields(
    h: &tls::Handshake,
    record: Option<Version>,
    no_certificate: &str,
) -> Vec<(&'static str, String)> {
    let hello = h.client_hello.as_ref();
    let offered = hello.map_or("-".into(), |c| {
        let mut versions: Vec<String> = c
            .supported_versions
            .iter()
            .map(ToString::to_string)
            .collect();
        if versions.is_empty() {
            versions.push(c.legacy_version.to_string());
        }
        versions.join(", ")
    });
    let alpn = match (hello, &h.server_hello) {
        (_, Some(sh)) if sh.alpn.is_some() => sh.alpn.as_ref().map(ToString::to_string),
        (Some(c), _) if !c.alpn.is_empty() => Some(format!(
            "offered {}",
            c.alpn
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => None,
    };
    let mut fields = vec![
        (
            "SNI",
            hello
                .and_then(|c| c.sni.as_ref())
                .map_or("-".into(), ToString::to_string),
        ),
        ("offered", offered),
        ("version", tls_version(h, record)),
        (
            "cipher suite",
            h.server_hello.as_ref().map_or("-".into(), |sh| {
                format!("{} (0x{:04x})", sh.cipher_suite, sh.cipher_suite.id)
            }),
        ),
        ("ALPN", alpn.unwrap_or_else(|| "-".into())),
    ];
    match &h.certificate {
        Some(c) => {
            let mut sans: Vec<String> = c
                .san_dns
                .iter()
                .take(SAN_NAMES_LISTED)
                .map(ToString::to_string)
                .collect();
            if c.san_dns_count as usize > sans.len() {
                sans.push("...".into());
            }
            let san = match c.san_dns_count {
                0 => "none".to_string(),
                n => format!("{n}: {}", sans.join(", ")),
            };
            fields.extend([
                ("certificate", c.subject.to_string()),
                ("issuer", c.issuer.to_string()),
                (
                    "valid",
                    format!("{} to {}", date(c.not_before), date(c.not_after)),
                ),
                ("SAN names", san),
            ]);
        }
        None => fields.push(("certificate", no_certificate.to_string())),
    }
    fields
}

/// A TLS or DTLS dissector's summary: the handshake's fields, how far it was read, and the
/// records each way.
pub fn tls_fields(s: &tls::Summary, record: Option<Version>) -> Vec<(&'static str, String)> {
    let mut fields = handshake_fields(&s.handshake, record, no_certificate(s));
    let c = &s.counts;
    fields.extend([
        (
            "handshake",
            crate::model::name_of(&s.progress).replace('_', " "),
        ),
        ("records", both(&c.records, u64::to_string)),
        (
            "application data",
            both(
                &[0, 1].map(|i| (c.application_data_records[i], c.application_data_bytes[i])),
                |(n, b)| format!("{n} ({})", bytes(*b)),
            ),
        ),
    ]);
    fields
}
