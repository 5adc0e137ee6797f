//! Deciding what each connection is, and running its dissector.
//!
//! Order of evidence: a forced decode (`--decode-as`) wins; then the payload (the probes of the
//! registry, one per wire protocol, over the first bytes of a direction); then a port announced
//! by lmgrd; then the port table. Until the payload has spoken, the first bytes of each direction (at most
//! `Proto::PROBE_WINDOW`) are kept and replayed to the dissector in arrival order once the
//! connection is classified, so the dissector sees every byte from the start. Every chunk is
//! handed over whole, the one that decided included, so that a UDP dissector gets one feed per
//! datagram (a probe of a UDP protocol sees the first datagrams of a direction end to end).

mod announce;
mod ports;

pub use announce::{Announcement, Announcements};
pub use ports::PortTable;

use crate::ids::FlowId;
use crate::model::Method;
use crate::reassembly::Delivery;
use ctxscope_dissectors::{Carry, Context, Dir, Dissector, Event, Probe, Proto, Timestamp};
use serde::Serialize;

/// A protocol with the evidence for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub proto: Proto,
    pub method: Method,
}

/// The moment a connection's classification became final, with the evidence, so that the
/// analysis can judge ports (a Citrix protocol on an unexpected port, a Citrix port carrying
/// something else).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The final label; `None` when the connection is not one of ours.
    pub label: Option<Label>,
    /// What the payload probes recognised, if anything.
    pub payload: Option<Proto>,
    /// What the connection was expected to be before any payload (announcement or port).
    pub expected: Option<Label>,
    /// Whether the first bytes seen were the start of the stream (not a mid-stream pickup).
    pub from_start: bool,
}

/// Classification and dissection state of one connection.
pub struct FlowApp {
    expected: Option<Label>,
    forced: Option<Proto>,
    /// What an announcement told of this connection: on a few of them only, so boxed.
    announced: Option<Box<Announced>>,
    state: State,
}

#[derive(Default)]
struct Announced {
    vendor: Option<String>,
    by: Option<FlowId>,
}

enum State {
    /// Allocated with the first payload byte: a connection that never carries any (a SYN
    /// flood's half-open attempts) keeps nothing on the heap for it.
    Probing(Option<Box<Probing>>),
    Dissecting {
        label: Label,
        dissector: Box<dyn Dissector>,
    },
    /// Not one of our protocols; bytes are only counted by the flow.
    Other,
}

#[derive(Default)]
struct Probing {
    first_bytes: [Vec<u8>; 2],
    /// Arrival order of what is in `first_bytes`: (direction, length, time).
    order: Vec<(Dir, usize, Timestamp)>,
    /// Per direction, each probe's verdict once it has one (in the order of the probes).
    verdicts: [Vec<Option<Probe>>; 2],
}

impl FlowApp {
    /// A new connection, with what is known before its first payload byte.
    pub fn new(expected: Option<Label>, forced: Option<Proto>, vendor: Option<String>) -> FlowApp {
        FlowApp {
            expected,
            forced,
            announced: vendor.map(|vendor| {
                Box::new(Announced {
                    vendor: Some(vendor),
                    by: None,
                })
            }),
            state: State::Probing(None),
        }
    }

    /// Links this connection to the lmgrd connection that announced its port.
    pub fn set_announced_by(&mut self, parent: FlowId) {
        self.announced.get_or_insert_default().by = Some(parent);
    }

    pub fn announced_by(&self) -> Option<FlowId> {
        self.announced.as_ref()?.by
    }

    /// The label now: final if decided, otherwise the forced or expected one.
    pub fn label(&self) -> Option<Label> {
        match &self.state {
            State::Dissecting { label, .. } => Some(*label),
            State::Other => None,
            State::Probing(_) => match self.forced {
                Some(proto) => Some(Label {
                    proto,
                    method: Method::DecodeAs,
                }),
                None => self.expected,
            },
        }
    }

    /// For a connection whose payload is TLS: the Citrix protocol its port (or an announcement)
    /// suggested, which then runs inside the TLS (ICA or CGP over TLS: VDA SSL, Citrix Gateway).
    /// `None` for every other connection: the other protocols never run inside TLS.
    pub fn inside_tls(&self) -> Option<Proto> {
        let outer = self.label()?.proto;
        let inner = self.expected?.proto;
        (outer == Proto::TLS && (inner == Proto::ICA || inner == Proto::CGP)).then_some(inner)
    }

    /// The vendor daemon name this connection was announced for.
    pub fn vendor(&self) -> Option<&str> {
        self.announced.as_ref()?.vendor.as_deref()
    }

    /// Takes the protocol the dissector learnt this connection is, within the wire protocol
    /// it was labelled with (a FlexLM connection's replies tell lmgrd from a vendor daemon).
    pub fn relabel(&mut self) {
        if let State::Dissecting { label, dissector } = &mut self.state
            && let Some(learnt) = dissector.proto()
            && learnt.wire() == label.proto.wire()
        {
            label.proto = learnt;
        }
    }

    pub fn dissector(&self) -> Option<&dyn Dissector> {
        match &self.state {
            State::Dissecting { dissector, .. } => Some(dissector.as_ref()),
            _ => None,
        }
    }

    /// Hands the dissector facts from an earlier connection of the same session (a
    /// session-reliability reconnect).
    pub fn resume(&mut self, carry: Carry) {
        if let State::Dissecting { dissector, .. } = &mut self.state {
            dissector.resume(carry);
        }
    }

    /// Whether the connection's payload can still tell anything: while it is probed, and while
    /// its dissector needs it; never for a connection that is not one of ours.
    pub fn needs_payload(&self) -> bool {
        match &self.state {
            State::Probing(_) => true,
            State::Dissecting { dissector, .. } => dissector.needs_payload(),
            State::Other => false,
        }
    }

    pub fn buffered(&self) -> usize {
        match &self.state {
            State::Dissecting { dissector, .. } => dissector.buffered(),
            State::Probing(p) => p
                .as_ref()
                .map_or(0, |p| p.first_bytes.iter().map(Vec::len).sum()),
            State::Other => 0,
        }
    }

    /// Takes one chunk of reassembled bytes; `probes` are the payload probes, one per wire
    /// protocol. Returns the decision if this chunk made it.
    pub fn deliver(
        &mut self,
        dir: Dir,
        chunk: Delivery<'_>,
        ts: Timestamp,
        from_start: bool,
        probes: &[Proto],
        out: &mut Vec<Event>,
    ) -> Option<Decision> {
        match &mut self.state {
            State::Dissecting { dissector, .. } => {
                match chunk {
                    Delivery::Data(bytes) => dissector.feed(dir, bytes, ts, out),
                    Delivery::Gap(len) => dissector.gap(dir, len, ts, out),
                }
                None
            }
            State::Other => None,
            State::Probing(probing) => match chunk {
                Delivery::Gap(len) => {
                    let decision = self.decide(None, from_start, probes, out);
                    if let State::Dissecting { dissector, .. } = &mut self.state {
                        dissector.gap(dir, len, ts, out);
                    }
                    Some(decision)
                }
                Delivery::Data(bytes) => {
                    let probing = probing.get_or_insert_default();
                    let kept = &mut probing.first_bytes[dir.index()];
                    let take = bytes.len().min(Proto::PROBE_WINDOW - kept.len());
                    kept.extend_from_slice(&bytes[..take]);
                    let window_full = kept.len() >= Proto::PROBE_WINDOW;
                    let found = probing.run(dir, window_full, probes);
                    let decided = match found {
                        Some(proto) => Some(proto),
                        None if probing.ruled_out(dir) => None,
                        None => {
                            // Undecided, so the window is not full: the chunk was kept whole.
                            probing.order.push((dir, take, ts));
                            return None;
                        }
                    };
                    // The earlier chunks are replayed; this one is fed whole, not as the part
                    // the window kept and the rest.
                    let decision = self.decide(decided, from_start, probes, out);
                    if let State::Dissecting { dissector, .. } = &mut self.state
                        && !bytes.is_empty()
                    {
                        dissector.feed(dir, bytes, ts, out);
                    }
                    Some(decision)
                }
            },
        }
    }

    /// The connection ends while still undecided: decide on what was seen.
    pub fn finish_probing(
        &mut self,
        from_start: bool,
        probes: &[Proto],
        out: &mut Vec<Event>,
    ) -> Option<Decision> {
        match &self.state {
            State::Probing(Some(p)) if !p.order.is_empty() => {
                Some(self.decide(None, from_start, probes, out))
            }
            _ => None,
        }
    }

    /// Closes the dissector (end of the connection).
    pub fn close(&mut self, ts: Timestamp, out: &mut Vec<Event>) {
        if let State::Dissecting { dissector, .. } = &mut self.state {
            dissector.close(ts, out);
        }
    }

    fn decide(
        &mut self,
        payload: Option<Proto>,
        from_start: bool,
        probes: &[Proto],
        out: &mut Vec<Event>,
    ) -> Decision {
        let probing = match std::mem::replace(&mut self.state, State::Other) {
            State::Probing(p) => p.unwrap_or_default(),
            other => {
                self.state = other;
                return Decision {
                    label: self.label(),
                    payload,
                    expected: self.expected,
                    from_start,
                };
            }
        };
        let label = self.final_label(payload, from_start, &probing, probes);
        if let Some(label) = label {
            let ctx = Context {
                announced_vendor: self.vendor().map(str::to_owned),
                from_start,
            };
            let mut dissector = label.proto.dissector(&ctx);
            let mut offsets = [0usize; 2];
            for &(dir, len, ts) in &probing.order {
                let i = dir.index();
                let bytes = &probing.first_bytes[i][offsets[i]..offsets[i] + len];
                offsets[i] += len;
                if !bytes.is_empty() {
                    dissector.feed(dir, bytes, ts, out);
                }
            }
            self.state = State::Dissecting { label, dissector };
        }
        Decision {
            label,
            payload,
            expected: self.expected,
            from_start,
        }
    }

    fn final_label(
        &self,
        payload: Option<Proto>,
        from_start: bool,
        probing: &Probing,
        probes: &[Proto],
    ) -> Option<Label> {
        if let Some(proto) = self.forced {
            return Some(Label {
                proto,
                method: Method::DecodeAs,
            });
        }
        if let Some(found) = payload {
            // Protocols of one wire family share a probe (both FlexLM roles): keep the one the
            // context suggests.
            let proto = match self.expected {
                Some(e) if e.proto.wire() == found.wire() => e.proto,
                _ => found,
            };
            return Some(Label {
                proto,
                method: Method::Payload,
            });
        }
        let expected = self.expected?;
        // The expected protocol's own probe said no from the very start of the stream: the port
        // carries something else. Mid-stream, a probe cannot tell, so the port is trusted.
        let refuted = from_start && probing.refuted(expected.proto, probes);
        (!refuted).then_some(expected)
    }
}

impl Probing {
    /// Runs the probes still undecided for `dir`; returns the protocol that matched, if any.
    fn run(&mut self, dir: Dir, window_full: bool, probes: &[Proto]) -> Option<Proto> {
        let bytes = &self.first_bytes[dir.index()];
        let verdicts = &mut self.verdicts[dir.index()];
        verdicts.resize(probes.len(), None);
        for (slot, &proto) in verdicts.iter_mut().zip(probes) {
            if matches!(slot, Some(Probe::NoMatch | Probe::Match)) {
                continue;
            }
            let verdict = match proto.probe(dir, bytes) {
                Probe::NeedMore if window_full => Probe::NoMatch,
                v => v,
            };
            *slot = Some(verdict);
            if verdict == Probe::Match {
                return Some(proto);
            }
        }
        None
    }

    /// Every probe said no for the bytes of `dir`.
    fn ruled_out(&self, dir: Dir) -> bool {
        self.verdicts[dir.index()]
            .iter()
            .all(|v| *v == Some(Probe::NoMatch))
    }

    /// The probe of `proto`'s wire protocol said no on some direction that had bytes, or, for a
    /// protocol with a refutation instead (IMA), some direction opened as a protocol it cannot
    /// be (HTTP, TLS, SSH).
    fn refuted(&self, proto: Proto, probes: &[Proto]) -> bool {
        let said_no = probes
            .iter()
            .position(|p| p.wire() == proto.wire())
            .is_some_and(|i| {
                self.verdicts
                    .iter()
                    .any(|v| v.get(i) == Some(&Some(Probe::NoMatch)))
            });
        let other = proto
            .spec()
            .refute
            .is_some_and(|refute| self.first_bytes.iter().any(|first| refute(first).is_some()));
        said_no || other
    }
}
