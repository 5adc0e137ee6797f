//! The anomalies the TLS and DTLS dissectors report, each a finding code. Each one ends the
//! reading of the handshake; the records are still counted unless the framing is lost.

crate::code::anomalies! {
    MalformedRecord = "tls.malformed_record", Low,
        "bytes where a record header should be that are not one (for DTLS, a datagram that is no DTLS): the direction is only counted",
        "something else on the connection after the handshake, or a mangled stream";
    MalformedHandshake = "tls.malformed_handshake", Low,
        "a handshake message tls-parser refuses, or one still incomplete when the direction turned to encrypted records",
        "a non-conforming client or server; keep a sample capture";
    MalformedCertificate = "tls.malformed_certificate", Low,
        "the server's certificate is not valid X.509 DER",
        "a non-conforming server; keep a sample capture";
    HandshakeTooLarge = "tls.handshake_too_large", Low,
        "a handshake message over 64 KiB (a huge certificate chain, or garbage)",
        "check the certificate chain the server sends";
    HandshakeGap = "tls.handshake_gap", Low,
        "the capture lost bytes of a handshake message",
        "capture loss: check the capture point";
    FramingLost = "tls.framing_lost", Low,
        "the capture lost bytes across a record boundary: records are no longer counted",
        "capture loss: check the capture point";
}
