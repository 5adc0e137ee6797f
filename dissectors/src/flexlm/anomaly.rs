//! The anomalies the FlexLM dissector reports, each a finding code.

use crate::code::Coded;

crate::code::anomalies! {
    BadChecksum = "flexlm.bad_checksum", Medium,
        "a legacy message fails its checksum: altered in transit, or encrypted after a HANDSHAKE the capture missed; decoded but untrusted (its checkouts are counted as `unverified`)",
        "if it repeats, capture on the license server too and compare";
    BadCrc = "flexlm.bad_crc", Medium,
        "a 0x2F message fails its CRC-14; decoded but untrusted (a redirect in it labels nothing)",
        "look for a proxy/IPS/WAN optimiser rewriting payloads; compare with a capture on the server";
    BadHeaderCheck = "flexlm.bad_header_check", Medium,
        "a 0x2F header check byte is wrong: its length cannot be trusted, the message is skipped",
        "look for a proxy/IPS/WAN optimiser rewriting payloads, or another protocol on the port";
    BadLength = "flexlm.bad_length", Medium,
        "a 0x2F length shorter than the header: not FlexLM",
        "check what else listens on the port";
    Oversize = "flexlm.oversize", Medium,
        "a 0x2F length above the 1 MiB cap: not FlexLM, not buffered",
        "check what else listens on the port";
    BadPayload = "flexlm.bad_payload", Low,
        "a known 0x2F type whose payload does not fit its documented layout; kept as a plain message",
        "keep a sample capture if many do";
    UnrecognisedData = "flexlm.unrecognised_data", Medium,
        "a byte that starts no FlexLM message: the stream is out of step; searching for the next message",
        "look for capture loss (`tcp.*` findings) or another protocol";
    Resync = "flexlm.resync", Low,
        "message boundaries found again after N skipped bytes: counts for the connection may be low",
        "check the capture point for lost segments";
    Desync = "flexlm.desync", Medium,
        "no message in 8 KiB: the direction is no longer decoded, only counted",
        "check which service listens on the port";
    Truncated = "flexlm.truncated", Low,
        "the connection ended inside a message",
        "check snaplen and capture drops";
    Undecodable = "flexlm.undecodable", Low,
        "encrypted legacy messages whose XOR key was not recovered: counted and timed, not decoded",
        "nothing on the network";
    XorKeyRecovered = "flexlm.xor_key_recovered", Info,
        "v9.2 XOR encryption seen and undone",
        "nothing";
    RoleConflict = "flexlm.role_conflict", Low,
        "one connection shows both lmgrd and vendor-daemon traffic",
        "check which daemon listens on the port";
    BufferOverflow = "flexlm.buffer_overflow", Medium,
        "more pending bytes than the cap (should not happen)",
        "keep the capture and report it";
}

impl AnomalyKind {
    /// The anomalies of a message that failed its integrity check (legacy checksum, 0x2F CRC-14
    /// or header check byte): something on the path rewrote it, or the capture damaged it. The
    /// summary counts them all (`DirSummary::integrity_failures`).
    pub const INTEGRITY_FAILURES: [AnomalyKind; 3] = [
        AnomalyKind::BadChecksum,
        AnomalyKind::BadCrc,
        AnomalyKind::BadHeaderCheck,
    ];

    /// Whether an anomaly's `code` is one of [`AnomalyKind::INTEGRITY_FAILURES`].
    pub fn is_integrity_failure(code: &str) -> bool {
        Self::INTEGRITY_FAILURES
            .iter()
            .any(|k| k.code().name == code)
    }
}
