//! The facts of ClientHello and ServerHello messages, out of `tls-parser`'s structures (TLS and
//! DTLS share them).

use super::event::{CipherSuite, ClientHello, ServerHello, Version};
use crate::text::WireText;
use tls_parser::{
    IResult, SNIType, TlsExtension, TlsServerHelloContents, parse_tls_client_hello_extension,
    parse_tls_extension_unknown, parse_tls_server_hello_extension,
};

/// ALPN names and offered versions kept from one message; a client offers a handful.
const MAX_LISTED: usize = 16;

/// The facts of a ClientHello (TLS or DTLS).
pub(super) fn client_hello<'a>(hello: &impl tls_parser::ClientHello<'a>) -> ClientHello {
    let mut facts = ClientHello {
        sni: None,
        legacy_version: Version(hello.version().0),
        supported_versions: Vec::new(),
        alpn: Vec::new(),
    };
    for_each_extension(
        hello.ext(),
        parse_tls_client_hello_extension,
        |ext| match ext {
            TlsExtension::SNI(names) if facts.sni.is_none() => {
                facts.sni = names
                    .iter()
                    .find(|(kind, _)| *kind == SNIType::HostName)
                    .map(|(_, name)| WireText::from_bytes(name));
            }
            TlsExtension::SupportedVersions(versions) => {
                let offered = versions.iter().map(|v| Version(v.0));
                facts.supported_versions = offered
                    .filter(|v| !v.is_grease())
                    .take(MAX_LISTED)
                    .collect();
            }
            TlsExtension::ALPN(names) => {
                facts.alpn = names
                    .iter()
                    .take(MAX_LISTED)
                    .map(|n| WireText::from_bytes(n))
                    .collect();
            }
            _ => {}
        },
    );
    facts
}

/// The facts of a ServerHello (TLS or DTLS).
pub(super) fn server_hello(hello: &TlsServerHelloContents<'_>) -> ServerHello {
    let mut facts = ServerHello {
        version: Version(hello.version.0),
        cipher_suite: CipherSuite::new(hello.cipher.0),
        alpn: None,
    };
    for_each_extension(
        hello.ext,
        parse_tls_server_hello_extension,
        |ext| match ext {
            // TLS 1.3: the version field stays at TLS 1.2; the extension holds the chosen one.
            TlsExtension::SupportedVersions(chosen) => {
                if let Some(v) = chosen.first() {
                    facts.version = Version(v.0);
                }
            }
            TlsExtension::ALPN(names) => {
                facts.alpn = names.first().map(|n| WireText::from_bytes(n))
            }
            _ => {}
        },
    );
    facts
}

/// Runs `each` on every extension of a hello message that `parse` reads. One that `parse`
/// refuses (a malformed key share, say) is stepped over by its length, so the ones after it
/// still count; the walk ends where not even that can be read.
fn for_each_extension<'a>(
    raw: Option<&'a [u8]>,
    parse: fn(&'a [u8]) -> IResult<&'a [u8], TlsExtension<'a>>,
    mut each: impl FnMut(TlsExtension<'a>),
) {
    let mut rest = raw.unwrap_or_default();
    while !rest.is_empty() {
        rest = match parse(rest) {
            Ok((after, ext)) => {
                each(ext);
                after
            }
            Err(_) => match parse_tls_extension_unknown(rest) {
                Ok((after, _)) => after,
                Err(_) => return,
            },
        };
    }
}
