//! DTLS record headers (RFC 6347 4.1, RFC 9147 4): what tells a datagram that carries DTLS.
//!
//! Only the 13-byte plaintext record header is read here: content type, version, epoch,
//! sequence number, length. A datagram is DTLS when it is one or more whole records, each with
//! a known content type and version: the lengths must add up to the datagram exactly, which
//! opaque EDT bytes almost never do. What the records carry (the handshake) is left to a TLS
//! parser.

use serde::Serialize;
use std::fmt;

/// Bytes of a DTLS record header before its fragment.
pub const RECORD_HEADER_LEN: usize = 13;

/// The record-layer version of a DTLS record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum DtlsVersion {
    /// 0xfeff.
    #[serde(rename = "DTLS 1.0")]
    Dtls1_0,
    /// 0xfefd (also the record version of DTLS 1.3's plaintext records).
    #[serde(rename = "DTLS 1.2")]
    Dtls1_2,
    /// 0xfefc.
    #[serde(rename = "DTLS 1.3")]
    Dtls1_3,
}

impl DtlsVersion {
    pub fn from_wire(version: u16) -> Option<DtlsVersion> {
        match version {
            0xfeff => Some(DtlsVersion::Dtls1_0),
            0xfefd => Some(DtlsVersion::Dtls1_2),
            0xfefc => Some(DtlsVersion::Dtls1_3),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            DtlsVersion::Dtls1_0 => "DTLS 1.0",
            DtlsVersion::Dtls1_2 => "DTLS 1.2",
            DtlsVersion::Dtls1_3 => "DTLS 1.3",
        }
    }
}

impl fmt::Display for DtlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The records of a datagram that is DTLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Records {
    /// The version of the first record.
    pub version: DtlsVersion,
    pub count: u32,
}

/// Content types 20 to 25: change_cipher_spec, alert, handshake, application_data, heartbeat,
/// tls12_cid.
fn known_content_type(t: u8) -> bool {
    (20..=25).contains(&t)
}

/// The DTLS records `datagram` consists of, or `None` when it is not exactly a sequence of
/// record headers with their fragments.
pub fn records(datagram: &[u8]) -> Option<Records> {
    let mut rest = datagram;
    let mut first = None;
    let mut count = 0u32;
    while !rest.is_empty() {
        let header = rest.get(..RECORD_HEADER_LEN)?;
        let version = DtlsVersion::from_wire(u16::from_be_bytes([header[1], header[2]]))?;
        if !known_content_type(header[0]) {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([header[11], header[12]]));
        rest = rest.get(RECORD_HEADER_LEN + len..)?;
        first.get_or_insert(version);
        count += 1;
    }
    Some(Records {
        version: first?,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record header: `content_type`, `version`, epoch 0, sequence number 1, `len`.
    fn header(content_type: u8, version: u16, len: u16) -> Vec<u8> {
        let mut h = vec![content_type];
        h.extend_from_slice(&version.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&len.to_be_bytes());
        h
    }

    #[test]
    fn whole_records_are_dtls() {
        // A ClientHello record of 5 bytes (content cut for the test).
        let mut hello = header(22, 0xfeff, 5);
        hello.extend_from_slice(&[1, 0, 0, 0, 0]);
        assert_eq!(
            records(&hello),
            Some(Records {
                version: DtlsVersion::Dtls1_0,
                count: 1
            })
        );
        // ChangeCipherSpec then an encrypted Finished, in one datagram.
        let mut two = header(20, 0xfefd, 1);
        two.push(1);
        two.extend(header(22, 0xfefd, 3));
        two.extend_from_slice(&[9, 9, 9]);
        assert_eq!(
            records(&two).map(|r| (r.version, r.count)),
            Some((DtlsVersion::Dtls1_2, 2))
        );
        let mut empty_fragment = header(23, 0xfefc, 0);
        assert_eq!(
            records(&empty_fragment).map(|r| r.version),
            Some(DtlsVersion::Dtls1_3)
        );
        // A byte too many or too few, an unknown type or version: not DTLS.
        empty_fragment.push(0);
        assert_eq!(records(&empty_fragment), None);
        assert_eq!(records(&hello[..hello.len() - 1]), None);
        assert_eq!(records(&header(26, 0xfeff, 0)), None);
        assert_eq!(records(&header(22, 0x0303, 0)), None);
        assert_eq!(records(&hello[..12]), None);
        assert_eq!(records(&[]), None);
    }

    #[test]
    fn versions_are_named() {
        assert_eq!(DtlsVersion::Dtls1_0.to_string(), "DTLS 1.0");
        assert_eq!(
            serde_json::to_string(&DtlsVersion::Dtls1_2).unwrap(),
            "\"DTLS 1.2\""
        );
        assert_eq!(DtlsVersion::from_wire(0xfefe), None);
    }
}
