//! The filter language of the tables: space-separated terms that must all hold.
//!
//! ```text
//! proto:ica        protocol: a registered name, a wire family shared by several (flexlm =
//!                  lmgrd or vendor_daemon), none = unclassified
//! transport:udp    flows over UDP (or TCP); the bare words `udp` and `tcp` find them as free
//!                  text, being in the row's text
//! port:27000       either side's port
//! host:10.0.0.5    either side's address; a CIDR block works too (host:10.0.0.0/24)
//! state:S0         Zeek connection state
//! by:payload       how the flow was classified (payload, announced, port, decode_as)
//! finding          flows that have findings
//! sev:medium       findings of this severity or worse
//! code:flexlm.     finding codes starting with this
//! flow:12          one flow ID
//! vendor:citrix    licensing: the vendor daemon's name
//! status:ok        licensing: ok, lmgrd_only, dynamic_port, not_connected, unreachable
//! kind:cgp         heartbeats: license (heartbeat), cgp (NOP), tcp (keep-alive)
//! 10.0.0.5:49152   anything else is free text, matched case-insensitively against the row
//! !term            negates a term; "two words" quotes free text
//! ```
//!
//! Parsing is pure and independent of the tables; each table says which keys it understands
//! and evaluates the terms against its rows.

use crate::model::BeatKind;
use crate::model::Method;
use crate::model::SessionStatus;
use ctxscope_dissectors::{Proto, Registry, Severity, Transport};
use std::fmt;
use std::net::IpAddr;

/// A parsed filter: every term must hold (an empty query matches everything).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    terms: Vec<Term>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub negated: bool,
    pub kind: TermKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TermKind {
    Proto(ProtoMatch),
    Transport(Transport),
    Port(u16),
    Host(Cidr),
    /// Upper-cased, compared case-insensitively.
    State(String),
    By(Method),
    /// Has at least one finding.
    Finding,
    /// At least this severe.
    Severity(Severity),
    /// Lower-cased prefix of a finding code.
    Code(String),
    Flow(u64),
    /// Lower-cased vendor daemon name.
    Vendor(String),
    /// A licensing session's status.
    Status(SessionStatus),
    /// A heartbeat series' kind.
    Kind(BeatKind),
    /// Lower-cased free text.
    Text(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoMatch {
    Is(Proto),
    /// Any protocol of this wire family (`flexlm`: lmgrd or a vendor daemon).
    Wire(&'static str),
    /// Not classified as any protocol ctxscope knows.
    Unclassified,
}

impl ProtoMatch {
    pub fn matches(self, proto: Option<Proto>) -> bool {
        match self {
            ProtoMatch::Is(p) => proto == Some(p),
            ProtoMatch::Wire(wire) => proto.is_some_and(|p| p.wire() == wire),
            ProtoMatch::Unclassified => proto.is_none(),
        }
    }
}

/// What `proto:` takes, in the order help lists it: the protocols of `registry`, the wire
/// families that are no protocol's name (`flexlm`), and `none`.
pub fn proto_values(registry: &Registry) -> Vec<&'static str> {
    let mut values = registry.names();
    let families = registry.wires().into_iter();
    values.extend(families.filter(|w| registry.get(w).is_none()));
    values.push(UNCLASSIFIED);
    values
}

/// `proto:none`: unclassified connections.
const UNCLASSIFIED: &str = "none";

/// An address block; a plain address is a block of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(u32::from(net)),
                u128::from(u32::from(ip)),
                32,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }

    fn parse(s: &str) -> Result<Cidr, QueryError> {
        let bad = || QueryError(format!("host:{s}: expected an address or a CIDR block"));
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= bits)
                .ok_or_else(bad)?,
            None => bits,
        };
        Ok(Cidr { addr, prefix })
    }
}

/// Whether the top `prefix` bits of two `width`-bit values agree.
fn prefix_eq(a: u128, b: u128, width: u8, prefix: u8) -> bool {
    let shift = u32::from(width.saturating_sub(prefix));
    a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
}

/// Why a filter could not be parsed, as one line for the filter bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The keys the language knows, in the order the help lists them.
pub const KEYS: [&str; 12] = [
    "proto",
    "transport",
    "port",
    "host",
    "state",
    "by",
    "sev",
    "code",
    "flow",
    "vendor",
    "status",
    "kind",
];

impl TermKind {
    /// The key that introduces this term (`text` for free text).
    pub fn key(&self) -> &'static str {
        match self {
            TermKind::Proto(_) => "proto",
            TermKind::Transport(_) => "transport",
            TermKind::Port(_) => "port",
            TermKind::Host(_) => "host",
            TermKind::State(_) => "state",
            TermKind::By(_) => "by",
            TermKind::Finding => "finding",
            TermKind::Severity(_) => "sev",
            TermKind::Code(_) => "code",
            TermKind::Flow(_) => "flow",
            TermKind::Vendor(_) => "vendor",
            TermKind::Status(_) => "status",
            TermKind::Kind(_) => "kind",
            TermKind::Text(_) => "text",
        }
    }
}

impl Query {
    /// Parses `input`; `proto:` takes the protocols of `registry`.
    pub fn parse(input: &str, registry: &Registry) -> Result<Query, QueryError> {
        let terms = tokens(input)?
            .into_iter()
            .map(|t| term(&t, registry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Query { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The first term whose key is not in `keys` (a table uses it to refuse keys that mean
    /// nothing for its rows).
    pub fn unsupported(&self, keys: &[&str]) -> Option<&'static str> {
        self.terms
            .iter()
            .map(|t| t.kind.key())
            .find(|k| *k != "text" && !keys.contains(k))
    }

    /// Whether every term holds; `holds` says whether a term (not negated) holds for the row.
    pub fn matches(&self, mut holds: impl FnMut(&TermKind) -> bool) -> bool {
        self.terms.iter().all(|t| holds(&t.kind) != t.negated)
    }
}

/// A token before interpretation: its text and whether `!` preceded it. `quoted` tokens are
/// always free text.
struct Token {
    text: String,
    negated: bool,
    quoted: bool,
}

fn tokens(input: &str) -> Result<Vec<Token>, QueryError> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return Ok(out);
        };
        let negated = first == '!';
        if negated {
            chars.next();
        }
        let mut text = String::new();
        let quoted = chars.next_if_eq(&'"').is_some();
        if quoted {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => text.push(c),
                    None => return Err(QueryError("unclosed quote".into())),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                text.push(c);
            }
        }
        if text.is_empty() && !quoted {
            return Err(QueryError("`!` must be followed by a term".into()));
        }
        out.push(Token {
            text,
            negated,
            quoted,
        });
    }
}

fn term(t: &Token, registry: &Registry) -> Result<Term, QueryError> {
    let kind = if t.quoted {
        TermKind::Text(t.text.to_lowercase())
    } else {
        keyed(&t.text, registry)?
    };
    Ok(Term {
        negated: t.negated,
        kind,
    })
}

fn keyed(text: &str, registry: &Registry) -> Result<TermKind, QueryError> {
    let lower = text.to_lowercase();
    if lower == "finding" || lower == "findings" {
        return Ok(TermKind::Finding);
    }
    let Some((key, value)) = lower.split_once(':') else {
        return Ok(TermKind::Text(lower));
    };
    let key = match key {
        "severity" => "sev",
        k => k,
    };
    if !KEYS.contains(&key) {
        // `10.0.0.5:1494` is free text; `prot:ica` is a typo worth saying so.
        if key.chars().all(|c| c.is_ascii_alphabetic() || c == '_') && !key.is_empty() {
            return Err(QueryError(format!(
                "unknown key `{key}:` (keys: {}, finding)",
                KEYS.join(", ")
            )));
        }
        return Ok(TermKind::Text(lower));
    }
    if value.is_empty() {
        return Err(QueryError(format!("`{key}:` needs a value")));
    }
    Ok(match key {
        "proto" => TermKind::Proto(proto(value, registry)?),
        "transport" => TermKind::Transport(
            Transport::from_name(value)
                .ok_or_else(|| QueryError(format!("transport:{value}: expected tcp or udp")))?,
        ),
        "port" => TermKind::Port(
            value
                .parse()
                .map_err(|_| QueryError(format!("port:{value}: expected a port (0-65535)")))?,
        ),
        "host" => TermKind::Host(Cidr::parse(value)?),
        "state" => TermKind::State(value.to_uppercase()),
        "by" => TermKind::By(method(value)?),
        "sev" => TermKind::Severity(Severity::from_name(value).ok_or_else(|| {
            QueryError(format!("sev:{value}: expected info, low, medium or high"))
        })?),
        "code" => TermKind::Code(value.to_string()),
        "flow" => TermKind::Flow(
            value
                .parse()
                .map_err(|_| QueryError(format!("flow:{value}: expected a flow ID")))?,
        ),
        "vendor" => TermKind::Vendor(value.to_string()),
        "status" => TermKind::Status(status(value)?),
        "kind" => TermKind::Kind(beat_kind(value)?),
        _ => TermKind::Text(lower.clone()),
    })
}

fn proto(value: &str, registry: &Registry) -> Result<ProtoMatch, QueryError> {
    if value == UNCLASSIFIED || value == "-" {
        return Ok(ProtoMatch::Unclassified);
    }
    if let Some(p) = registry.get(value) {
        return Ok(ProtoMatch::Is(p));
    }
    if let Some(wire) = registry.wires().into_iter().find(|w| *w == value) {
        return Ok(ProtoMatch::Wire(wire));
    }
    let mut values = proto_values(registry);
    let last = values.pop().unwrap_or(UNCLASSIFIED);
    Err(QueryError(format!(
        "proto:{value}: expected {} or {last}",
        values.join(", ")
    )))
}

fn status(value: &str) -> Result<SessionStatus, QueryError> {
    const ALL: [(SessionStatus, &str); 10] = [
        (SessionStatus::Ok, "ok"),
        (SessionStatus::LmgrdOnly, "lmgrd_only"),
        (SessionStatus::DynamicPort, "dynamic_port"),
        (SessionStatus::Damaged, "damaged"),
        (SessionStatus::CheckoutDenied, "checkout_denied"),
        (SessionStatus::HeartbeatOverdue, "heartbeat_overdue"),
        (SessionStatus::ConnectionReset, "connection_reset"),
        (SessionStatus::NotConnected, "not_connected"),
        (SessionStatus::LmgrdError, "lmgrd_error"),
        (SessionStatus::Unreachable, "unreachable"),
    ];
    let value = value.replace('-', "_");
    ALL.iter()
        .find(|(_, name)| *name == value)
        .map(|(s, _)| *s)
        .ok_or_else(|| {
            QueryError(format!(
                "status:{value}: expected ok, lmgrd_only, dynamic_port, not_connected or unreachable"
            ))
        })
}

fn beat_kind(value: &str) -> Result<BeatKind, QueryError> {
    match value.replace('-', "_").as_str() {
        "license" | "license_heartbeat" | "heartbeat" => Ok(BeatKind::LicenseHeartbeat),
        "cgp" | "cgp_nop" | "nop" => Ok(BeatKind::CgpNop),
        "tcp" | "tcp_keepalive" | "keepalive" => Ok(BeatKind::TcpKeepalive),
        v => Err(QueryError(format!(
            "kind:{v}: expected license, cgp or tcp"
        ))),
    }
}

fn method(value: &str) -> Result<Method, QueryError> {
    const METHODS: [Method; 4] = [
        Method::Payload,
        Method::Announced,
        Method::Port,
        Method::DecodeAs,
    ];
    let value = if value == "decode-as" {
        "decode_as"
    } else {
        value
    };
    METHODS
        .into_iter()
        .find(|m| m.name() == value)
        .ok_or_else(|| {
            QueryError(format!(
                "by:{value}: expected payload, announced, port or decode_as"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<Query, QueryError> {
        Query::parse(q, &Registry::builtin())
    }

    fn kinds(q: &str) -> Vec<(bool, TermKind)> {
        parse(q)
            .unwrap()
            .terms()
            .iter()
            .map(|t| (t.negated, t.kind.clone()))
            .collect()
    }

    fn err(q: &str) -> String {
        parse(q).unwrap_err().0
    }

    #[test]
    fn keyed_terms_are_typed() {
        assert_eq!(
            kinds(
                "proto:ica port:27000 state:s0 by:payload finding sev:medium code:FlexLM. flow:12"
            ),
            vec![
                (false, TermKind::Proto(ProtoMatch::Is(Proto::ICA))),
                (false, TermKind::Port(27000)),
                (false, TermKind::State("S0".into())),
                (false, TermKind::By(Method::Payload)),
                (false, TermKind::Finding),
                (false, TermKind::Severity(Severity::Medium)),
                (false, TermKind::Code("flexlm.".into())),
                (false, TermKind::Flow(12)),
            ]
        );
        assert_eq!(
            kinds("PROTO:flexlm proto:none by:decode-as severity:high"),
            vec![
                (false, TermKind::Proto(ProtoMatch::Wire("flexlm"))),
                (false, TermKind::Proto(ProtoMatch::Unclassified)),
                (false, TermKind::By(Method::DecodeAs)),
                (false, TermKind::Severity(Severity::High)),
            ]
        );
    }

    #[test]
    fn transport_terms_are_typed_and_bare_words_stay_free_text() {
        assert_eq!(
            kinds("transport:udp !TRANSPORT:tcp udp"),
            vec![
                (false, TermKind::Transport(Transport::Udp)),
                (true, TermKind::Transport(Transport::Tcp)),
                (false, TermKind::Text("udp".into())),
            ]
        );
    }

    #[test]
    fn licensing_and_heartbeat_terms_are_typed() {
        assert_eq!(
            kinds(
                "vendor:CITRIX status:dynamic_port !status:not-connected kind:cgp kind:TCP_keepalive kind:license"
            ),
            vec![
                (false, TermKind::Vendor("citrix".into())),
                (false, TermKind::Status(SessionStatus::DynamicPort)),
                (true, TermKind::Status(SessionStatus::NotConnected)),
                (false, TermKind::Kind(BeatKind::CgpNop)),
                (false, TermKind::Kind(BeatKind::TcpKeepalive)),
                (false, TermKind::Kind(BeatKind::LicenseHeartbeat)),
            ]
        );
        assert_eq!(
            err("status:broken"),
            "status:broken: expected ok, lmgrd_only, dynamic_port, not_connected or unreachable"
        );
        assert_eq!(err("kind:udp"), "kind:udp: expected license, cgp or tcp");
        assert_eq!(err("vendor:"), "`vendor:` needs a value");
    }

    #[test]
    fn negation_quotes_and_free_text() {
        assert_eq!(
            kinds(r#"  !proto:ica  Citrix "two  Words" !"x y" 10.0.0.5:1494 "#),
            vec![
                (true, TermKind::Proto(ProtoMatch::Is(Proto::ICA))),
                (false, TermKind::Text("citrix".into())),
                (false, TermKind::Text("two  words".into())),
                (true, TermKind::Text("x y".into())),
                (false, TermKind::Text("10.0.0.5:1494".into())),
            ]
        );
        assert!(parse("   ").unwrap().is_empty());
    }

    #[test]
    fn host_takes_addresses_and_blocks_of_both_families() {
        let [(_, TermKind::Host(one))] = kinds("host:10.0.0.5")[..] else {
            panic!("not a host term")
        };
        assert!(one.contains("10.0.0.5".parse().unwrap()));
        assert!(!one.contains("10.0.0.6".parse().unwrap()));
        assert!(!one.contains("::ffff:10.0.0.5".parse().unwrap()));
        let [(_, TermKind::Host(block))] = kinds("host:10.1.0.0/16")[..] else {
            panic!("not a host term")
        };
        assert!(block.contains("10.1.255.7".parse().unwrap()));
        assert!(!block.contains("10.2.0.1".parse().unwrap()));
        let [(_, TermKind::Host(v6))] = kinds("host:fe80::/10")[..] else {
            panic!("not a host term")
        };
        assert!(v6.contains("fe80::1".parse().unwrap()));
        assert!(!v6.contains("2001:db8::1".parse().unwrap()));
        let [(_, TermKind::Host(all))] = kinds("host:0.0.0.0/0")[..] else {
            panic!("not a host term")
        };
        assert!(all.contains("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn mistakes_are_explained() {
        assert_eq!(err("port:70000"), "port:70000: expected a port (0-65535)");
        assert_eq!(
            err("proto:http"),
            "proto:http: expected lmgrd, vendor_daemon, ica, cgp, ima, tls, edt, flexlm or none"
        );
        assert!(err("prot:ica").starts_with("unknown key `prot:`"));
        assert_eq!(
            err("host:10.0.0.0/33"),
            "host:10.0.0.0/33: expected an address or a CIDR block"
        );
        assert_eq!(
            err("host:nothing"),
            "host:nothing: expected an address or a CIDR block"
        );
        assert_eq!(
            err("sev:critical"),
            "sev:critical: expected info, low, medium or high"
        );
        assert_eq!(
            err("by:magic"),
            "by:magic: expected payload, announced, port or decode_as"
        );
        assert_eq!(err("flow:x"), "flow:x: expected a flow ID");
        assert_eq!(err("transport:sctp"), "transport:sctp: expected tcp or udp");
        assert_eq!(err("port:"), "`port:` needs a value");
        assert_eq!(err("a !"), "`!` must be followed by a term");
        assert_eq!(err("\"open"), "unclosed quote");
    }

    #[test]
    fn terms_are_anded_and_negation_inverts() {
        let q = parse("port:1494 !state:S0").unwrap();
        let row = |port: u16, state: &str| {
            q.matches(|k| match k {
                TermKind::Port(p) => *p == port,
                TermKind::State(s) => s == state,
                _ => false,
            })
        };
        assert!(row(1494, "SF"));
        assert!(!row(1494, "S0"));
        assert!(!row(2598, "SF"));
    }

    #[test]
    fn tables_can_refuse_keys() {
        let q = parse("sev:high some text").unwrap();
        assert_eq!(q.unsupported(&["proto", "port"]), Some("sev"));
        assert_eq!(q.unsupported(&["sev"]), None);
    }

    #[test]
    fn proto_match_roles() {
        let flexlm = ProtoMatch::Wire("flexlm");
        assert!(flexlm.matches(Some(Proto::VENDOR_DAEMON)));
        assert!(flexlm.matches(Some(Proto::LMGRD)));
        assert!(!flexlm.matches(Some(Proto::ICA)));
        assert!(ProtoMatch::Unclassified.matches(None));
        assert!(!ProtoMatch::Is(Proto::CGP).matches(None));
    }
}
