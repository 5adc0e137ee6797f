//! TLS and DTLS: the metadata of the handshake, nothing of what it protects.
//!
//! Citrix runs ICA and CGP inside TLS (VDA SSL on 443, Citrix Gateway, TLS on 1494/2598) and EDT
//! inside DTLS. What the handshake shows in the clear is what an admin needs to judge the
//! protection: the server name the client asked for (SNI), the versions offered and chosen, the
//! cipher suite, ALPN, and (up to TLS 1.2, where it is not encrypted) the server's certificate:
//! subject, issuer, SAN DNS names and validity. Nothing else of a certificate is kept (no key,
//! no signature, no serial, no DER bytes).
//!
//! Records and handshake messages are parsed by rusticata's `tls-parser` and certificates by
//! `x509-parser`; this module only walks record headers, joins handshake messages split over
//! records and segments (with a cap), and stops reading once the metadata is complete or the
//! direction is encrypted: from then on records are only counted.
//!
//! - [`event`]: the facts ([`ClientHello`], [`ServerHello`], [`Certificate`]), events, summary;
//! - `hello` and `cert`: the facts out of the parsers' structures;
//! - `reader`: what the messages of a handshake add up to (TLS and DTLS alike), and `anomaly`,
//!   the anomalies both dissectors report ([`AnomalyKind`]);
//! - [`stream`]: the TCP [`Dissector`];
//! - [`dtls`]: the datagram dissector ([`dtls::Dissector`]), one feed per datagram;
//! - `encode` (feature `encode`): builders of handshake bytes, for the capture generator and
//!   the tests.

mod anomaly;
mod cert;
pub mod dtls;
#[cfg(any(test, feature = "encode"))]
pub mod encode;
pub mod event;
mod hello;
mod reader;
pub mod stream;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

pub use anomaly::AnomalyKind;
pub use event::{
    Certificate, CipherSuite, ClientHello, Counts, Event, Handshake, Progress, ServerHello,
    Summary, Version,
};
pub use reader::MESSAGE_CAP;
pub use stream::Dissector;

use crate::code::Coded;
use crate::registry::{Colour, Probe, ProtoSpec, Transport};
use crate::types::Dir;

/// TLS over TCP, found by its first record wherever it runs; on a Citrix port it carries ICA or
/// CGP (the engine knows which the port suggested).
pub static SPEC: ProtoSpec = ProtoSpec {
    name: "tls",
    title: "TLS",
    description: "TLS handshake metadata (SNI, versions, cipher suite, server certificate)",
    transport: Transport::Tcp,
    // Found by payload: `ports.tls` (e.g. 443 for a VDA or a Gateway) only names the server side
    // of connections picked up mid-stream.
    default_ports: &[],
    wire: "tls",
    probe: Some(probe),
    refute: None,
    new: |_| Box::new(Dissector::new()),
    // TLS belongs on any port.
    unexpected_port_finding: None,
    // The DTLS dissector reports the same.
    anomalies: AnomalyKind::CODES,
    colour: Colour::LightMagenta,
};

/// Content type of a handshake record.
const HANDSHAKE_CONTENT: u8 = 0x16;

/// Matches a handshake record header at the start of a direction: content type 22, version
/// 3.0 to 3.4 (SSL 3.0 to TLS 1.3's record version), a length a record can have. A stream
/// picked up after the handshake (application data only) is not recognised.
pub fn probe(_dir: Dir, first: &[u8]) -> Probe {
    match *first {
        []
        | [HANDSHAKE_CONTENT]
        | [HANDSHAKE_CONTENT, 0x03]
        | [HANDSHAKE_CONTENT, 0x03, 0x00..=0x04] => Probe::NeedMore,
        [HANDSHAKE_CONTENT, 0x03, 0x00..=0x04, _] => Probe::NeedMore,
        [HANDSHAKE_CONTENT, 0x03, 0x00..=0x04, hi, lo, ..]
            if (1..=tls_parser::MAX_RECORD_LEN).contains(&u16::from_be_bytes([hi, lo])) =>
        {
            Probe::Match
        }
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod probe_tests {
    use super::*;

    #[test]
    fn probe_decides_on_a_handshake_record_header() {
        for dir in Dir::BOTH {
            // A ClientHello record of TLS 1.0 record version, 512 bytes.
            assert_eq!(
                probe(dir, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]),
                Probe::Match
            );
            assert_eq!(probe(dir, &[0x16, 0x03, 0x03, 0x00, 0x31]), Probe::Match);
            // Not enough bytes yet, all of them consistent with a header.
            for short in [&[][..], &[0x16], &[0x16, 0x03], &[0x16, 0x03, 0x01, 0x02]] {
                assert_eq!(probe(dir, short), Probe::NeedMore, "{short:?}");
            }
            // Application data, a version 3.7, an empty or oversized record, SSLv2, CGP, ICA.
            for other in [
                &[0x17, 0x03, 0x03, 0x00, 0x20][..],
                &[0x16, 0x03, 0x07, 0x00, 0x10],
                &[0x16, 0x03, 0x01, 0x00, 0x00],
                &[0x16, 0x03, 0x01, 0x41, 0x01],
                &[0x80, 0x2e, 0x01, 0x00, 0x02],
                b"\x1aCGP/01",
                b"\x7f\x7fICA\x00",
                &[0x16, 0x02],
            ] {
                assert_eq!(probe(dir, other), Probe::NoMatch, "{other:?}");
            }
        }
    }
}
