//! What the TLS and DTLS dissectors report: the facts of a handshake as events when each message
//! is read, and a summary with all of them and the record counters.

use crate::anomaly::AnomalyCount;
use crate::text::WireText;
use crate::types::Timestamp;
use serde::{Serialize, Serializer};
use std::fmt;
use tls_parser::{TlsCipherSuiteID, TlsVersion};

/// A protocol version as the wire gives it (0x0303 is TLS 1.2, 0xfeff DTLS 1.0). Serialised as
/// its name: "TLS 1.2", "DTLS 1.0", or the number in hex for one without a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(pub u16);

/// DTLS 1.3 (RFC 9147), which `tls-parser` does not name.
const DTLS13: u16 = 0xfefc;

impl Version {
    /// "TLS 1.2", "SSL 3.0", "DTLS 1.0", "TLS 1.3 draft 23"; `None` for a number without a name.
    pub fn name(self) -> Option<&'static str> {
        Some(match TlsVersion(self.0) {
            TlsVersion::Ssl30 => "SSL 3.0",
            TlsVersion::Tls10 => "TLS 1.0",
            TlsVersion::Tls11 => "TLS 1.1",
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
            TlsVersion::Tls13Draft18 => "TLS 1.3 draft 18",
            TlsVersion::Tls13Draft19 => "TLS 1.3 draft 19",
            TlsVersion::Tls13Draft20 => "TLS 1.3 draft 20",
            TlsVersion::Tls13Draft21 => "TLS 1.3 draft 21",
            TlsVersion::Tls13Draft22 => "TLS 1.3 draft 22",
            TlsVersion::Tls13Draft23 => "TLS 1.3 draft 23",
            TlsVersion::DTls10 => "DTLS 1.0",
            TlsVersion::DTls12 => "DTLS 1.2",
            TlsVersion(DTLS13) => "DTLS 1.3",
            _ => return None,
        })
    }

    /// SSL 3.0, TLS 1.0, TLS 1.1 and DTLS 1.0 (TLS 1.1's datagram form): deprecated (RFC 8996),
    /// no longer accepted by current clients and policies.
    pub fn is_legacy(self) -> bool {
        matches!(
            TlsVersion(self.0),
            TlsVersion::Ssl30 | TlsVersion::Tls10 | TlsVersion::Tls11 | TlsVersion::DTls10
        )
    }

    /// TLS 1.3 (or one of its drafts) or DTLS 1.3: the handshake is encrypted after the
    /// ServerHello.
    pub fn is_13(self) -> bool {
        self.0 == TlsVersion::Tls13.0 || self.0 == DTLS13 || self.0 >> 8 == 0x7f
    }

    /// The reserved values clients offer to keep servers tolerant (RFC 8701): not versions.
    pub fn is_grease(self) -> bool {
        self.0 & 0x0f0f == 0x0a0a
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A cipher suite: its number (serialised in hex, "0xc02b") and its IANA name when `tls-parser`
/// knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CipherSuite {
    #[serde(serialize_with = "hex16")]
    pub id: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
}

impl CipherSuite {
    pub fn new(id: u16) -> CipherSuite {
        CipherSuite {
            id,
            name: TlsCipherSuiteID(id).get_ciphersuite().map(|c| c.name),
        }
    }
}

/// The IANA name, or the number in hex.
impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(name) => f.write_str(name),
            None => write!(f, "0x{:04x}", self.id),
        }
    }
}

fn hex16<S: Serializer>(v: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("0x{v:04x}"))
}

/// What a client offered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientHello {
    /// The server name the client asked for (server_name extension, host_name entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<WireText>,
    /// The version field of the message (TLS 1.3 clients put TLS 1.2 here).
    pub legacy_version: Version,
    /// The supported_versions extension, GREASE values left out; empty without it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supported_versions: Vec<Version>,
    /// Application protocols offered (ALPN): "h2", "http/1.1", ...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<WireText>,
}

impl ClientHello {
    /// The most recent version offered.
    pub fn highest_offered(&self) -> Version {
        self.supported_versions
            .iter()
            .copied()
            .max_by_key(|v| rank(*v))
            .unwrap_or(self.legacy_version)
    }
}

/// Orders versions by age: DTLS numbers count down (DTLS 1.0 is 0xfeff, 1.2 is 0xfefd).
fn rank(v: Version) -> i32 {
    if v.0 >> 8 == 0xfe {
        -i32::from(v.0)
    } else {
        i32::from(v.0)
    }
}

/// What the server chose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerHello {
    /// The chosen version: the supported_versions extension (TLS 1.3) or the version field.
    pub version: Version,
    pub cipher_suite: CipherSuite,
    /// The application protocol the server picked (ALPN), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<WireText>,
}

/// The server's own certificate (the first of the chain), as far as an admin needs it. Nothing
/// else of it is ever kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Certificate {
    /// The distinguished name, as "C=US, O=Example, CN=vda.example.com".
    pub subject: WireText,
    pub issuer: WireText,
    /// The subject's common name, which names the server when there are no SAN names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<WireText>,
    /// DNS names of the subjectAltName extension, in order, as many as fit
    /// [`Certificate::MAX_SAN_NAMES`] and [`Certificate::MAX_SAN_BYTES`].
    pub san_dns: Vec<WireText>,
    /// How many DNS names the extension holds (more than `san_dns` when some were not kept).
    pub san_dns_count: u32,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
}

impl Certificate {
    /// SAN DNS names kept, and their total length: a certificate for hundreds of names keeps its
    /// count, and a connection's facts stay a few KiB whatever a server sends.
    pub const MAX_SAN_NAMES: usize = 256;
    pub const MAX_SAN_BYTES: usize = 8 * 1024;
}

/// The facts of one handshake, as far as the capture showed them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Handshake {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_hello: Option<ClientHello>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_hello: Option<ServerHello>,
    /// The server certificate: visible up to TLS 1.2 (TLS 1.3 encrypts it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
}

/// One message of the handshake, when it is read; each comes at most once per connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    ClientHello(ClientHello),
    ServerHello(ServerHello),
    Certificate(Certificate),
}

/// How far the handshake was read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// Messages are still being read; at the end of a connection, the capture did not show the
    /// handshake to its end (the server never answered, or the capture stops).
    #[default]
    InProgress,
    /// Everything the handshake shows in the clear was read (or the server's side became
    /// encrypted): the rest is only counted.
    Complete,
    /// Reading stopped early (a cap, a malformed message, bytes lost): an anomaly says why.
    Abandoned,
}

/// The handshake and the record counters of one connection (or DTLS association).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub handshake: Handshake,
    pub progress: Progress,
    #[serde(flatten)]
    pub counts: Counts,
    /// Anomalies by code (only codes seen).
    pub anomalies: Vec<AnomalyCount>,
}

/// What went by, per direction: `[to_server, to_client]`. Over TCP the engine stops feeding a
/// connection once its handshake is read (the stream depth, `limits.stream_depth`): the counts
/// then cover the bytes up to that point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Bytes fed (TCP stream bytes, or datagram payload bytes).
    pub bytes: [u64; 2],
    /// Record headers read.
    pub records: [u64; 2],
    /// Application-data records and the bytes they carry (counted, never read).
    pub application_data_records: [u64; 2],
    pub application_data_bytes: [u64; 2],
    /// Bytes the capture lost.
    pub gap_bytes: [u64; 2],
    /// Bytes not walked as records: the record framing was lost (a gap, or something that is
    /// not a record).
    pub undecoded_bytes: [u64; 2],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_have_names_and_ages() {
        assert_eq!(Version(0x0303).to_string(), "TLS 1.2");
        assert_eq!(Version(0xfeff).to_string(), "DTLS 1.0");
        assert_eq!(Version(0xfefc).to_string(), "DTLS 1.3");
        assert_eq!(Version(0x7f17).to_string(), "TLS 1.3 draft 23");
        assert_eq!(Version(0x1234).to_string(), "0x1234");
        assert_eq!(
            serde_json::to_string(&Version(0x0304)).unwrap(),
            "\"TLS 1.3\""
        );
        let legacy: Vec<u16> = [0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0xfeff, 0xfefd]
            .into_iter()
            .filter(|&v| Version(v).is_legacy())
            .collect();
        assert_eq!(legacy, [0x0300, 0x0301, 0x0302, 0xfeff]);
        assert!(Version(0x0304).is_13() && Version(0x7f12).is_13() && Version(0xfefc).is_13());
        assert!(!Version(0x0303).is_13() && !Version(0xfefd).is_13());
        assert!(Version(0x1a1a).is_grease() && !Version(0x0303).is_grease());
    }

    #[test]
    fn the_highest_offered_version_knows_dtls_counts_down() {
        let hello = |legacy, offered: &[u16]| ClientHello {
            sni: None,
            legacy_version: Version(legacy),
            supported_versions: offered.iter().map(|&v| Version(v)).collect(),
            alpn: Vec::new(),
        };
        assert_eq!(hello(0x0303, &[]).highest_offered(), Version(0x0303));
        assert_eq!(
            hello(0x0303, &[0x0303, 0x0304]).highest_offered(),
            Version(0x0304)
        );
        assert_eq!(
            hello(0xfefd, &[0xfeff, 0xfefd]).highest_offered(),
            Version(0xfefd)
        );
    }

    #[test]
    fn cipher_suites_are_named_and_numbered_in_hex() {
        let known = CipherSuite::new(0xc02b);
        assert_eq!(known.name, Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"));
        assert_eq!(
            serde_json::to_string(&known).unwrap(),
            r#"{"id":"0xc02b","name":"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}"#
        );
        let unknown = CipherSuite::new(0xfefe);
        assert_eq!((unknown.name, unknown.to_string()), (None, "0xfefe".into()));
    }
}
