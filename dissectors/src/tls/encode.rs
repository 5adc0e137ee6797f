//! Builders of TLS and DTLS handshake bytes, for the capture generator and the tests: records,
//! handshake messages and the extensions the dissector reads. Lengths are computed; everything
//! else is what the caller says. A length its field cannot hold is refused with [`TooLong`].
//!
//! A TLS 1.2 handshake is written as: the client's [`record`] of [`message`]
//! ([`CLIENT_HELLO`], [`client_hello`]); the server's record of its ServerHello
//! ([`server_hello`]), [`certificate`] and an empty [`SERVER_DONE`]; then ChangeCipherSpec and
//! encrypted records, whose contents do not matter.

use std::fmt;

/// Record content types.
pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;

/// Handshake message types.
pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;
pub const HELLO_VERIFY_REQUEST: u8 = 3;
pub const CERTIFICATE: u8 = 11;
pub const SERVER_DONE: u8 = 14;

/// A value does not fit its length field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLong {
    pub what: &'static str,
    pub len: usize,
    pub max: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {} bytes, at most {} fit",
            self.what, self.len, self.max
        )
    }
}

impl std::error::Error for TooLong {}

pub type Result<T> = std::result::Result<T, TooLong>;

/// `bytes` behind a big-endian length of `width` bytes (1 to 3).
fn sized(what: &'static str, width: usize, bytes: &[u8]) -> Result<Vec<u8>> {
    let max = (1usize << (8 * width)) - 1;
    if bytes.len() > max {
        return Err(TooLong {
            what,
            len: bytes.len(),
            max,
        });
    }
    let len = (bytes.len() as u32).to_be_bytes();
    Ok([&len[4 - width..], bytes].concat())
}

/// A TLS record.
pub fn record(content_type: u8, version: u16, body: &[u8]) -> Result<Vec<u8>> {
    let body = sized("record body", 2, body)?;
    Ok([&[content_type][..], &version.to_be_bytes(), &body].concat())
}

/// A TLS handshake message: type, 24-bit length, body.
pub fn message(msg_type: u8, body: &[u8]) -> Result<Vec<u8>> {
    Ok([vec![msg_type], sized("handshake message", 3, body)?].concat())
}

/// An extension of a hello message.
pub fn extension(ext_type: u16, data: &[u8]) -> Result<Vec<u8>> {
    Ok([
        ext_type.to_be_bytes().to_vec(),
        sized("extension", 2, data)?,
    ]
    .concat())
}

/// server_name with one host_name entry.
pub fn sni(name: &[u8]) -> Result<Vec<u8>> {
    let entry = [vec![0], sized("server name", 2, name)?].concat();
    extension(0, &sized("server name list", 2, &entry)?)
}

/// application_layer_protocol_negotiation: the client's list, or the server's one choice.
pub fn alpn(names: &[&[u8]]) -> Result<Vec<u8>> {
    let mut list = Vec::new();
    for name in names {
        list.extend(sized("protocol name", 1, name)?);
    }
    extension(16, &sized("protocol name list", 2, &list)?)
}

/// A client's supported_versions: a one-byte length, then the versions.
pub fn supported_versions(versions: &[u16]) -> Result<Vec<u8>> {
    let list: Vec<u8> = versions.iter().flat_map(|v| v.to_be_bytes()).collect();
    extension(43, &sized("version list", 1, &list)?)
}

/// A server's supported_versions: the chosen version alone.
pub fn chosen_version(version: u16) -> Vec<u8> {
    [[0, 43], [0, 2], version.to_be_bytes()].concat()
}

/// The body of a ClientHello offering two cipher suites (0xc02b, 0x1301); a DTLS one has
/// a `cookie` after the session id.
pub fn client_hello(
    version: u16,
    cookie: Option<&[u8]>,
    extensions: &[Vec<u8>],
) -> Result<Vec<u8>> {
    let cookie = match cookie {
        Some(c) => sized("cookie", 1, c)?,
        None => Vec::new(),
    };
    Ok([
        &version.to_be_bytes()[..],
        &[0x11; 32], // random
        &[0],        // no session id
        &cookie,
        &[0x00, 0x04, 0xc0, 0x2b, 0x13, 0x01],
        &[1, 0], // null compression
        &sized("extensions", 2, &extensions.concat())?,
    ]
    .concat())
}

/// The body of a ServerHello.
pub fn server_hello(version: u16, cipher: u16, extensions: &[Vec<u8>]) -> Result<Vec<u8>> {
    Ok([
        &version.to_be_bytes()[..],
        &[0x22; 32], // random
        &[0],        // no session id
        &cipher.to_be_bytes(),
        &[0], // null compression
        &sized("extensions", 2, &extensions.concat())?,
    ]
    .concat())
}

/// The body of a Certificate message: the chain of DER certificates.
pub fn certificate(chain: &[&[u8]]) -> Result<Vec<u8>> {
    let mut list = Vec::new();
    for cert in chain {
        list.extend(sized("certificate", 3, cert)?);
    }
    sized("certificate list", 3, &list)
}

/// A DTLS record of `epoch` with sequence number `seq` (48 bits kept).
pub fn dtls_record(
    content_type: u8,
    version: u16,
    epoch: u16,
    seq: u64,
    body: &[u8],
) -> Result<Vec<u8>> {
    Ok([
        &[content_type][..],
        &version.to_be_bytes(),
        &epoch.to_be_bytes(),
        &seq.to_be_bytes()[2..],
        &sized("record body", 2, body)?,
    ]
    .concat())
}

/// A DTLS handshake message fragment: `part` of a `total`-byte body, from `offset`.
pub fn dtls_fragment(
    msg_type: u8,
    message_seq: u16,
    total: usize,
    offset: usize,
    part: &[u8],
) -> Result<Vec<u8>> {
    let u24 = |what, n: usize| -> Result<Vec<u8>> {
        let max = (1 << 24) - 1;
        let n = u32::try_from(n).ok().filter(|&n| n <= max).ok_or(TooLong {
            what,
            len: n,
            max: max as usize,
        })?;
        Ok(n.to_be_bytes()[1..].to_vec())
    };
    Ok([
        vec![msg_type],
        u24("handshake message", total)?,
        message_seq.to_be_bytes().to_vec(),
        u24("fragment offset", offset)?,
        sized("fragment", 3, part)?,
    ]
    .concat())
}

/// A whole DTLS handshake message.
pub fn dtls_message(msg_type: u8, message_seq: u16, body: &[u8]) -> Result<Vec<u8>> {
    dtls_fragment(msg_type, message_seq, body.len(), 0, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_written_and_refused_past_their_field() {
        assert_eq!(
            record(HANDSHAKE, 0x0303, &[9, 9]).unwrap(),
            [22, 3, 3, 0, 2, 9, 9]
        );
        assert_eq!(message(SERVER_DONE, &[]).unwrap(), [14, 0, 0, 0]);
        assert_eq!(sni(b"ab").unwrap(), [0, 0, 0, 7, 0, 5, 0, 0, 2, b'a', b'b']);
        assert_eq!(chosen_version(0x0304), [0, 43, 0, 2, 3, 4]);
        assert_eq!(
            dtls_record(APPLICATION_DATA, 0xfefd, 1, 0x0102_0304_0506_0708, &[7]).unwrap(),
            [23, 0xfe, 0xfd, 0, 1, 3, 4, 5, 6, 7, 8, 0, 1, 7]
        );
        let err = record(HANDSHAKE, 0x0303, &[0; 70_000]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "record body is 70000 bytes, at most 65535 fit"
        );
        assert!(alpn(&[&[0; 300]]).is_err());
        assert!(dtls_fragment(CERTIFICATE, 0, 1 << 24, 0, &[]).is_err());
    }
}
