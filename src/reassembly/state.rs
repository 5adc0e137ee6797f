//! Connection state as Zeek tracks it: one state per endpoint, and `conn_state` derived from both.
//!
//! The endpoint transitions follow Zeek's `TCPSessionAdapter::UpdateStateMachine` (without its
//! role flipping: the caller decides who is the client), and [`ConnState`] follows Zeek's
//! `Conn::conn_state` function in `base/protocols/conn/main.zeek`.

use super::segment::TcpFlags;
use ctxscope_dissectors::Dir;
use serde::Serialize;
use strum::{Display, IntoStaticStr};

/// Where one endpoint is, from the flags it sent (Zeek's `TCP_ENDPOINT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum EndpointState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    /// Seen sending without a SYN: picked up mid-stream.
    Partial,
    Established,
    Closed,
    Reset,
}

#[derive(Clone, Copy, Debug, Default)]
struct Endpoint {
    state: EndpointState,
    prev: EndpointState,
}

impl Endpoint {
    fn set(&mut self, state: EndpointState) {
        if state != self.state {
            self.prev = self.state;
            self.state = state;
        }
    }

    fn is_inactive(self) -> bool {
        matches!(self.state, EndpointState::Inactive | EndpointState::Partial)
    }
}

/// Both endpoints, indexed by the direction they send in (`ToServer` is the originator).
#[derive(Clone, Debug, Default)]
pub(super) struct Endpoints([Endpoint; 2]);

impl Endpoints {
    pub(super) fn state(&self, sender: Dir) -> EndpointState {
        self.0[sender.index()].state
    }

    /// Updates the sender's state (and maybe its peer's) for one packet with `len` payload bytes.
    pub(super) fn packet(&mut self, sender: Dir, flags: TcpFlags, len: u32) {
        use EndpointState::*;
        let is_orig = sender == Dir::ToServer;
        let (syn, fin, rst, ack) = (
            flags.is_syn(),
            flags.is_fin(),
            flags.is_rst(),
            flags.is_ack(),
        );
        let [mut me, mut peer] = [self.0[sender.index()], self.0[sender.reverse().index()]];
        match me.state {
            Inactive => {
                if syn {
                    if is_orig {
                        me.set(if ack { SynAckSent } else { SynSent });
                    } else {
                        // The responder's SYN(-ACK) establishes both sides.
                        if peer.state == SynSent {
                            peer.set(Established);
                        }
                        me.set(Established);
                    }
                }
                if fin {
                    me.set(Closed);
                }
                if rst {
                    me.set(Reset);
                }
                if me.state == Inactive {
                    if !is_orig && len == 0 && peer.state == SynSent {
                        // Some stacks ACK a SYN before answering it: not yet a partial connection.
                    } else if ack && peer.state == Established {
                        // We missed this side's SYN but saw the answer to it.
                        me.set(Established);
                    } else {
                        me.set(Partial);
                    }
                }
            }
            SynSent | SynAckSent => {
                if fin {
                    me.set(Closed);
                }
                if rst {
                    me.set(Reset);
                }
            }
            Established | Partial => {
                if syn && me.state == Partial && peer.state == Inactive && !ack {
                    me.set(SynSent);
                }
                if fin && !rst {
                    me.set(Closed);
                    if peer.state == Reset && peer.prev == Closed {
                        // The peer's FIN then RST was a normal close after all.
                        peer.set(Closed);
                    }
                }
                if rst {
                    me.set(Reset);
                }
            }
            Closed => {
                if rst && peer.state != Closed {
                    me.set(Reset);
                }
            }
            Reset => {}
        }
        self.0[sender.index()] = me;
        self.0[sender.reverse().index()] = peer;
    }

    /// Zeek's `conn_state`. `sizes` are the payload sizes per direction (index: `Dir::index`),
    /// `syn_then_rst` whether the history matches Zeek's RSTOS0 pattern.
    pub(super) fn conn_state(&self, sizes: [u64; 2], syn_then_rst: bool) -> ConnState {
        use EndpointState::*;
        let [orig, resp] = self.0;
        let (os, rs) = (orig.state, resp.state);
        if rs == Reset {
            if matches!(os, SynSent | SynAckSent) || (os == Reset && sizes == [0, 0]) {
                ConnState::Rej
            } else if orig.is_inactive() {
                ConnState::Rstrh
            } else {
                ConnState::Rstr
            }
        } else if os == Reset {
            match (resp.is_inactive(), syn_then_rst) {
                (true, true) => ConnState::Rstos0,
                (true, false) => ConnState::Oth,
                (false, _) => ConnState::Rsto,
            }
        } else if os == Closed && rs == Closed {
            ConnState::Sf
        } else if os == Closed {
            if resp.is_inactive() {
                ConnState::Sh
            } else {
                ConnState::S2
            }
        } else if rs == Closed {
            if orig.is_inactive() {
                ConnState::Shr
            } else {
                ConnState::S3
            }
        } else if os == SynSent && rs == Inactive {
            ConnState::S0
        } else if os == Established && rs == Established {
            ConnState::S1
        } else {
            ConnState::Oth
        }
    }
}

/// Zeek's `conn_state` of a TCP connection. Its name (shown, serialised, [`ConnState::name`])
/// is Zeek's spelling, as in conn.log: the variant's name in upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, IntoStaticStr, Display)]
#[serde(rename_all = "UPPERCASE")]
#[strum(serialize_all = "UPPERCASE")]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Connection established, not terminated.
    S1,
    /// Normal establishment and termination.
    Sf,
    /// Connection attempt rejected.
    Rej,
    /// Established, close attempt by the originator seen (no reply from the responder).
    S2,
    /// Established, close attempt by the responder seen (no reply from the originator).
    S3,
    /// Established, the originator aborted (sent a RST).
    Rsto,
    /// The responder sent a RST.
    Rstr,
    /// The originator sent a SYN then a RST; no SYN-ACK from the responder.
    Rstos0,
    /// The responder sent a SYN-ACK then a RST; no SYN from the originator.
    Rstrh,
    /// The originator sent a SYN then a FIN; no SYN-ACK from the responder ("half" open).
    Sh,
    /// The responder sent a SYN-ACK then a FIN; no SYN from the originator.
    Shr,
    /// No SYN seen, just midstream traffic (or anything else).
    Oth,
}

impl ConnState {
    pub const ALL: [ConnState; 13] = [
        ConnState::S0,
        ConnState::S1,
        ConnState::Sf,
        ConnState::Rej,
        ConnState::S2,
        ConnState::S3,
        ConnState::Rsto,
        ConnState::Rstr,
        ConnState::Rstos0,
        ConnState::Rstrh,
        ConnState::Sh,
        ConnState::Shr,
        ConnState::Oth,
    ];

    /// Zeek's spelling, as in conn.log.
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn from_name(name: &str) -> Option<ConnState> {
        ConnState::ALL.into_iter().find(|s| s.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in ConnState::ALL {
            assert_eq!(ConnState::from_name(state.name()), Some(state));
        }
        assert_eq!(ConnState::from_name("XX"), None);
        assert_eq!(ConnState::Rstos0.to_string(), "RSTOS0");
    }

    #[test]
    fn a_fin_after_the_peers_fin_then_rst_turns_the_rst_back_into_a_close() {
        let mut e = Endpoints::default();
        let (syn, ack, fin, rst) = (TcpFlags::SYN, TcpFlags::ACK, TcpFlags::FIN, TcpFlags::RST);
        e.packet(Dir::ToServer, syn, 0);
        e.packet(Dir::ToClient, syn | ack, 0);
        e.packet(Dir::ToServer, fin | ack, 0);
        e.packet(Dir::ToServer, rst, 0);
        assert_eq!(e.state(Dir::ToServer), EndpointState::Reset);
        e.packet(Dir::ToClient, fin | ack, 0);
        assert_eq!(e.state(Dir::ToServer), EndpointState::Closed);
        assert_eq!(e.conn_state([0, 0], false), ConnState::Sf);
    }
}
