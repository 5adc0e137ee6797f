//! A session's launch: the milestones of its first connection as the capture point saw them,
//! from the client's SYN to the server's first data after the ICA init phase (the first
//! screen), each with the time it took since the one before.

use ctxscope_dissectors::Timestamp;
use serde::Serialize;

/// A milestone of a launch, in the order they normally come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    /// The client's SYN.
    Syn,
    /// The ACK that ended the TCP handshake.
    Connected,
    /// The client's TLS ClientHello (ICA or CGP over TLS).
    TlsClientHello,
    /// The server's TLS ServerHello: what follows is encrypted.
    TlsServerHello,
    /// The client's CGP BIND_REQUEST.
    CgpBind,
    /// The server's CGP BIND_RESPONSE.
    CgpBound,
    /// The server's ICA detect string.
    Detect,
    /// The host's INIT_REQUEST.
    InitRequest,
    /// The client's INIT_RESPONSE (its first module).
    InitResponse,
    /// The encryption was settled (the key exchange, or no encryption).
    KeyExchange,
    /// Both sides finished the init phase.
    InitComplete,
    /// The server's first data after the init phase: the first screen.
    FirstScreen,
    /// EDT: the client's first datagram.
    EdtFirstDatagram,
    /// EDT: the server's first datagram back.
    EdtAnswered,
}

impl Milestone {
    /// The serialised word (`syn`, `init_request`, `first_screen`, ...), as a constant.
    pub const fn name(self) -> &'static str {
        match self {
            Milestone::Syn => "syn",
            Milestone::Connected => "connected",
            Milestone::TlsClientHello => "tls_client_hello",
            Milestone::TlsServerHello => "tls_server_hello",
            Milestone::CgpBind => "cgp_bind",
            Milestone::CgpBound => "cgp_bound",
            Milestone::Detect => "detect",
            Milestone::InitRequest => "init_request",
            Milestone::InitResponse => "init_response",
            Milestone::KeyExchange => "key_exchange",
            Milestone::InitComplete => "init_complete",
            Milestone::FirstScreen => "first_screen",
            Milestone::EdtFirstDatagram => "edt_first_datagram",
            Milestone::EdtAnswered => "edt_answered",
        }
    }

    pub const ALL: [Milestone; 14] = [
        Milestone::Syn,
        Milestone::Connected,
        Milestone::TlsClientHello,
        Milestone::TlsServerHello,
        Milestone::CgpBind,
        Milestone::CgpBound,
        Milestone::Detect,
        Milestone::InitRequest,
        Milestone::InitResponse,
        Milestone::KeyExchange,
        Milestone::InitComplete,
        Milestone::FirstScreen,
        Milestone::EdtFirstDatagram,
        Milestone::EdtAnswered,
    ];
}

/// One milestone, when, and how long after the one before.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LaunchStep {
    pub step: Milestone,
    pub at: Timestamp,
    /// Since the previous step (0 for the first): the phase ending with this step.
    pub after_ms: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Launch {
    /// In the order they happened; each milestone at most once.
    pub steps: Vec<LaunchStep>,
}

impl Launch {
    /// `step` happened at `at`; a milestone already seen keeps its first time.
    pub fn add(&mut self, step: Milestone, at: Timestamp) {
        if self.at(step).is_some() {
            return;
        }
        let k = self.steps.partition_point(|s| s.at <= at);
        self.steps.insert(
            k,
            LaunchStep {
                step,
                at,
                after_ms: 0.0,
            },
        );
        let mut previous = None;
        for s in &mut self.steps {
            // To the microsecond, pcap's resolution.
            s.after_ms = previous.map_or(0.0, |p| s.at.since(p).as_micros() as f64 / 1e3);
            previous = Some(s.at);
        }
    }

    pub fn at(&self, step: Milestone) -> Option<Timestamp> {
        self.steps.iter().find(|s| s.step == step).map(|s| s.at)
    }

    /// From the first milestone to the first screen, when the capture shows both.
    pub fn duration_secs(&self) -> Option<f64> {
        let first = self.steps.first()?.at;
        Some(self.at(Milestone::FirstScreen)?.since(first).as_secs_f64())
    }

    /// The longest phase: the step that took longest since the one before.
    pub fn slowest(&self) -> Option<&LaunchStep> {
        self.steps
            .iter()
            .skip(1)
            .max_by(|a, b| a.after_ms.total_cmp(&b.after_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn steps_keep_their_order_and_the_phase_before_them() {
        let t0 = Timestamp::from_secs(1_768_467_600);
        let at = |ms: u64| t0.plus(Duration::from_millis(ms));
        let mut l = Launch::default();
        assert_eq!((l.duration_secs(), l.slowest()), (None, None));
        l.add(Milestone::Syn, at(0));
        l.add(Milestone::Detect, at(40));
        l.add(Milestone::Connected, at(20));
        l.add(Milestone::Detect, at(90)); // the first time stays
        l.add(Milestone::InitRequest, at(1040));
        assert_eq!(l.duration_secs(), None, "no first screen yet");
        l.add(Milestone::FirstScreen, at(1500));
        let steps: Vec<(&str, f64)> = l
            .steps
            .iter()
            .map(|s| (s.step.name(), s.after_ms))
            .collect();
        assert_eq!(
            steps,
            [
                ("syn", 0.0),
                ("connected", 20.0),
                ("detect", 20.0),
                ("init_request", 1000.0),
                ("first_screen", 460.0)
            ]
        );
        assert_eq!(l.duration_secs(), Some(1.5));
        assert_eq!(l.slowest().map(|s| s.step), Some(Milestone::InitRequest));
    }

    #[test]
    fn a_milestone_is_named_as_it_is_serialised() {
        for m in Milestone::ALL {
            assert_eq!(m.name(), crate::model::words::name_of(&m));
        }
    }
}
