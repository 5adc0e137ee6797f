//! Every finding code the program can raise, with its severity, what it means and what to do:
//! the engine's and the analysis's own ([`FindingKind`]), and each registered protocol's (its
//! unexpected-port finding and its dissector's anomalies, from its spec). A finding is made
//! from a catalogued code ([`Finding::new`](super::Finding::new)), never from a bare string.
//! README "Findings" lists the same codes; `tests/reports.rs` keeps the two in step.
//!
//! A new code of the analysis is one entry below and one row in the README's table; a new
//! anomaly is one entry in its dissector's `anomaly.rs`, and the row.

use ctxscope_dissectors::{Code, Coded, Registry};

ctxscope_dissectors::codes! {
    /// The findings the engine and the analysis raise themselves (the variant is the code in
    /// CamelCase).
    pub enum FindingKind {
        // Capture and TCP
        TcpOverlapConflict = "tcp.overlap_conflict", Medium,
            "Two copies of the same stream bytes differ: a retransmission or an overlapping segment carries other bytes than the copy already received (compared byte for byte while unacknowledged, see TCP reassembly). The first copy is kept.",
            "A broken middlebox, NIC offload or mirror port, or an evasion attempt against an IDS. Capture on both sides of the suspect device; `ctxscope follow` shows the bytes kept.";
        TcpKeepaliveOverdue = "tcp.keepalive_overdue", Low,
            "A session-reliability (CGP) connection that sent TCP keep-alives at a steady interval stopped sending them (and any payload) for more than `sessions.keepalive_overdue_factor` learned intervals, or `sessions.keepalive_ceiling_secs` before one is learned, while it stays open. A copy of the last byte sent before the peer acknowledged it is a retransmission, not a keep-alive (see TCP reassembly).",
            "The client may be gone or a firewall dropped the path while the server keeps the session; check the client and the firewall's idle timeout.";
        CaptureReadError = "capture.read_error", Medium,
            "A capture file could not be read to its end (cut short, or a block whose length fields are broken); the message says how many packets were analysed.",
            "Copy the capture again (a file still being written, or a truncated transfer); the report covers only the packets before the break.";
        CaptureUnsupportedLink = "capture.unsupported_link", Low,
            "Packets on a pcapng interface whose link type ctxscope cannot decode were counted and skipped.",
            "Capture on Ethernet, Linux cooked (SLL/SLL2), raw IP or loopback, or leave that interface out.";
        DecodeMalformedPacket = "decode.malformed_packet", Low,
            "A frame with invalid or inconsistent IP/TCP headers, a corrupt pcapng packet block, or a packet naming an interface no block describes (or one refused at the cap); counted (`capture.malformed`) and skipped.",
            "A few are noise; many point at the capture point (a mangling mirror port, a bad driver) or at hostile traffic.";
        ClassifyUnexpectedPayload = "classify.unexpected_payload", Low,
            "A port configured for a Citrix protocol carries something else (TLS included on a port of lmgrd, a vendor daemon or IMA; TLS on an ICA or CGP port is ICA or CGP over TLS).",
            "Another service uses the port; correct `ports.*` or `--decode-as` if the port table is wrong.";
        CapturePortScan = "capture.port_scan", Low,
            "One host sent connection attempts to `scans.min_ports` (25) distinct ports or `scans.min_hosts` (25) distinct hosts within `scans.window_secs` (300 s), at most `scans.max_answered_share` (half) of them answered with a SYN-ACK: a port scan or a host sweep. One finding per scan, on its first attempt, with the scanner's address, the attempts, distinct ports and hosts, how many were answered, and the time span (first to last attempt); its attempts that carried no data are not judged as licensing or session failures.",
            "If it is not your own vulnerability scanner, find out who runs it.";

        // Licensing (FlexLM)
        FlexlmLmgrdUnreachable = "flexlm.lmgrd_unreachable", High,
            "RST to the SYN on the lmgrd port, or no SYN-ACK after retries; one finding per client and port, counting the failed attempts and listing their times; it says so when a later attempt got through",
            "check that lmgrd runs and the port is open from the client";
        FlexlmLmgrdError = "flexlm.lmgrd_error", High,
            "lmgrd answered with an error reply (WHAT, NO_CONFIG_FILE, ...); for a HELLO naming a vendor: it cannot hand out that vendor daemon",
            "lmgrd's log; `lmstat -a -c PORT@host`";
        FlexlmNoRedirect = "flexlm.no_redirect", High,
            "a HELLO naming a vendor daemon ended without a redirect (lmgrd answered otherwise, or closed)",
            "is the vendor daemon running and in lmgrd's license files?";
        FlexlmVendorPortDynamic = "flexlm.vendor_port_dynamic", Medium,
            "lmgrd announced a vendor port that is not a static one (`ports.vendor_daemon`, default 7279)",
            "pin it: `VENDOR CITRIX PORT=7279` in the license files";
        FlexlmVendorPortChanged = "flexlm.vendor_port_changed", Medium,
            "the announced port for the same vendor changed between handshakes: the daemon restarted on a new random port",
            "pin the port: `VENDOR CITRIX PORT=7279` in the license files";
        FlexlmVendorPortUnreachable = "flexlm.vendor_port_unreachable", High,
            "RST or no SYN-ACK on the vendor port (the one lmgrd announced, or a static one); one finding per client and port, counting the failed attempts and listing their times; once a later attempt got through it says licensing works after a retry (the session is then `ok`, `retried`)",
            "open that TCP port from the client to the license server, or pin the daemon to an open one";
        FlexlmVendorConnectionNotSeen = "flexlm.vendor_connection_not_seen", Low,
            "no connection from the client to the announced port within `licensing.announcement_timeout_secs`; repeated handshakes are counted in one finding, on the first handshake, related to the latest",
            "check the path from the client to that port (a firewall before the capture point)";
        FlexlmVendorPortUnannounced = "flexlm.vendor_port_unannounced", Medium,
            "a vendor-daemon connection to a port no handshake in the capture announced and not static",
            "pin the port and allow it in the firewall";
        FlexlmUnexpectedPort = "flexlm.unexpected_port", Low,
            "lmgrd answers on a port outside `ports.lmgrd` (found by payload)",
            "add the port to `ports.lmgrd` if intended";
        FlexlmUnknownLicenseServer = "flexlm.unknown_license_server", Medium,
            "FlexLM to an address not in `licensing.license_servers` (only when that is set)",
            "a stray or old license server, or complete the setting";
        FlexlmCheckoutDenied = "flexlm.checkout_denied", Medium,
            "the vendor daemon refused checkouts (counted; per feature in the session)",
            "`lmstat -a` for the feature's use; the vendor daemon's log";
        FlexlmVendorError = "flexlm.vendor_error", Medium,
            "the vendor daemon refused another request",
            "the vendor daemon's log";
        FlexlmVendorConnectionReset = "flexlm.vendor_connection_reset", Medium,
            "an established vendor connection was reset: licenses held on it are lost",
            "the vendor daemon's log (a restart?)";
        FlexlmVendorConnectionClosed = "flexlm.vendor_connection_closed", Low,
            "the vendor connection was closed with FIN (normal when the Citrix server stops)",
            "nothing, unless it was not expected";
        FlexlmHeartbeatOverdue = "flexlm.heartbeat_overdue", Medium,
            "an open vendor connection (or an lmgrd connection that showed a cadence) silent for more than `licensing.heartbeat_overdue_factor` (default 2.5) learned heartbeat intervals, or for `licensing.heartbeat_ceiling_secs` (750 s) before one is learned",
            "the license client or vendor daemon is hung, or the path drops packets";

        // Sessions (ICA, CGP)
        IcaCredentialsInInit = "ica.credentials_in_init", High,
            "the client sent a password in its UI module, protected only by a reversible scrambling",
            "use pass-through/SSO or TLS; never save passwords in ICA files";
        IcaBasicEncryption = "ica.basic_encryption", Medium,
            "PDCRYPT1 \"basic encryption\": its 1-byte key crosses in the clear, anyone on the path can decrypt; once per session, and when a side switches it off the message says where (the rest is only compressed)",
            "require RC5 128-bit (SecureICA) or TLS";
        IcaUnencrypted = "ica.unencrypted", Medium,
            "the host accepted no encryption driver: keystrokes and screens are readable",
            "require encryption in the Citrix policies";
        IcaSessionReset = "ica.session_reset", Medium,
            "an ICA connection reset without a logoff or disconnect",
            "look for firewall idle timeouts, network drops, server crashes; consider session reliability";
        IcaKeepaliveOverdue = "ica.keepalive_overdue", Low,
            "an open ICA connection's TCP keep-alives stopped: no keep-alive nor payload for `sessions.keepalive_overdue_factor` learned intervals (a cadence needs 3 agreeing samples of at least 1 s), or `sessions.keepalive_ceiling_secs` before one is learned",
            "the client may be gone while its session stays up on the server";
        CgpPlaintext = "cgp.plaintext", Medium,
            "session reliability (CGP) without TLS: the ICA stream and the tickets are readable",
            "carry CGP over TLS through Citrix Gateway (CTX230028)";
        CgpSessionReset = "cgp.session_reset", Medium,
            "a CGP connection reset without FINISH",
            "look for firewall idle timeouts, network drops, server crashes; a reconnect may follow";
        CgpReconnectRefused = "cgp.reconnect_refused", Low,
            "the server answered a reconnect with message number 0: the session was gone",
            "the user starts over; check the reliability timeout";
        CgpKeepaliveOverdue = "cgp.keepalive_overdue", Low,
            "an open CGP connection's NOPs stopped (as `ica.keepalive_overdue`; before a cadence is learned, 2.5 x the interval the BIND announced)",
            "the client or a middlebox stopped forwarding; a reconnect will be tried";
        CgpReconnect = "cgp.reconnect", Info,
            "a new connection presented a session's reconnect ticket and was accepted",
            "none: session reliability did its job (flow, related flow)";
        SessionHighLatency = "session.high_latency", Medium,
            "the median ACK round trip of a session (all its connections) on one side of the capture point is above `sessions.latency_warn_ms` (150 ms); the message says which side: the client's (capture point to client, the WAN or access side when capturing in the data centre) or the server's. Once per session, on its first connection",
            "client side: the user's network path (VPN, Wi-Fi, long distance), consider EDT and HDX adaptive settings; server side: the data-centre network or an overloaded server";
        SessionSlowLaunch = "session.slow_launch", Medium,
            "a session's first connection took longer than `sessions.launch_warn_secs` (10 s) from its first packet to the server's first screen data; the message names the slowest phase (see the session's launch steps). Once per session",
            "a slow phase before INIT_REQUEST points at the VDA (logon, profile, GPOs: Director's logon breakdown); a slow TCP or TLS connect at the network or a Gateway";
        SessionServerDelay = "session.server_delay", Medium,
            "a session's median server think time (a client's data to the server's next data, after the set-up), less its server-side round trip, is above `sessions.latency_warn_ms` and above its client-side round trip: the time goes on the server itself. Once per session",
            "the VDA (CPU, memory, disk, graphics encoding) or the data-centre path; compare with the server-side round trip to tell the two apart";

        // EDT (HDX adaptive transport over UDP)
        EdtFallbackToTcp = "edt.fallback_to_tcp", Medium,
            "A client sent datagrams to a server's EDT port (UDP 1494 or 2598), got none back, and opened TCP 1494/2598 to the same server within `edt.fallback_window_secs` (30 s): \"UDP 1494 is blocked between CLIENT and SERVER: sessions fall back to TCP (slower launch, no EDT)\". The finding is on the TCP connection, from the UDP flow.",
            "Allow UDP 1494 and 2598 from the clients to the VDAs (and UDP 443 to a Gateway doing EDT over DTLS) in every firewall on the path (CTX220730); until then sessions work over TCP, with a slower launch and without EDT's WAN benefits.";
        EdtUnanswered = "edt.unanswered", Medium,
            "A client's datagrams to a server's EDT port got no answer, and no TCP connection to that server's ICA or CGP port followed within the window (judged when it passes, or when the capture ends).",
            "As above; if the client reached the server another way (through a Gateway, on 443), capture there. Check that the VDA listens on UDP (HDX adaptive transport policy).";

        // TLS handshakes
        TlsLegacyVersion = "tls.legacy_version", Medium,
            "the server chose SSL 3.0, TLS 1.0, TLS 1.1 or DTLS 1.0, deprecated (RFC 8996) and switched off by default in current clients",
            "enable TLS 1.2/1.3 (DTLS 1.2) on the VDA, Gateway or StoreFront and switch the old versions off";
        TlsCertificateExpired = "tls.certificate_expired", High,
            "the server certificate's validity does not include the time of the packet: expired (`not_after` before it) or not yet valid (`not_before` after it)",
            "renew the certificate and bind the new one; check the server's clock for \"not yet valid\"";
        TlsCertificateNameMismatch = "tls.certificate_name_mismatch", Medium,
            "the certificate does not name the server the client asked for (SNI): not among the SAN DNS names (or the subject CN when there are none); a wildcard stands for exactly one label, case does not matter; not raised when some SAN names were past the cap, as one of them may name it",
            "issue a certificate for that name (or add it to the SAN), or point clients at a name the certificate has";
    }
}

/// Every finding code a run with `registry` can raise, each once: the analysis's own, then
/// the protocols'.
pub fn catalogue(registry: &Registry) -> Vec<&'static Code> {
    let mut codes: Vec<&'static Code> = FindingKind::CODES.iter().collect();
    codes.extend(registry.codes());
    codes
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctxscope_dissectors::Proto;

    #[test]
    fn every_code_is_listed_once_and_named_after_its_layer() {
        let codes = catalogue(&Registry::builtin());
        for (i, code) in codes.iter().enumerate() {
            assert!(
                codes[..i].iter().all(|c| c.name != code.name),
                "{} twice",
                code.name
            );
            let (layer, rest) = code.name.split_once('.').expect("a dotted code");
            let snake =
                |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            assert!(snake(layer) && snake(rest), "{}", code.name);
            assert!(
                !code.meaning.is_empty() && !code.action.is_empty(),
                "{}",
                code.name
            );
        }
    }

    #[test]
    fn every_anomaly_of_every_builtin_protocol_is_catalogued_with_its_severity() {
        let codes = catalogue(&Registry::builtin());
        for p in Registry::builtin().iter() {
            let spec = p.spec();
            for code in spec
                .unexpected_port_finding
                .into_iter()
                .chain(spec.anomalies)
            {
                let entry = codes.iter().find(|c| c.name == code.name);
                assert_eq!(
                    entry.map(|c| c.severity),
                    Some(code.severity),
                    "{}",
                    code.name
                );
            }
        }
        let names: Vec<&str> = codes.iter().map(|c| c.name).collect();
        for expected in [
            "ica.bad_block",
            "cgp.truncated",
            "flexlm.bad_checksum",
            "ica.unexpected_port",
        ] {
            assert!(names.contains(&expected), "{expected}");
        }
        assert_eq!(Proto::IMA.spec().anomalies.len(), 0);
    }
}
