//! The protocols this crate knows, and the one place they are listed.
//!
//! Each protocol describes itself once, in its own folder, with a [`ProtoSpec`]: its name, ports,
//! probe, constructor, colour. The [`Registry`] is the ordered list of specs (the built-in ones are
//! listed in [`Registry::builtin`] and nowhere else); everything that needs the list of protocols
//! (port table, payload probes, configuration, command line, TUI filters) reads it from there.
//! A connection's protocol is a [`Proto`], a cheap handle on its spec.

use crate::code::Code;
use crate::event::{Event, Summary};
use crate::types::{Dir, Timestamp};
use crate::{cgp, edt, flexlm, ica, ima, tls};
use serde::{Serialize, Serializer};
use std::any::Any;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The transport a protocol runs over. Over TCP a dissector is fed a stream; over UDP, one
/// datagram per call (see [`Dissector`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    /// `tcp`, `udp`: as serialised, and as typed in `--decode-as udp/PORT=NAME`.
    pub const fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }

    pub fn from_name(name: &str) -> Option<Transport> {
        [Transport::Tcp, Transport::Udp]
            .into_iter()
            .find(|t| t.name() == name)
    }
}

/// A named ANSI colour, for views that colour a connection by its protocol (the terminal's
/// palette decides the shade).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Black,
    Red,
    Green,
    Yellow,
    Blue,
    Magenta,
    Cyan,
    Gray,
    DarkGray,
    LightRed,
    LightGreen,
    LightYellow,
    LightBlue,
    LightMagenta,
    LightCyan,
    White,
}

/// Says whether the first bytes of a direction are the protocol.
pub type ProbeFn = fn(Dir, &[u8]) -> Probe;

/// Names the other protocol whose opening the first bytes of a direction are, if any.
pub type RefuteFn = fn(&[u8]) -> Option<&'static str>;

/// Everything the rest of the program needs to know about one protocol. Each protocol declares
/// its spec as a `static` in its own folder; a [`Registry`] lists them.
#[derive(Debug)]
pub struct ProtoSpec {
    /// Stable snake_case id, used everywhere a protocol is named: JSON `proto`, the `[ports]`
    /// key of the configuration, `--decode-as PORT=NAME`, the TUI's `proto:NAME`.
    pub name: &'static str,
    /// For people: "ICA", "FlexLM vendor daemon".
    pub title: &'static str,
    /// One line for help texts.
    pub description: &'static str,
    pub transport: Transport,
    /// Ports the protocol is expected on unless configured otherwise: inclusive ranges.
    pub default_ports: &'static [(u16, u16)],
    /// The wire-protocol family. Specs of one family speak the same bytes and share a probe
    /// (lmgrd and vendor daemons both speak "flexlm"); the first of a family in the registry
    /// stands for it when a probe matches, and a dissector may then learn which one it is
    /// ([`Dissector::proto`]).
    pub wire: &'static str,
    /// Recognises the protocol from the first bytes of a direction; `None` when it can only be
    /// labelled by port (or by `--decode-as`).
    pub probe: Option<ProbeFn>,
    /// For a protocol without a probe: names the other protocol whose well-known opening the
    /// first bytes of a direction are (HTTP, TLS, ...), which means the port carries something
    /// else.
    pub refute: Option<RefuteFn>,
    /// Creates the dissector of one connection.
    pub new: fn(&Context) -> Box<dyn Dissector>,
    /// The finding raised when the payload finds this protocol on a port not configured for it;
    /// `None` when the payload cannot find it (no probe) or another analysis judges its ports
    /// (FlexLM: the licensing analysis knows the announcements and the roles).
    pub unexpected_port_finding: Option<&'static Code>,
    /// Every anomaly its dissector can report (the `CODES` of its [`codes!`](crate::codes)
    /// enum), for the catalogue of finding codes.
    pub anomalies: &'static [Code],
    /// How views colour its connections.
    pub colour: Colour,
}

/// A protocol a connection can be classified as: a handle on its [`ProtoSpec`]. Compared,
/// ordered and hashed by name; serialised and displayed as its name.
#[derive(Clone, Copy)]
pub struct Proto(&'static ProtoSpec);

impl Proto {
    pub const LMGRD: Proto = Proto(&flexlm::LMGRD);
    pub const VENDOR_DAEMON: Proto = Proto(&flexlm::VENDOR_DAEMON);
    pub const ICA: Proto = Proto(&ica::SPEC);
    pub const CGP: Proto = Proto(&cgp::SPEC);
    pub const IMA: Proto = Proto(&ima::SPEC);
    pub const TLS: Proto = Proto(&tls::SPEC);
    pub const EDT: Proto = Proto(&edt::SPEC);

    /// Probes never need more than this many bytes of a direction to decide.
    pub const PROBE_WINDOW: usize = 512;

    pub const fn of(spec: &'static ProtoSpec) -> Proto {
        Proto(spec)
    }

    pub const fn spec(self) -> &'static ProtoSpec {
        self.0
    }

    pub const fn name(self) -> &'static str {
        self.0.name
    }

    /// The wire-protocol family ([`ProtoSpec::wire`]).
    pub const fn wire(self) -> &'static str {
        self.0.wire
    }

    /// Looks at the first bytes of one direction of a stream (from its start) and says whether
    /// they are this protocol. Cheap, and safe on any input. A protocol without a probe never
    /// matches.
    pub fn probe(self, dir: Dir, first: &[u8]) -> Probe {
        self.0
            .probe
            .map_or(Probe::NoMatch, |probe| probe(dir, first))
    }

    /// Creates the dissector of a connection classified as this protocol.
    pub fn dissector(self, ctx: &Context) -> Box<dyn Dissector> {
        (self.0.new)(ctx)
    }
}

impl PartialEq for Proto {
    fn eq(&self, other: &Proto) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Proto {}

impl Hash for Proto {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl PartialOrd for Proto {
    fn partial_cmp(&self, other: &Proto) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Proto {
    fn cmp(&self, other: &Proto) -> Ordering {
        self.name().cmp(other.name())
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proto({})", self.name())
    }
}

impl Serialize for Proto {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The protocols a run knows, in order. The order decides which spec stands for a wire family
/// and which of two equally narrow port ranges wins; lists for people follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registry {
    protos: Vec<Proto>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::builtin()
    }
}

/// Names that mean something else where protocol names are used: the `[ports]` section's
/// forced decodes, and the TUI filter's unclassified connections.
const RESERVED: [&str; 2] = ["decode_as", "none"];

impl Registry {
    /// The protocols of this crate. The only list of them.
    pub fn builtin() -> Registry {
        Registry {
            protos: vec![
                Proto::LMGRD,
                Proto::VENDOR_DAEMON,
                Proto::ICA,
                Proto::CGP,
                Proto::IMA,
                Proto::TLS,
                Proto::EDT,
            ],
        }
    }

    /// This registry with `spec` added last. Refuses a name already taken, reserved, or not
    /// snake_case (names are configuration keys and are typed in lower case in filters).
    pub fn with(mut self, spec: &'static ProtoSpec) -> Result<Registry, Refused> {
        let refused = |reason| {
            Err(Refused {
                name: spec.name,
                reason,
            })
        };
        let snake = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
        if spec.name.is_empty() || !spec.name.bytes().all(snake) {
            return refused("a protocol name is snake_case: a-z, 0-9 and _");
        }
        if RESERVED.contains(&spec.name) {
            return refused("the name is reserved");
        }
        if self.get(spec.name).is_some() {
            return refused("a protocol of that name is registered already");
        }
        self.protos.push(Proto(spec));
        Ok(self)
    }

    pub fn iter(&self) -> impl Iterator<Item = Proto> + '_ {
        self.protos.iter().copied()
    }

    pub fn get(&self, name: &str) -> Option<Proto> {
        self.iter().find(|p| p.name() == name)
    }

    /// The names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(Proto::name).collect()
    }

    /// The wire families, each once, in order.
    pub fn wires(&self) -> Vec<&'static str> {
        let mut wires = Vec::new();
        for p in self.iter() {
            if !wires.contains(&p.wire()) {
                wires.push(p.wire());
            }
        }
        wires
    }

    /// The finding codes of the protocols, each once, in order: a protocol's unexpected-port
    /// finding, then its anomalies (specs of one wire family share theirs).
    pub fn codes(&self) -> Vec<&'static Code> {
        let mut codes: Vec<&'static Code> = Vec::new();
        for p in self.iter() {
            let spec = p.spec();
            for code in spec
                .unexpected_port_finding
                .into_iter()
                .chain(spec.anomalies)
            {
                if !codes.iter().any(|c| c.name == code.name) {
                    codes.push(code);
                }
            }
        }
        codes
    }

    /// The protocols whose probes run on connections of `transport`: one per wire family, the
    /// first of the family that has a probe.
    pub fn probed(&self, transport: Transport) -> Vec<Proto> {
        let mut probed: Vec<Proto> = Vec::new();
        for p in self.iter() {
            let spec = p.spec();
            if spec.transport == transport
                && spec.probe.is_some()
                && !probed.iter().any(|q| q.wire() == p.wire())
            {
                probed.push(p);
            }
        }
        probed
    }
}

/// A spec a [`Registry`] would not take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub name: &'static str,
    pub reason: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "protocol {:?} not registered: {}",
            self.name, self.reason
        )
    }
}

impl std::error::Error for Refused {}

/// What a probe concluded from the first bytes of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// These bytes are this protocol.
    Match,
    /// These bytes are not this protocol.
    NoMatch,
    /// Too few bytes to tell; call again with more. The engine gives up after
    /// [`Proto::PROBE_WINDOW`] bytes and treats that as `NoMatch`.
    NeedMore,
}

impl Probe {
    /// The verdict for a protocol whose directions open with a fixed `signature`: a match once
    /// all of it is there, more wanted while the bytes so far agree with it, no match at the
    /// first byte that does not.
    pub fn signature(first: &[u8], signature: &[u8]) -> Probe {
        if first.starts_with(signature) {
            Probe::Match
        } else if signature.starts_with(first) {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        }
    }
}

/// What the engine knows about a connection when it creates its dissector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Vendor daemon name announced by the lmgrd redirect that led to this connection.
    pub announced_vendor: Option<String>,
    /// Whether the engine saw the start of both directions (SYN); false for mid-stream pickup.
    pub from_start: bool,
}

/// What a connection's dissector hands to the dissector of a later connection of the same
/// session (the ICA facts of a session-reliability reconnect). Opaque to the engine, which only
/// carries it; the receiving dissector looks for the facts it knows with [`Carry::get`]. Cheap
/// to clone; never printed (its `Debug` shows nothing of what it holds).
#[derive(Clone)]
pub struct Carry(Arc<dyn Any + Send + Sync>);

impl Carry {
    pub fn new<T: Any + Send + Sync>(facts: T) -> Carry {
        Carry(Arc::new(facts))
    }

    /// The facts, if they are a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for Carry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Carry(..)")
    }
}

/// A per-connection protocol state machine.
///
/// Over TCP, the engine calls `feed` with the reassembled bytes of each direction, in order, as
/// they become available (boundaries mean nothing: partial messages are kept by the dissector
/// itself, see [`crate::StreamBuffer`]), and `gap` where the capture lost bytes (never allocate
/// for a gap). Over UDP, one `feed` is one datagram, whole, in capture order; a `gap` right
/// after it says the snaplen cut that datagram's last `len` bytes. Either way `close` comes
/// exactly once, at the end.
pub trait Dissector: Send {
    fn feed(&mut self, dir: Dir, data: &[u8], ts: Timestamp, out: &mut Vec<Event>);
    fn gap(&mut self, dir: Dir, len: u64, ts: Timestamp, out: &mut Vec<Event>);
    fn close(&mut self, ts: Timestamp, out: &mut Vec<Event>);
    /// Counters and state so far; `None` for a protocol that keeps none.
    fn summary(&self) -> Option<Summary>;
    /// Bytes held for partial messages, for the engine's memory accounting.
    fn buffered(&self) -> usize;
    /// Whether more payload can still tell this dissector anything (an event, an anomaly, a
    /// count its summary shows). Once it says no, the engine may stop copying the
    /// connection's payload and call neither `feed` nor `gap` again, only `close` (the stream
    /// depth, `limits.stream_depth`); a dissector must not rely on that and keeps working if
    /// fed. Yes by default.
    fn needs_payload(&self) -> bool {
        true
    }
    /// The protocol the traffic showed this connection to be, within the wire family it was
    /// created for (a FlexLM connection's replies tell lmgrd from a vendor daemon). `None` by
    /// default: the label the engine chose stands.
    fn proto(&self) -> Option<Proto> {
        None
    }
    /// What a later connection of the same session needs to decode its stream. `None` by
    /// default.
    fn carry(&self) -> Option<Carry> {
        None
    }
    /// Facts from an earlier connection of the session this connection resumes, handed over
    /// by the engine once the analysis has tied the two together. Ignored by default.
    fn resume(&mut self, _carry: Carry) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_find_their_protocol() {
        let registry = Registry::builtin();
        for p in registry.iter() {
            assert_eq!(registry.get(p.name()), Some(p));
        }
        assert_eq!(registry.get("http"), None);
        assert_eq!(
            registry.names(),
            ["lmgrd", "vendor_daemon", "ica", "cgp", "ima", "tls", "edt"]
        );
    }

    #[test]
    fn the_builtin_specs_pass_the_checks_of_with() {
        let mut checked = Registry { protos: Vec::new() };
        for p in Registry::builtin().iter() {
            checked = checked.with(p.spec()).unwrap();
        }
        assert_eq!(checked, Registry::builtin());
    }

    #[test]
    fn with_refuses_taken_reserved_and_badly_formed_names() {
        static SHOUTING: ProtoSpec = ProtoSpec {
            name: "ICA2",
            ..ima::SPEC
        };
        static RESERVED_NAME: ProtoSpec = ProtoSpec {
            name: "decode_as",
            ..ima::SPEC
        };
        for spec in [&ica::SPEC, &SHOUTING, &RESERVED_NAME] {
            let refused = Registry::builtin().with(spec).unwrap_err();
            assert_eq!(refused.name, spec.name);
        }
    }

    #[test]
    fn flexlm_roles_share_a_wire_protocol_and_a_probe() {
        assert_eq!(Proto::LMGRD.wire(), Proto::VENDOR_DAEMON.wire());
        assert_ne!(Proto::ICA.wire(), Proto::CGP.wire());
        let registry = Registry::builtin();
        assert_eq!(
            registry.probed(Transport::Tcp),
            [Proto::LMGRD, Proto::ICA, Proto::CGP, Proto::TLS]
        );
        assert!(registry.probed(Transport::Udp).is_empty());
        assert_eq!(
            registry.wires(),
            ["flexlm", "ica", "cgp", "ima", "tls", "edt"]
        );
    }

    #[test]
    fn codes_are_listed_once_and_named_after_their_protocol() {
        let registry = Registry::builtin();
        let codes = registry.codes();
        for (i, code) in codes.iter().enumerate() {
            assert!(
                codes[..i].iter().all(|c| c.name != code.name),
                "{} twice",
                code.name
            );
        }
        for p in registry.iter() {
            let spec = p.spec();
            if let Some(code) = spec.unexpected_port_finding {
                assert_eq!(code.name, format!("{}.unexpected_port", spec.name));
            }
            for code in spec.anomalies {
                // Named after the protocol, or after one it carries (EDT over DTLS reports
                // TLS's), whose spec lists it too.
                let owner = registry
                    .iter()
                    .find(|q| code.name.starts_with(&format!("{}.", q.spec().wire)));
                assert!(
                    owner.is_some_and(|q| q == p || q.spec().anomalies.contains(code)),
                    "{code:?}"
                );
                // Specs of one family share their anomalies: the registry's copy is this one.
                assert!(codes.contains(&code), "{code:?}");
            }
        }
        // FlexLM's two roles share their anomalies; IMA reports none.
        assert_eq!(flexlm::LMGRD.anomalies, flexlm::VENDOR_DAEMON.anomalies);
        assert!(ima::SPEC.anomalies.is_empty() && ima::SPEC.unexpected_port_finding.is_none());
        let names: Vec<&str> = codes.iter().map(|c| c.name).collect();
        assert!(names.contains(&"flexlm.bad_crc") && names.contains(&"ica.unexpected_port"));
    }

    /// Deterministic bytes that are no protocol's: every dissector reports anomalies on them.
    fn garbage(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect()
    }

    #[test]
    fn dissectors_report_only_the_anomalies_their_spec_lists() {
        use crate::event::Body;
        for p in Registry::builtin().iter() {
            let spec = p.spec();
            let mut seen = Vec::new();
            for (seed, from_start) in [(1, true), (2, false), (3, true), (4, false)] {
                let mut d = p.dissector(&Context {
                    from_start,
                    ..Context::default()
                });
                let mut out = Vec::new();
                for (i, dir) in [Dir::ToServer, Dir::ToClient]
                    .into_iter()
                    .cycle()
                    .take(40)
                    .enumerate()
                {
                    let ts = Timestamp::from_secs(i as i64);
                    let mut bytes = garbage(seed + i as u64 * 7, 300);
                    if i % 2 == 1 {
                        // The garbage inside a DTLS handshake record, for a dissector that
                        // reads DTLS inside (EDT) to get to its anomalies.
                        let [hi, lo] = (bytes.len() as u16).to_be_bytes();
                        let header = [22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, i as u8, hi, lo];
                        bytes.splice(0..0, header);
                    }
                    d.feed(dir, &bytes, ts, &mut out);
                    if i % 9 == 8 {
                        d.gap(dir, 100, ts, &mut out);
                    }
                }
                d.close(Timestamp::from_secs(50), &mut out);
                for e in &out {
                    if let Body::Anomaly(a) = &e.body {
                        let listed = spec.anomalies.iter().find(|c| c.name == a.code);
                        assert_eq!(
                            listed.map(|c| c.severity),
                            Some(a.severity),
                            "{}: {} not in its spec with that severity",
                            spec.name,
                            a.code
                        );
                        seen.push(a.code);
                    }
                }
            }
            // The check saw anomalies wherever the protocol has any.
            assert_eq!(seen.is_empty(), spec.anomalies.is_empty(), "{}", spec.name);
        }
    }

    #[test]
    fn ima_is_never_claimed_by_payload() {
        assert_eq!(Proto::IMA.probe(Dir::ToServer, b"anything"), Probe::NoMatch);
    }

    #[test]
    fn handles_compare_by_name_and_serialise_as_it() {
        assert_eq!(Proto::ICA, Proto::of(&ica::SPEC));
        assert!(Proto::CGP < Proto::ICA);
        assert_eq!(
            serde_json::to_string(&Proto::VENDOR_DAEMON).unwrap(),
            "\"vendor_daemon\""
        );
        assert_eq!(Proto::IMA.to_string(), "ima");
    }

    #[test]
    fn a_carry_gives_back_only_what_it_holds() {
        let carry = Carry::new(7u32);
        assert_eq!(carry.clone().get::<u32>(), Some(&7));
        assert_eq!(carry.get::<u64>(), None);
        assert_eq!(format!("{carry:?}"), "Carry(..)");
    }
}
