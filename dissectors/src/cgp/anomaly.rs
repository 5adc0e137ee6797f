//! The anomalies the CGP dissector reports, each a finding code.

crate::code::anomalies! {
    BadSignature = "cgp.bad_signature", Medium,
        "a connection seen from its start does not begin with `\\x1aCGP/01` (TLS is named)",
        "something else on a CGP port";
    InvalidLength = "cgp.invalid_length", Medium,
        "a message of length 0",
        "damaged stream";
    UnknownCommand = "cgp.unknown_command", Low,
        "an unknown command byte (skipped by its length)",
        "none unless frequent";
    TruncatedMessage = "cgp.truncated_message", Medium,
        "a message too short for its fields",
        "damaged stream";
    Truncated = "cgp.truncated", Low,
        "the connection ended inside a message or the signature",
        "check snaplen and capture drops";
    TrailingBytes = "cgp.trailing_bytes", Low,
        "bytes after a message's known fields",
        "newer protocol version";
    ExtensionOverflow = "cgp.extension_overflow", Medium,
        "more than 32 header-extension flag bytes",
        "damaged stream";
    UndecodableExtension = "cgp.undecodable_extension", Low,
        "header extensions of unknown layout without a length to skip them",
        "newer protocol version";
    BindFlags = "cgp.bind_flags", Low,
        "a BIND message's flags byte is not 0",
        "newer protocol version";
    BadCapability = "cgp.bad_capability", Low,
        "a known capability too short for its fields",
        "newer protocol version";
    BadProxyParams = "cgp.bad_proxy_params", Low,
        "Citrix.TcpProxyService open parameters that do not decode",
        "newer protocol version";
    ChannelTableFull = "cgp.channel_table_full", Low,
        "more than 64 channels on one connection: the rest are not tracked",
        "suspicious client";
    InnerIcaLimit = "cgp.inner_ica_limit", Low,
        "a third ICA channel on one connection: not decoded",
        "suspicious client";
    FramingLost = "cgp.framing_lost", Low,
        "bytes lost across a message boundary: the direction is no longer decoded",
        "capture loss";
    BufferOverflow = "cgp.buffer_overflow", Medium,
        "a message cannot complete within the buffer (cannot happen by construction)",
        "report a bug";
}
