//! Open parameters of the Citrix.TcpProxyService channel (PROTOCOLS.md 3.4):
//! `[version u8][varlen len]["host:port" ASCII][protocol u16]`.
//!
//! This is where the destination of the proxied ICA (or RDP, HTTP) stream is announced.

use super::model::ProxyProtocol;
use super::wire::{PResult, sized};
use crate::text::WireText;
use nom::number::complete::{le_u8, le_u16};
use serde::Serialize;

/// Where the gateway is asked to connect, and what will flow there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProxyTarget {
    pub version: u8,
    /// "host:port" as sent.
    pub target: WireText,
    /// The port after the last ':' of the target, when it is a number.
    pub port: Option<u16>,
    pub protocol: ProxyProtocol,
}

pub fn proxy_params(i: &[u8]) -> PResult<'_, ProxyTarget> {
    let (i, version) = le_u8(i)?;
    let (i, target) = sized(i)?;
    let (i, protocol) = le_u16(i)?;
    Ok((
        i,
        ProxyTarget {
            version,
            target: WireText::from_bytes(target),
            port: port_of(target),
            protocol: ProxyProtocol::from_code(protocol),
        },
    ))
}

/// Open parameters read as Citrix.TcpProxyService's when they are exactly that layout, every
/// byte accounted for (used where the service binding cannot say what they are).
pub fn exact_proxy_params(params: &[u8]) -> Option<ProxyTarget> {
    match proxy_params(params) {
        Ok(([], proxy)) => Some(proxy),
        _ => None,
    }
}

fn port_of(target: &[u8]) -> Option<u16> {
    let colon = target.iter().rposition(|&b| b == b':')?;
    let digits = target.get(colon + 1..)?;
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits
        .iter()
        .try_fold(0u32, |n, &d| Some(n * 10 + u32::from(d - b'0')))
        .and_then(|n| u16::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgp::wire::WireError;

    #[test]
    fn ica_target() {
        let params = [
            0x01, // version 1
            0x0E, // 14 bytes
            b'1', b'0', b'.', b'0', b'.', b'0', b'.', b'7', b':', b'1', b'4', b'9', b'4', b'\n',
            0x03, 0x00, // protocol 3 = ICA
        ];
        // The target here ends with a newline: kept escaped, and the port does not parse.
        let (rest, p) = proxy_params(&params).unwrap();
        assert!(rest.is_empty());
        assert_eq!(p.version, 1);
        assert_eq!(p.target.as_str(), "10.0.0.7:1494\\x0a");
        assert_eq!(p.port, None);
        assert_eq!(p.protocol, ProxyProtocol::Ica);

        let params = [0x01, 0x06, b'h', b':', b'3', b'3', b'8', b'9', 0x05, 0x00];
        let (_, p) = proxy_params(&params).unwrap();
        assert_eq!((p.port, p.protocol), (Some(3389), ProxyProtocol::Rdp));
    }

    #[test]
    fn ports_that_are_not_ports() {
        assert_eq!(port_of(b"host"), None);
        assert_eq!(port_of(b"host:"), None);
        assert_eq!(port_of(b"host:65536"), None);
        assert_eq!(port_of(b"host:999999"), None);
        assert_eq!(port_of(b"[::1]:80"), Some(80));
        assert_eq!(port_of(b"host:65535"), Some(65535));
    }

    #[test]
    fn truncated_params() {
        let params = [0x01, 0x09, b'h', b':', b'1'];
        assert!(matches!(
            proxy_params(&params),
            Err(nom::Err::Error(WireError::Truncated))
        ));
        assert!(proxy_params(&[0x01, 0x00, 0x03]).is_err());
    }
}
