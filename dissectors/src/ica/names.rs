//! Code tables of ICA: the detect string, command codes with their length forms, module
//! classes, protocol-driver classes and capability signatures (PROTOCOLS.md 2.1 - 2.3).

/// The 6 bytes the server sends first and the client echoes: `7F 7F "ICA" 00`.
pub const DETECT: [u8; 6] = *b"\x7f\x7fICA\x00";

/// Host to client: the host level and its capability list.
pub const INIT_REQUEST: u8 = 0x00;
/// Client to host: one client module (MODULE_C2H + module data).
pub const INIT_RESPONSE: u8 = 0x01;
/// Host to client: one accepted host module (MODULE_H2C + module data).
pub const INIT_CONNECT: u8 = 0x02;
/// Client to host: ends the init phase.
pub const INIT_CONNECT_RESPONSE: u8 = 0x04;
/// Either way: end of session; one data byte gives the reason.
pub const TERMINATE: u8 = 0x05;
/// Virtual channel data with 1 payload byte (fixed size 2: channel id + 1 byte).
pub const VIRTUAL_WRITE0: u8 = 0x2F;
/// Virtual channel data with a 1-byte length (channel id + payload).
pub const VIRTUAL_WRITE1: u8 = 0x30;
/// Virtual channel data with a 2-byte length (channel id + payload).
pub const VIRTUAL_WRITE2: u8 = 0x31;

/// How the data length of an ICA command is given on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthForm {
    /// No length field: the data always has this many bytes.
    Fixed(u8),
    /// A 1-byte length ("n").
    Byte,
    /// A 2-byte little-endian length ("nn").
    Word,
}

impl LengthForm {
    /// Bytes of the length field itself.
    pub const fn field_len(self) -> usize {
        match self {
            LengthForm::Fixed(_) => 0,
            LengthForm::Byte => 1,
            LengthForm::Word => 2,
        }
    }
}

/// Name and length form of a command code, for the codes whose length form is known
/// (ica30's table; the text-mode screen commands 0x10-0x2E have no documented lengths).
pub fn command(code: u8) -> Option<(&'static str, LengthForm)> {
    use LengthForm::{Byte, Fixed, Word};
    Some(match code {
        0x00 => ("INIT_REQUEST", Word),
        0x01 => ("INIT_RESPONSE", Word),
        0x02 => ("INIT_CONNECT", Word),
        0x03 => ("CALLBACK", Byte),
        0x04 => ("INIT_CONNECT_RESPONSE", Word),
        0x05 => ("TERMINATE", Byte),
        0x06 => ("REDRAW", Word),
        0x07 => ("STOP_REQUEST", Fixed(0)),
        0x08 => ("STOP_OK", Fixed(0)),
        0x09 => ("REDISPLAY", Fixed(0)),
        0x0A => ("KEYBOARD0", Fixed(1)),
        0x0B => ("KEYBOARD1", Byte),
        0x0C => ("KEYBOARD2", Word),
        0x0D => ("MOUSE0", Fixed(5)),
        0x0E => ("MOUSE1", Byte),
        0x0F => ("MOUSE2", Word),
        0x2F => ("VIRTUAL_WRITE0", Fixed(2)),
        0x30 => ("VIRTUAL_WRITE1", Byte),
        0x31 => ("VIRTUAL_WRITE2", Word),
        0x32 => ("VIRTUAL_ACK", Fixed(3)),
        0x33 => ("SET_GRAPHICS", Byte),
        0x34 => ("SET_TEXT", Byte),
        0x38 => ("VIRTUAL_FLUSH", Fixed(2)),
        0x3A => ("COMMAND_CACHE", Word),
        0x3B => ("SET_CLIENT_DATA", Word),
        _ => return None,
    })
}

/// Name of a command code, `"unknown"` for codes without a known length form.
pub fn command_name(code: u8) -> &'static str {
    command(code).map_or("unknown", |(name, _)| name)
}

/// Name of a module class (MODULE_C2H / MODULE_H2C `ModuleClass`).
pub fn module_class(class: u8) -> &'static str {
    match class {
        0 => "UserInterface",
        1 => "UIExt",
        2 => "WinstationDriver",
        3 => "VirtualDriver",
        4 => "ProtocolDriver",
        5 => "TransportDriver",
        6 => "NameResolver",
        7 => "NameEnumerator",
        8 => "Scripting",
        9 => "SubDriver",
        _ => "unknown",
    }
}

pub const CLASS_USER_INTERFACE: u8 = 0;
/// The highest module class known (SubDriver).
pub const MAX_MODULE_CLASS: u8 = 9;
pub const CLASS_WINSTATION_DRIVER: u8 = 2;
pub const CLASS_PROTOCOL_DRIVER: u8 = 4;

/// Protocol-driver class of the basic-encryption / RC5 encryption drivers.
pub const PD_ENCRYPT: u8 = 11;
/// Protocol-driver class of the PD-level compression driver.
pub const PD_COMPRESS: u8 = 12;

/// Name of a protocol-driver class (PD_H2C `PdClass`).
pub fn pd_class(class: u8) -> &'static str {
    match class {
        9 => "PdFrame",
        10 => "PdReliable",
        PD_ENCRYPT => "PdEncrypt",
        PD_COMPRESS => "PdCompress",
        _ => "unknown",
    }
}

/// Name of an ICA capability signature (the list is not exhaustive).
pub fn capability(signature: u16) -> &'static str {
    match signature {
        1 => "MTU",
        2 => "REDUCERS_SUPPORTED",
        3 => "SEAMLESS",
        4 => "INTELLIMOUSE",
        5 => "PACKET_PRIORITY",
        6 => "CHANNEL_MONITORING",
        7 => "REDRAW",
        8 => "TIME_ZONE",
        9 => "LONG_UNICODE_USERNAME",
        10 => "COOKIE",
        13 => "SERVER_VERSION",
        15 => "CGP_PACKET_OVERHEAD",
        16 => "HIGH_THROUGHPUT",
        17 => "SSL_PACKET_OVERHEAD",
        23 => "FARM_NAME",
        27 => "LICENSED_FEATURES",
        31 => "DYNAMIC_VIRTUAL_CHANNELS",
        33 => "VIRTUAL_MAXIMUM",
        35 => "MULTI_STREAM_ICA",
        39 => "WATERMARK",
        _ => "unknown",
    }
}

/// Capability signature whose data is a u16 mask of the reducers the host supports.
pub const CAP_REDUCERS_SUPPORTED: u16 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_commands_use_two_byte_lengths() {
        for code in [
            INIT_REQUEST,
            INIT_RESPONSE,
            INIT_CONNECT,
            INIT_CONNECT_RESPONSE,
        ] {
            assert_eq!(command(code).map(|c| c.1), Some(LengthForm::Word));
        }
        assert_eq!(command(TERMINATE), Some(("TERMINATE", LengthForm::Byte)));
        assert_eq!(command(0x0D), Some(("MOUSE0", LengthForm::Fixed(5))));
        assert_eq!(command_name(VIRTUAL_WRITE2), "VIRTUAL_WRITE2");
        // Text-mode screen operations and modern codes have no known length.
        assert_eq!(command(0x10), None);
        assert_eq!(command(0x3C), None);
        assert_eq!(command_name(0xFF), "unknown");
    }

    #[test]
    fn class_and_signature_names() {
        assert_eq!(module_class(0), "UserInterface");
        assert_eq!(module_class(9), "SubDriver");
        assert_eq!(module_class(200), "unknown");
        assert_eq!(pd_class(9), "PdFrame");
        assert_eq!(pd_class(11), "PdEncrypt");
        assert_eq!(capability(2), "REDUCERS_SUPPORTED");
        assert_eq!(capability(1000), "unknown");
    }
}
