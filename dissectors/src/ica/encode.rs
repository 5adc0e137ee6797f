//! Builders of valid ICA wire messages, for the capture generator and round-trip tests.
//!
//! Every builder takes typed values and returns the exact bytes one side sends. Sizes the wire
//! cannot express (a string longer than its slot, a packet over 64 KiB) are refused with an
//! [`EncodeError`] instead of being cut.

use super::crypt::XorChain;
use super::event::{ClientWinstationDriver, DosDate, DosTime, TerminateReason};
use super::names::{
    self, CLASS_PROTOCOL_DRIVER, CLASS_USER_INTERFACE, CLASS_WINSTATION_DRIVER, DETECT,
    INIT_CONNECT, INIT_CONNECT_RESPONSE, INIT_REQUEST, INIT_RESPONSE, LengthForm, TERMINATE,
    VIRTUAL_WRITE0, VIRTUAL_WRITE1, VIRTUAL_WRITE2,
};
use super::parser::{MODULE_C2H_LEN, MODULE_H2C_LEN, UI_C2H_LEN, WD_C2H_LEN};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A value does not fit its field.
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// A date or time the DOS format cannot hold.
    BadDateTime,
    /// A command code without a known length form, or data of the wrong size for a fixed form.
    BadCommand { code: u8, len: usize },
    /// A TERMINATE reason without a wire code.
    UnknownReason,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLong { what, len, max } => {
                write!(f, "{what} is {len} bytes, at most {max} fit")
            }
            EncodeError::BadDateTime => f.write_str("date or time outside the DOS range"),
            EncodeError::BadCommand { code, len } => {
                write!(f, "command 0x{code:02x} cannot carry {len} data bytes")
            }
            EncodeError::UnknownReason => f.write_str("TERMINATE reason has no wire code"),
        }
    }
}

impl std::error::Error for EncodeError {}

type Result<T> = std::result::Result<T, EncodeError>;

fn u16_len(what: &'static str, len: usize) -> Result<u16> {
    u16::try_from(len).map_err(|_| EncodeError::TooLong {
        what,
        len,
        max: usize::from(u16::MAX),
    })
}

/// The detect string both sides send first.
pub fn detect() -> [u8; 6] {
    DETECT
}

/// An init packet: command, u16 LE data length, data.
fn init_packet(command: u8, data: &[u8]) -> Result<Vec<u8>> {
    let len = u16_len("init packet data", data.len())?;
    let mut out = Vec::with_capacity(3 + data.len());
    out.push(command);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(data);
    Ok(out)
}

/// One block of INIT_REQUEST's capability list.
#[derive(Clone, Copy, Debug)]
pub struct CapabilityBlock<'a> {
    pub signature: u16,
    pub data: &'a [u8],
}

/// INIT_REQUEST: host level and capability list (blocks right after the 4-byte list header).
pub fn init_request(host_level: u8, capabilities: &[CapabilityBlock]) -> Result<Vec<u8>> {
    let count = u8::try_from(capabilities.len()).map_err(|_| EncodeError::TooLong {
        what: "capability list",
        len: capabilities.len(),
        max: 255,
    })?;
    let mut data = vec![host_level, 0, count];
    data.extend_from_slice(&4u16.to_le_bytes());
    for cap in capabilities {
        let byte_count = u16_len("capability block", cap.data.len() + 4)?;
        data.extend_from_slice(&byte_count.to_le_bytes());
        data.extend_from_slice(&cap.signature.to_le_bytes());
        data.extend_from_slice(cap.data);
    }
    init_packet(INIT_REQUEST, &data)
}

/// The MODULE_C2H fields a client module chooses.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientModuleHeader<'a> {
    /// Modules still to come after this one.
    pub module_count: u8,
    pub version_low: u8,
    pub version_high: u8,
    /// File name, at most 12 bytes.
    pub name: &'a str,
    /// Name the host knows the module by, at most 8 bytes.
    pub host_module_name: &'a str,
    pub date: Option<DosDate>,
    pub time: Option<DosTime>,
    pub size: u32,
}

/// A NUL-padded fixed slot, keeping at least one NUL.
fn slot(what: &'static str, text: &str, size: usize) -> Result<Vec<u8>> {
    if text.len() >= size {
        return Err(EncodeError::TooLong {
            what,
            len: text.len(),
            max: size - 1,
        });
    }
    let mut out = text.as_bytes().to_vec();
    out.resize(size, 0);
    Ok(out)
}

/// An INIT_RESPONSE for a module of `class` whose data after MODULE_C2H is `body`.
pub fn init_response(header: &ClientModuleHeader, class: u8, body: &[u8]) -> Result<Vec<u8>> {
    let byte_count = u16_len("INIT_RESPONSE", MODULE_C2H_LEN + body.len())?;
    let date = header.date.map_or(Some(0), DosDate::to_raw);
    let time = header.time.map_or(Some(0), DosTime::to_raw);
    let (Some(date), Some(time)) = (date, time) else {
        return Err(EncodeError::BadDateTime);
    };
    let mut data = Vec::with_capacity(usize::from(byte_count));
    data.extend_from_slice(&byte_count.to_le_bytes());
    data.extend_from_slice(&[
        header.module_count,
        class,
        header.version_low,
        header.version_high,
    ]);
    data.extend(slot("module name", header.name, 13)?);
    data.extend(slot("host module name", header.host_module_name, 9)?);
    data.extend_from_slice(&date.to_le_bytes());
    data.extend_from_slice(&time.to_le_bytes());
    data.extend_from_slice(&header.size.to_le_bytes());
    data.extend_from_slice(body);
    init_packet(INIT_RESPONSE, &data)
}

/// The user-interface module's facts (UI_C2H). Strings are sent as bytes plus a NUL.
#[derive(Clone, Copy, Debug, Default)]
pub struct UiModule<'a> {
    pub flags: u32,
    pub keyboard_layout: u32,
    pub keyboard_type: u16,
    pub keyboard_subtype: u8,
    pub keyboard_function_keys: u8,
    pub encryption_level: u8,
    /// RunEncodeBuffer seed for the variable area.
    pub seed: u8,
    pub client_build: u16,
    pub client_name: Option<&'a str>,
    pub initial_program: Option<&'a str>,
    pub client_directory: Option<&'a str>,
    pub work_directory: Option<&'a str>,
    pub domain: Option<&'a str>,
    pub user_name: Option<&'a str>,
    pub password: Option<&'a str>,
}

/// An INIT_RESPONSE for the user-interface module (class 0), the variable area scrambled.
pub fn ui_module(header: &ClientModuleHeader, ui: &UiModule) -> Result<Vec<u8>> {
    let fixed = MODULE_C2H_LEN + UI_C2H_LEN;
    let mut area = Vec::new();
    // Offset of each present string from the start of MODULE_C2H; 0 when absent.
    let mut place = |text: Option<&str>| -> Result<u16> {
        let Some(text) = text else { return Ok(0) };
        let offset = u16_len("UI_C2H variable area", fixed + area.len())?;
        area.extend_from_slice(text.as_bytes());
        area.push(0);
        Ok(offset)
    };
    let o_client_directory = place(ui.client_directory)?;
    let o_initial_program = place(ui.initial_program)?;
    let o_client_name = place(ui.client_name)?;
    let o_work_directory = place(ui.work_directory)?;
    let o_domain = place(ui.domain)?;
    let o_user_name = place(ui.user_name)?;
    let o_password = place(ui.password)?;
    let offset_length = u16_len("UI_C2H variable area", area.len())?;
    XorChain::run_encode(ui.seed).encrypt_in_place(&mut area);

    let mut body = Vec::with_capacity(UI_C2H_LEN + area.len());
    body.extend_from_slice(&ui.flags.to_le_bytes());
    body.extend_from_slice(&ui.keyboard_layout.to_le_bytes());
    body.extend_from_slice(&[ui.encryption_level, ui.seed]);
    for offset in [
        o_domain,
        o_user_name,
        o_password,
        o_client_directory,
        o_work_directory,
        o_initial_program,
    ] {
        body.extend_from_slice(&offset.to_le_bytes());
    }
    body.extend_from_slice(&[0; 6]); // Lpt/Port bytes
    for word in [
        0, // oCloudName
        ui.client_build,
        o_client_name,
        fixed as u16,
        offset_length,
        0, // oClientLicense
        0, // EncodingType
        0, // EncodingData
        ui.keyboard_type,
    ] {
        body.extend_from_slice(&word.to_le_bytes());
    }
    body.extend_from_slice(&[ui.keyboard_subtype, ui.keyboard_function_keys]);
    body.extend_from_slice(&[0; 4]); // oimeFileName, reserved
    body.extend_from_slice(&area);
    init_response(header, CLASS_USER_INTERFACE, &body)
}

/// An INIT_RESPONSE for the winstation driver (class 2): its wishes (WD_C2H; text modes are
/// counted but none is sent), then its virtual-channel `bindings`, each a channel name (at
/// most 7 bytes) and number.
pub fn wd_module(
    header: &ClientModuleHeader,
    wd: &ClientWinstationDriver,
    bindings: &[(&str, u16)],
) -> Result<Vec<u8>> {
    let count = u16_len("channel bindings", bindings.len())?;
    let o_vc_bind = (MODULE_C2H_LEN + WD_C2H_LEN) as u16;
    let mut body = Vec::with_capacity(WD_C2H_LEN + 10 * bindings.len());
    body.extend_from_slice(&[0; 4]); // serial number
    body.extend_from_slice(&[0; 8]); // current date and time
    body.extend_from_slice(&0u32.to_le_bytes()); // flags
    for word in [
        wd.text_modes,
        0, // oTextMode
        wd.ica_buffer_length,
        wd.out_buf_count_host,
        wd.out_buf_count_client,
        wd.out_buf_delay_host,
        wd.out_buf_delay_client,
        wd.client_product_id,
    ] {
        body.extend_from_slice(&word.to_le_bytes());
    }
    body.extend_from_slice(&0u32.to_le_bytes()); // client serial number
    body.extend_from_slice(&count.to_le_bytes());
    body.extend_from_slice(&o_vc_bind.to_le_bytes());
    body.extend_from_slice(&[wd.c2h_power_of2_wanted, wd.h2c_power_of2_wanted]);
    body.extend_from_slice(&wd.h2c_max_new_data.to_le_bytes());
    body.extend_from_slice(&wd.reducer_version.to_le_bytes());
    for (name, channel) in bindings {
        body.extend(slot("channel name", name, 8)?);
        body.extend_from_slice(&channel.to_le_bytes());
    }
    init_response(header, CLASS_WINSTATION_DRIVER, &body)
}

/// The MODULE_H2C fields of a host module.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostModuleHeader {
    /// Host modules still to come after this one.
    pub module_count: u8,
    pub class: u8,
    pub version_low: u8,
    pub version_high: u8,
    pub version: u8,
}

/// An INIT_CONNECT whose data after MODULE_H2C is `body`.
pub fn init_connect(header: &HostModuleHeader, body: &[u8]) -> Result<Vec<u8>> {
    let byte_count = u16_len("INIT_CONNECT", MODULE_H2C_LEN + body.len())?;
    let mut data = Vec::with_capacity(usize::from(byte_count));
    data.extend_from_slice(&byte_count.to_le_bytes());
    data.extend_from_slice(&[
        header.module_count,
        header.class,
        header.version_low,
        header.version_high,
        header.version,
        0,
    ]);
    data.extend_from_slice(body);
    init_packet(INIT_CONNECT, &data)
}

/// What the host's winstation driver agreed to (WD_H2C).
#[derive(Clone, Copy, Debug, Default)]
pub struct WdConnect<'a> {
    pub ica_buffer_length: u16,
    pub out_buf_count_host: u16,
    pub out_buf_count_client: u16,
    pub out_buf_delay_host: u16,
    pub out_buf_delay_client: u16,
    pub wd_flag: u16,
    pub c2h_power_of2_agreed: u8,
    pub h2c_power_of2_agreed: u8,
    pub c2h_max_new_data: u16,
    pub reducer_version: u16,
    /// Bytes after the known fields (modern hosts send 8).
    pub trailing: &'a [u8],
}

/// An INIT_CONNECT for the winstation driver (`header.class` is set to 2).
pub fn wd_connect(header: &HostModuleHeader, wd: &WdConnect) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    for word in [
        wd.ica_buffer_length,
        wd.out_buf_count_host,
        wd.out_buf_count_client,
        wd.out_buf_delay_host,
        wd.out_buf_delay_client,
        0, // oAppServerName
    ] {
        body.extend_from_slice(&word.to_le_bytes());
    }
    body.extend_from_slice(&[0; 4]); // OEM id
    body.extend_from_slice(&wd.wd_flag.to_le_bytes());
    body.extend_from_slice(&[wd.c2h_power_of2_agreed, wd.h2c_power_of2_agreed]);
    body.extend_from_slice(&wd.c2h_max_new_data.to_le_bytes());
    body.extend_from_slice(&wd.reducer_version.to_le_bytes());
    body.extend_from_slice(wd.trailing);
    let header = HostModuleHeader {
        class: CLASS_WINSTATION_DRIVER,
        ..*header
    };
    init_connect(&header, &body)
}

/// An INIT_CONNECT for a protocol driver of `pd_class` (`header.class` is set to 4).
pub fn pd_connect(header: &HostModuleHeader, pd_class: u8) -> Result<Vec<u8>> {
    let header = HostModuleHeader {
        class: CLASS_PROTOCOL_DRIVER,
        ..*header
    };
    init_connect(&header, &[pd_class, 0, 0, 0])
}

/// INIT_CONNECT_RESPONSE: `04 00 00`.
pub fn init_connect_response() -> [u8; 3] {
    [INIT_CONNECT_RESPONSE, 0, 0]
}

/// A PDRFRAME frame: u16 LE length, payload.
pub fn frame(payload: &[u8]) -> Result<Vec<u8>> {
    let len = u16_len("frame payload", payload.len())?;
    let mut out = Vec::with_capacity(2 + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// The host's PDCRYPT1 public-key frame: header 0x02, version 0, no key.
pub fn public_key_frame() -> [u8; 4] {
    [2, 0, 0x02, 0x00]
}

/// The client's PDCRYPT1 session-key frame: header 0x04, 0, the key in the clear.
pub fn session_key_frame(key: u8) -> [u8; 5] {
    [3, 0, 0x04, 0x00, key]
}

/// A frame with PDCRYPT1 header 0x00: the payload in the clear.
pub fn clear_frame(plain: &[u8]) -> Result<Vec<u8>> {
    let mut payload = Vec::with_capacity(1 + plain.len());
    payload.push(0x00);
    payload.extend_from_slice(plain);
    frame(&payload)
}

/// One direction's PDCRYPT1 encryption: each frame continues the chain of the previous one.
#[derive(Clone, Debug)]
pub struct Pdcrypt1 {
    chain: XorChain,
}

impl Pdcrypt1 {
    pub fn new(key: u8) -> Pdcrypt1 {
        Pdcrypt1 {
            chain: XorChain::pdcrypt1_start(key),
        }
    }

    /// An encrypted frame (header 0x01) carrying `plain`. A refused frame leaves the chain as
    /// it was.
    pub fn frame(&mut self, plain: &[u8]) -> Result<Vec<u8>> {
        self.with_header(0x01, plain)
    }

    /// The frame that switches PDCRYPT1 off (header 0x06), with `plain` encrypted after the
    /// header as real clients do (theirs ends in the text "OffCrypt "). The direction's later
    /// frames are plain [`frame`]s without any PDCRYPT1 header.
    pub fn off_frame(&mut self, plain: &[u8]) -> Result<Vec<u8>> {
        self.with_header(0x06, plain)
    }

    fn with_header(&mut self, header: u8, plain: &[u8]) -> Result<Vec<u8>> {
        u16_len("frame payload", 1 + plain.len())?;
        let mut payload = Vec::with_capacity(1 + plain.len());
        payload.push(header);
        payload.extend_from_slice(plain);
        self.chain.encrypt_in_place(&mut payload[1..]);
        frame(&payload)
    }
}

/// A literal reducer block: `!len` as the u16 header (bit 15 set), then the bytes.
pub fn literal_block(data: &[u8]) -> Result<Vec<u8>> {
    if data.len() > 0x7FFF {
        return Err(EncodeError::TooLong {
            what: "literal block",
            len: data.len(),
            max: 0x7FFF,
        });
    }
    let mut out = Vec::with_capacity(2 + data.len());
    out.extend_from_slice(&(!(data.len() as u16)).to_le_bytes());
    out.extend_from_slice(data);
    Ok(out)
}

/// An ICA command with its data, in the command's length form.
pub fn command(code: u8, data: &[u8]) -> Result<Vec<u8>> {
    let bad = EncodeError::BadCommand {
        code,
        len: data.len(),
    };
    let Some((_, form)) = names::command(code) else {
        return Err(bad);
    };
    let mut out = Vec::with_capacity(3 + data.len());
    out.push(code);
    match form {
        LengthForm::Fixed(n) if usize::from(n) == data.len() => {}
        LengthForm::Fixed(_) => return Err(bad),
        LengthForm::Byte => out.push(u8::try_from(data.len()).map_err(|_| bad)?),
        LengthForm::Word => {
            out.extend_from_slice(&u16_len("command data", data.len())?.to_le_bytes())
        }
    }
    out.extend_from_slice(data);
    Ok(out)
}

/// A VIRTUAL_WRITE of `payload` on `channel`, in the shortest form that holds it.
pub fn virtual_write(channel: u8, payload: &[u8]) -> Result<Vec<u8>> {
    let mut data = Vec::with_capacity(1 + payload.len());
    data.push(channel);
    data.extend_from_slice(payload);
    let code = match data.len() {
        2 => VIRTUAL_WRITE0,
        0..=255 => VIRTUAL_WRITE1,
        _ => VIRTUAL_WRITE2,
    };
    command(code, &data)
}

/// A TERMINATE command.
pub fn terminate(reason: TerminateReason) -> Result<Vec<u8>> {
    let code = reason.code().ok_or(EncodeError::UnknownReason)?;
    command(TERMINATE, &[code])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_messages_byte_for_byte() {
        assert_eq!(detect(), [0x7F, 0x7F, b'I', b'C', b'A', 0]);
        assert_eq!(init_connect_response(), [0x04, 0x00, 0x00]);
        assert_eq!(session_key_frame(0x5A), [0x03, 0x00, 0x04, 0x00, 0x5A]);
        assert_eq!(frame(&[]).unwrap(), [0, 0]);
        assert_eq!(clear_frame(&[0x07]).unwrap(), [2, 0, 0x00, 0x07]);
        assert_eq!(
            terminate(TerminateReason::Logoff).unwrap(),
            [0x05, 0x01, 0x01]
        );
        assert_eq!(
            terminate(TerminateReason::Unknown),
            Err(EncodeError::UnknownReason)
        );
        // 0xFFF9 = !6: a literal block of 6 bytes.
        assert_eq!(
            literal_block(&[1, 2, 3, 4, 5, 6]).unwrap()[..2],
            [0xF9, 0xFF]
        );
    }

    #[test]
    fn virtual_writes_use_the_shortest_form() {
        assert_eq!(virtual_write(17, &[0xAB]).unwrap(), [0x2F, 17, 0xAB]);
        assert_eq!(
            virtual_write(17, &[1, 2, 3]).unwrap(),
            [0x30, 4, 17, 1, 2, 3]
        );
        let big = virtual_write(9, &[0; 300]).unwrap();
        assert_eq!(big[..4], [0x31, 0x2D, 0x01, 9]); // 301 = 0x012D
        assert_eq!(big.len(), 304);
        assert!(matches!(
            command(0x0D, &[1, 2]),
            Err(EncodeError::BadCommand { code: 0x0D, len: 2 })
        ));
        assert!(command(0x10, &[]).is_err());
    }

    #[test]
    fn pdcrypt1_frames_continue_the_chain() {
        let mut enc = Pdcrypt1::new(0x04);
        // queue 0x47: c0 = 0x06 ^ 0x47 ^ 0x04 = 0x45, c1 = 0x00 ^ 0x45 ^ 0x04 = 0x41.
        assert_eq!(enc.frame(&[0x06, 0x00]).unwrap(), [3, 0, 0x01, 0x45, 0x41]);
        // Next frame starts from the last ciphertext byte 0x41: 0x06 ^ 0x41 ^ 0x04 = 0x43.
        assert_eq!(enc.frame(&[0x06]).unwrap(), [2, 0, 0x01, 0x43]);
    }

    #[test]
    fn oversized_fields_are_refused() {
        let header = ClientModuleHeader {
            module_count: 0,
            version_low: 1,
            version_high: 1,
            name: "A_VERY_LONG_NAME.DLL",
            host_module_name: "",
            date: None,
            time: None,
            size: 0,
        };
        assert!(matches!(
            init_response(&header, 3, &[]),
            Err(EncodeError::TooLong {
                what: "module name",
                ..
            })
        ));
        assert!(frame(&vec![0; 70_000]).is_err());
        assert!(literal_block(&vec![0; 0x8000]).is_err());
    }
}
