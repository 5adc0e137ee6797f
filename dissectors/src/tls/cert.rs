//! The few facts kept of a server certificate, read with `x509-parser`: subject, issuer, common
//! name, SAN DNS names and validity. The parsed certificate (key, signature, extensions) is
//! dropped as soon as they are taken.

use super::event::Certificate;
use crate::text::WireText;
use crate::types::Timestamp;
use x509_parser::extensions::GeneralName;
use x509_parser::parse_x509_certificate;

/// The facts of a DER-encoded certificate; `None` if it does not parse as X.509.
pub(super) fn certificate(der: &[u8]) -> Option<Certificate> {
    let (_, cert) = parse_x509_certificate(der).ok()?;
    let name = |n: &x509_parser::x509::X509Name<'_>| WireText::from_bytes(n.to_string().as_bytes());
    let common_name = cert.subject().iter_common_name().next().map(|cn| {
        // A string type the crate does not decode (BMPString, ...) is kept as its raw bytes.
        WireText::from_bytes(cn.as_str().map_or(cn.as_slice(), str::as_bytes))
    });
    let mut san_dns = Vec::new();
    let mut san_dns_count = 0u32;
    let mut kept_bytes = 0;
    // A SAN extension present twice, or undecodable, counts as none.
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for general in &san.value.general_names {
            if let GeneralName::DNSName(dns) = general {
                san_dns_count = san_dns_count.saturating_add(1);
                let name = WireText::from_bytes(dns.as_bytes());
                kept_bytes += name.as_str().len();
                // Once one does not fit, none after it is kept: the list stays a prefix.
                if san_dns.len() + 1 == san_dns_count as usize
                    && san_dns.len() < Certificate::MAX_SAN_NAMES
                    && kept_bytes <= Certificate::MAX_SAN_BYTES
                {
                    san_dns.push(name);
                }
            }
        }
    }
    let validity = cert.validity();
    Some(Certificate {
        subject: name(cert.subject()),
        issuer: name(cert.issuer()),
        common_name,
        san_dns,
        san_dns_count,
        not_before: Timestamp::from_secs(validity.not_before.timestamp()),
        not_after: Timestamp::from_secs(validity.not_after.timestamp()),
    })
}
