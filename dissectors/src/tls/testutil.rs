//! Test vectors: certificates made on this machine with OpenSSL 3.0 (the private keys went to
//! /dev/null). The first two are valid from 2026-12-06T20:36:36Z (1796589396) to
//! 2027-12-06T20:36:36Z (1828125396), the third from 2026-12-06T21:11:48Z for a year:
//!
//! ```text
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
//!   -subj "/O=Example Farm/CN=vda.farm.example" \
//!   -addext "subjectAltName=DNS:vda.farm.example,DNS:*.gw.farm.example" \
//!   -days 365 -outform der -out san.der
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
//!   -subj "/CN=*.citrix.example" -addext "basicConstraints=critical,CA:FALSE" \
//!   -days 365 -outform der -out cn_only.der
//! sans=$(for i in $(seq -w 1 300); do
//!   printf "DNS:vda-%s.a-rather-long-site-name.farm.example," $i; done)
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
//!   -subj "/CN=vda-001.a-rather-long-site-name.farm.example" -addext "subjectAltName=${sans%,}" \
//!   -days 365 -outform der -out many_sans.der
//! ```

/// Subject O=Example Farm, CN=vda.farm.example; SAN vda.farm.example, *.gw.farm.example.
pub const SAN_CERT: &[u8] = include_bytes!("testdata/san.der");
/// Subject CN=*.citrix.example, no SAN extension.
pub const CN_CERT: &[u8] = include_bytes!("testdata/cn_only.der");
/// Validity of both certificates, in seconds since the epoch.
pub const NOT_BEFORE: i64 = 1_796_589_396;
pub const NOT_AFTER: i64 = 1_828_125_396;
/// 300 SAN names of 44 bytes each, vda-001 to vda-300.a-rather-long-site-name.farm.example.
pub const MANY_SANS_CERT: &[u8] = include_bytes!("testdata/many_sans.der");
