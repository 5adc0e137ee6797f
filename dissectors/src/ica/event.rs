//! What the ICA dissector reports, one event per fact of the connection set-up. Bulk data
//! (frames, commands, virtual-channel writes) is only counted, in the [`super::Summary`].

use crate::text::WireText;
use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The ICA detect string `7F 7F "ICA" 00` at the start of a direction. Reported once per
    /// direction; the client's repeats (every 2 s until INIT_REQUEST) are only counted.
    Detect {
        /// True for the client's echo, false for the server's announcement.
        echo: bool,
    },
    /// The host's INIT_REQUEST: its level and capabilities.
    InitRequest {
        /// Host level (0 = SouthBeach ... 4 = WinFrame 2.0; 6 and later are Unicode-capable).
        host_level: u8,
        /// The "more data" byte of the capability list (non-zero: more capabilities follow).
        more_capabilities: u8,
        /// Capability blocks in wire order (at most `MAX_CAPABILITIES`).
        capabilities: Vec<Capability>,
        /// Blocks announced by the list but not reported (over the cap, or not in the packet).
        capabilities_omitted: u16,
    },
    /// One client module offered in an INIT_RESPONSE.
    ClientModule(ClientModule),
    /// The user-interface module's facts (UI_C2H), with its variable area descrambled.
    ClientInfo(ClientInfo),
    /// The client winstation driver's wishes (WD_C2H, without its channel bindings).
    ClientWinstationDriver(ClientWinstationDriver),
    /// The client's virtual-channel bindings (from WD_C2H): which channel number each name uses.
    ChannelBindings {
        /// Bindings in wire order (at most `MAX_BINDINGS`).
        bindings: Vec<ChannelBinding>,
        /// Bindings announced but not reported (over the cap, or outside the packet).
        omitted: u16,
    },
    /// One host module accepted in an INIT_CONNECT.
    HostModule(HostModule),
    /// The protocol drivers the host accepted, known once its last INIT_CONNECT is in.
    ProtocolDrivers {
        /// In the order the host sent them.
        drivers: Vec<ProtocolDriver>,
    },
    /// Both sides finished the init phase; framed data follows.
    InitComplete {
        /// INIT_RESPONSE packets the client sent.
        client_modules: u16,
        /// INIT_CONNECT packets the host sent.
        host_modules: u16,
    },
    /// The encryption in use, as far as it can be told from the init phase and key exchange.
    Encryption {
        /// What protects the framed data.
        kind: EncryptionKind,
        /// True when the session key travelled in the clear (PDCRYPT1): every observer can
        /// decrypt the session. The key value itself is never reported.
        key_exchanged_in_clear: bool,
        /// The client module providing the encryption driver, when the module list names one.
        module: Option<WireText>,
        /// The encryption level the client asked for in UI_C2H.
        encryption_level: Option<u8>,
    },
    /// The direction switched PDCRYPT1 basic encryption off (a frame with header 0x06): its
    /// later frames carry no PDCRYPT1 header and cross the network unencrypted, only
    /// compressed. The event's direction is the one that switched.
    EncryptionOff(EncryptionOff),
    /// A TERMINATE command: one side ends the session.
    Terminate {
        /// Why, from the command's data byte.
        reason: TerminateReason,
        /// The data byte itself.
        code: u8,
    },
}

/// Where a direction switched PDCRYPT1 off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct EncryptionOff {
    /// Offset of the "off" frame (its length field) in the direction's byte stream, counted
    /// from the stream's first byte (the detect string).
    pub offset: u64,
    /// Its number among the direction's frames, from 1 (the key-exchange frame included).
    pub frame: u64,
}

/// One block of the host's capability list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Capability {
    /// Capability signature.
    pub signature: u16,
    /// Its name, `"unknown"` when the signature is not in the table.
    pub name: &'static str,
    /// Size of the block's data (its byteCount minus the 4-byte header).
    pub data_len: u16,
    /// For REDUCERS_SUPPORTED: the mask of supported reducers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reducers_mask: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientModule {
    /// Modules still to come after this one (ModuleCount counts down to 0).
    pub remaining: u8,
    /// Module class number.
    pub class: u8,
    /// Module class name (`UserInterface`, `ProtocolDriver`, ...).
    pub class_name: &'static str,
    /// File name of the module, e.g. `PDCRYPTN.DLL`.
    pub name: WireText,
    /// Name the host knows the module by, e.g. `PDCRYPT1` (often empty).
    pub host_module_name: WireText,
    /// Lowest protocol version the module speaks.
    pub version_low: u8,
    /// Highest protocol version the module speaks.
    pub version_high: u8,
    /// Build date (DOS date), when it is a valid date.
    pub date: Option<DosDate>,
    /// Build time (DOS time), when it is a valid time.
    pub time: Option<DosTime>,
    /// Module file size in bytes.
    pub size: u32,
    /// Size of the module data (MODULE_C2H ByteCount).
    pub byte_count: u16,
}

/// The UI_C2H facts. The password is never kept: only whether one was sent (not even its
/// length, which narrows a guess).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientInfo {
    /// Client (computer) name.
    pub client_name: Option<WireText>,
    /// Client build number.
    pub client_build: u16,
    /// Program to start, as sent (a leading `#` names a published application).
    pub initial_program: Option<WireText>,
    /// The published application, when the initial program starts with `#` (without the `#`).
    pub published_application: Option<WireText>,
    /// Directory the client software runs from.
    pub client_directory: Option<WireText>,
    /// Working directory for the initial program.
    pub work_directory: Option<WireText>,
    /// Logon domain, when sent.
    pub domain: Option<WireText>,
    /// Logon user name, when sent.
    pub user_name: Option<WireText>,
    /// Whether a password was sent (it is readable by anyone on the path).
    pub password_present: bool,
    /// Keyboard layout (Windows layout id, e.g. 0x409 = US English).
    pub keyboard_layout: u32,
    /// Keyboard type.
    pub keyboard_type: u16,
    /// Keyboard subtype.
    pub keyboard_subtype: u8,
    /// Number of function keys.
    pub keyboard_function_keys: u8,
    /// Encryption level the client asked for.
    pub encryption_level: u8,
    /// UI_C2H flags word.
    pub flags: u32,
}

/// The WD_C2H facts (the client winstation driver's buffer and reducer wishes), as read and as
/// [`encode::wd_module`](super::encode::wd_module) writes them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClientWinstationDriver {
    /// Largest ICA buffer (frame) the client wants.
    pub ica_buffer_length: u16,
    /// Output buffers on the host.
    pub out_buf_count_host: u16,
    /// Output buffers on the client.
    pub out_buf_count_client: u16,
    /// Output buffer delay on the host.
    pub out_buf_delay_host: u16,
    /// Output buffer delay on the client.
    pub out_buf_delay_client: u16,
    /// Client product id.
    pub client_product_id: u16,
    /// Reducer history size wanted for client-to-host data (power of 2; 0 = no reducer).
    pub c2h_power_of2_wanted: u8,
    /// Reducer history size wanted for host-to-client data (power of 2; 0 = no reducer).
    pub h2c_power_of2_wanted: u8,
    /// Largest block of new host-to-client data per reducer step.
    pub h2c_max_new_data: u16,
    /// Reducer (compression) version.
    pub reducer_version: u16,
    /// Number of text modes the client offers.
    pub text_modes: u16,
}

/// A virtual channel name and the channel number its VIRTUAL_WRITEs carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelBinding {
    /// Channel name, e.g. `CTXCLIP`.
    pub name: WireText,
    /// Channel number.
    pub channel: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostModule {
    /// Host modules still to come after this one (ModuleCount counts down to 0).
    pub remaining: u8,
    /// Module class number.
    pub class: u8,
    /// Module class name.
    pub class_name: &'static str,
    /// Lowest protocol version.
    pub version_low: u8,
    /// Highest protocol version.
    pub version_high: u8,
    /// Protocol version the host chose.
    pub version: u8,
    /// Size of the module data (MODULE_H2C ByteCount).
    pub byte_count: u16,
    /// For the winstation driver: what the host agreed to (WD_H2C).
    pub winstation_driver: Option<HostWinstationDriver>,
    /// For a protocol driver: its class (PD_H2C).
    pub protocol_driver: Option<ProtocolDriver>,
}

/// The WD_H2C facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostWinstationDriver {
    /// Largest ICA buffer (frame) either side sends.
    pub ica_buffer_length: u16,
    /// Output buffers on the host.
    pub out_buf_count_host: u16,
    /// Output buffers on the client.
    pub out_buf_count_client: u16,
    /// Output buffer delay on the host.
    pub out_buf_delay_host: u16,
    /// Output buffer delay on the client.
    pub out_buf_delay_client: u16,
    /// Application server name, when the host sent one.
    pub app_server_name: Option<WireText>,
    /// OEM id (4 bytes, NUL-padded).
    pub oem_id: WireText,
    /// WdFlag word.
    pub wd_flag: u16,
    /// WdFlag bit 0: the host marks the session as secured.
    pub secured: bool,
    /// Reducer history agreed for client-to-host data (power of 2; 0 = no reducer).
    pub c2h_power_of2_agreed: u8,
    /// Reducer history agreed for host-to-client data (power of 2; 0 = no reducer).
    pub h2c_power_of2_agreed: u8,
    /// Largest block of new client-to-host data per reducer step.
    pub c2h_max_new_data: u16,
    /// Reducer version agreed.
    pub reducer_version: u16,
    /// Bytes after the known fields (modern hosts send 8 of unknown meaning).
    pub trailing_bytes: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ProtocolDriver {
    /// Protocol-driver class number.
    pub class: u8,
    /// Its name: `PdFrame`, `PdReliable`, `PdEncrypt`, `PdCompress` or `unknown`.
    pub name: &'static str,
}

/// What protects the framed data of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EncryptionKind {
    /// No encryption driver was accepted: the data is readable on the wire.
    None,
    /// PDCRYPT1 "basic encryption": a 1-byte key sent in the clear, trivially decryptable.
    Basic,
    /// RC5 "SecureICA" (PDC40/PDC56/PDC128 client modules): not decryptable passively.
    Rc5,
    /// An encryption driver was accepted but its kind cannot be told.
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminateReason {
    /// Code 0: the session is disconnected (it may be reconnected later).
    Disconnect,
    /// Code 1: the user logged off.
    Logoff,
    /// Code 2: acknowledges the other side's TERMINATE.
    Ack,
    /// A code outside 0-2.
    Unknown,
}

impl TerminateReason {
    pub fn from_code(code: u8) -> TerminateReason {
        match code {
            0 => TerminateReason::Disconnect,
            1 => TerminateReason::Logoff,
            2 => TerminateReason::Ack,
            _ => TerminateReason::Unknown,
        }
    }

    /// The wire code of a known reason.
    pub fn code(self) -> Option<u8> {
        match self {
            TerminateReason::Disconnect => Some(0),
            TerminateReason::Logoff => Some(1),
            TerminateReason::Ack => Some(2),
            TerminateReason::Unknown => None,
        }
    }
}

/// A date in MS-DOS format (bits 15-9 year since 1980, 8-5 month, 4-0 day); shown `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DosDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl DosDate {
    /// `None` for a month or day out of range (0 included: an unset date).
    pub fn from_raw(raw: u16) -> Option<DosDate> {
        let date = DosDate {
            year: 1980 + (raw >> 9),
            month: ((raw >> 5) & 0x0F) as u8,
            day: (raw & 0x1F) as u8,
        };
        ((1..=12).contains(&date.month) && date.day >= 1).then_some(date)
    }

    /// The raw form; `None` when the year is outside 1980-2107 or a field is out of range.
    pub fn to_raw(self) -> Option<u16> {
        let years = self.year.checked_sub(1980).filter(|y| *y < 128)?;
        let valid = (1..=12).contains(&self.month) && (1..=31).contains(&self.day);
        valid.then(|| years << 9 | u16::from(self.month) << 5 | u16::from(self.day))
    }
}

impl fmt::Display for DosDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for DosDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A time in MS-DOS format (bits 15-11 hour, 10-5 minute, 4-0 seconds / 2); shown `HH:MM:SS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DosTime {
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl DosTime {
    pub fn from_raw(raw: u16) -> Option<DosTime> {
        let time = DosTime {
            hour: (raw >> 11) as u8,
            minute: ((raw >> 5) & 0x3F) as u8,
            second: ((raw & 0x1F) * 2) as u8,
        };
        (time.hour < 24 && time.minute < 60 && time.second < 60).then_some(time)
    }

    /// The raw form (odd seconds round down); `None` when a field is out of range.
    pub fn to_raw(self) -> Option<u16> {
        let valid = self.hour < 24 && self.minute < 60 && self.second < 60;
        valid.then(|| {
            u16::from(self.hour) << 11 | u16::from(self.minute) << 5 | u16::from(self.second / 2)
        })
    }
}

impl fmt::Display for DosTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

impl Serialize for DosTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_date_and_time() {
        // 0x2835 = 0010100 0001 10101: 1980 + 20, January, 21.
        let date = DosDate::from_raw(0x2835).unwrap();
        assert_eq!(date.to_string(), "2000-01-21");
        assert_eq!(date.to_raw(), Some(0x2835));
        // 0xBE56 = 10111 110010 10110: 23:50:44.
        let time = DosTime::from_raw(0xBE56).unwrap();
        assert_eq!(time.to_string(), "23:50:44");
        assert_eq!(time.to_raw(), Some(0xBE56));
        assert_eq!(DosDate::from_raw(0), None);
        assert_eq!(DosTime::from_raw(0xFFFF), None);
        let bad = DosDate {
            year: 1979,
            month: 1,
            day: 1,
        };
        assert_eq!(bad.to_raw(), None);
    }

    #[test]
    fn events_serialise_with_a_type_tag() {
        let e = Event::Terminate {
            reason: TerminateReason::Logoff,
            code: 1,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"terminate","reason":"logoff","code":1}"#
        );
        let e = Event::Encryption {
            kind: EncryptionKind::Basic,
            key_exchanged_in_clear: true,
            module: Some(WireText::from_bytes(b"PDCRYPTN.DLL")),
            encryption_level: Some(1),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"encryption","kind":"basic","key_exchanged_in_clear":true,"module":"PDCRYPTN.DLL","encryption_level":1}"#
        );
        assert_eq!(TerminateReason::from_code(9), TerminateReason::Unknown);
        assert_eq!(TerminateReason::Ack.code(), Some(2));
    }
}
