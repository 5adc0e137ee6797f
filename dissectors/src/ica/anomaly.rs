//! The anomalies the ICA dissector reports, each a finding code.

crate::code::anomalies! {
    MissingDetect = "ica.missing_detect", Low,
        "a connection seen from its start does not begin with the detect string",
        "something else, or a mangled stream, on an ICA port";
    UnknownDetectEcho = "ica.unknown_detect_echo", Medium,
        "the client's first bytes are not the echo of the detect string",
        "something else, or a mangled stream, on an ICA port";
    TruncatedInitPacket = "ica.truncated_init_packet", Medium,
        "an init packet too short for its structure",
        "a broken or non-Citrix client";
    InconsistentLength = "ica.inconsistent_length", Medium,
        "offsets or lengths inside an init packet disagree",
        "a broken or non-Citrix client";
    OversizedInitPacket = "ica.oversized_init_packet", Medium,
        "an init packet over 32 KiB: the direction is no longer decoded",
        "a broken or non-Citrix client";
    UnexpectedInitPacket = "ica.unexpected_init_packet", Medium,
        "a packet that does not belong to the init phase of its direction",
        "a broken or non-Citrix client";
    ModuleCount = "ica.module_count", Low,
        "ModuleCount does not count down by one",
        "usually harmless client quirk";
    OversizedFrame = "ica.oversized_frame", Low,
        "a frame longer than the negotiated ICA buffer allows",
        "check for a non-standard client or a mis-lock";
    BadCryptHeader = "ica.bad_crypt_header", Medium,
        "a PDCRYPT1 header byte that is not a known value",
        "stream damaged or not PDCRYPT1";
    BadKeyExchange = "ica.bad_key_exchange", Medium,
        "a key-exchange frame of an unexpected shape",
        "stream damaged or not PDCRYPT1";
    BadBlock = "ica.bad_block", Medium,
        "a literal reducer block longer than its frame",
        "stream damaged or not PDCRYPT1";
    TruncatedCommand = "ica.truncated_command", Low,
        "an ICA command runs past the end of its frame",
        "stream damaged or not PDCRYPT1";
    UnknownCommand = "ica.unknown_command", Info,
        "a command code without a known length (modern servers add some)",
        "none; the rest of that frame is counted, not parsed";
    LostSync = "ica.lost_sync", Medium,
        "bytes were lost (capture gap) or never framed: resynchronising, or no longer decoded",
        "capture loss: check the capture point (drops, snaplen)";
    Resync = "ica.resync", Info,
        "decoding picked up again: a frame boundary or, after a gap in the init phase, the next init packet",
        "none";
}
