//! nom parsers for the fixed layouts of ICA (PROTOCOLS.md 2.2 - 2.4), all little-endian.
//!
//! These only cut bytes into fields; what the fields mean and whether their offsets and counts
//! agree with each other is decided in `init.rs`. Init packets are parsed streaming (a packet
//! split across reads answers `Incomplete`); the structures inside a packet are parsed with
//! complete parsers over the packet's data.

use super::event::ClientWinstationDriver;
use nom::bytes::complete::take;
use nom::number::complete::{le_u8, le_u16, le_u32};
use nom::{IResult, Parser};

/// Header of an init-phase packet: command byte and its 2-byte length ("nn" form).
pub const INIT_HEADER_LEN: usize = 3;

/// Command and data length of an init packet, from its first 3 bytes (streaming).
pub fn init_packet_header(input: &[u8]) -> IResult<&[u8], (u8, u16)> {
    let (rest, command) = nom::number::streaming::le_u8(input)?;
    let (rest, len) = nom::number::streaming::le_u16(rest)?;
    Ok((rest, (command, len)))
}

/// The capability list header inside INIT_REQUEST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapListHeader {
    /// Whether more capability data follows in a later packet.
    pub more: u8,
    /// Number of capability blocks.
    pub count: u8,
    /// Offset of the first block, from the start of this header.
    pub first_offset: u16,
}

pub const CAP_LIST_HEADER_LEN: usize = 4;

pub fn cap_list_header(input: &[u8]) -> IResult<&[u8], CapListHeader> {
    let (rest, (more, count, first_offset)) = (le_u8, le_u8, le_u16).parse(input)?;
    Ok((
        rest,
        CapListHeader {
            more,
            count,
            first_offset,
        },
    ))
}

/// One capability block: `[byteCount u16][signature u16][data]`, byteCount counting the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapBlock<'a> {
    pub byte_count: u16,
    pub signature: u16,
    pub data: &'a [u8],
}

pub const CAP_BLOCK_HEADER_LEN: u16 = 4;

/// Fails (as `Verify`) on a byteCount smaller than the block header.
pub fn cap_block(input: &[u8]) -> IResult<&[u8], CapBlock<'_>> {
    let (rest, (byte_count, signature)) = (le_u16, le_u16).parse(input)?;
    let Some(data_len) = byte_count.checked_sub(CAP_BLOCK_HEADER_LEN) else {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Verify,
        )));
    };
    let (rest, data) = take(data_len)(rest)?;
    Ok((
        rest,
        CapBlock {
            byte_count,
            signature,
            data,
        },
    ))
}

/// MODULE_C2H: the 36-byte header of every INIT_RESPONSE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleC2h<'a> {
    pub byte_count: u16,
    /// Modules still to come after this one.
    pub module_count: u8,
    pub class: u8,
    pub version_low: u8,
    pub version_high: u8,
    /// 13-byte NUL-padded file name.
    pub name: &'a [u8],
    /// 9-byte NUL-padded name the host knows the module by.
    pub host_module_name: &'a [u8],
    pub date: u16,
    pub time: u16,
    pub size: u32,
}

pub const MODULE_C2H_LEN: usize = 36;

pub fn module_c2h(input: &[u8]) -> IResult<&[u8], ModuleC2h<'_>> {
    let (rest, (byte_count, module_count, class, version_low, version_high)) =
        (le_u16, le_u8, le_u8, le_u8, le_u8).parse(input)?;
    let (rest, (name, host_module_name, date, time, size)) =
        (take(13usize), take(9usize), le_u16, le_u16, le_u32).parse(rest)?;
    Ok((
        rest,
        ModuleC2h {
            byte_count,
            module_count,
            class,
            version_low,
            version_high,
            name,
            host_module_name,
            date,
            time,
            size,
        },
    ))
}

/// UI_C2H: the user-interface module's fixed fields, right after MODULE_C2H. The `o_*`
/// offsets count from the start of MODULE_C2H; 0 means absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UiC2h {
    pub flags: u32,
    pub keyboard_layout: u32,
    pub encryption_level: u8,
    pub encryption_seed: u8,
    pub o_domain: u16,
    pub o_user_name: u16,
    pub o_password: u16,
    pub o_client_directory: u16,
    pub o_work_directory: u16,
    pub o_initial_program: u16,
    pub o_cloud_name: u16,
    pub client_build: u16,
    pub o_client_name: u16,
    /// Where the scrambled variable area starts (from the start of MODULE_C2H).
    pub fixed_length: u16,
    /// Size of the variable area.
    pub offset_length: u16,
    pub o_client_license: u16,
    pub encoding_type: u16,
    pub encoding_data: u16,
    pub keyboard_type: u16,
    pub keyboard_subtype: u8,
    pub keyboard_function_keys: u8,
    pub o_ime_file_name: u16,
}

pub const UI_C2H_LEN: usize = 52;

pub fn ui_c2h(input: &[u8]) -> IResult<&[u8], UiC2h> {
    let (rest, (flags, keyboard_layout, encryption_level, encryption_seed)) =
        (le_u32, le_u32, le_u8, le_u8).parse(input)?;
    let (rest, (o_domain, o_user_name, o_password, o_client_directory, o_work_directory)) =
        (le_u16, le_u16, le_u16, le_u16, le_u16).parse(rest)?;
    // The 6 Lpt/Port bytes are not used.
    let (rest, (o_initial_program, _ports, o_cloud_name, client_build, o_client_name)) =
        (le_u16, take(6usize), le_u16, le_u16, le_u16).parse(rest)?;
    let (rest, (fixed_length, offset_length, o_client_license, encoding_type, encoding_data)) =
        (le_u16, le_u16, le_u16, le_u16, le_u16).parse(rest)?;
    let (rest, (keyboard_type, keyboard_subtype, keyboard_function_keys, o_ime_file_name)) =
        (le_u16, le_u8, le_u8, le_u16).parse(rest)?;
    let (rest, _reserved) = le_u16(rest)?;
    Ok((
        rest,
        UiC2h {
            flags,
            keyboard_layout,
            encryption_level,
            encryption_seed,
            o_domain,
            o_user_name,
            o_password,
            o_client_directory,
            o_work_directory,
            o_initial_program,
            o_cloud_name,
            client_build,
            o_client_name,
            fixed_length,
            offset_length,
            o_client_license,
            encoding_type,
            encoding_data,
            keyboard_type,
            keyboard_subtype,
            keyboard_function_keys,
            o_ime_file_name,
        },
    ))
}

/// WD_C2H: the winstation driver's fixed fields, right after MODULE_C2H.
///
/// The current date is 4 bytes (day u8, month u8, year u16): PROTOCOLS.md leaves the split
/// open, and the real capture only fits a 4-byte date followed by a 4-byte time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WdC2h {
    pub serial_number: u32,
    pub flags: u32,
    /// The buffer and reducer wishes, and the text mode count, as the event reports them.
    pub wishes: ClientWinstationDriver,
    pub o_text_mode: u16,
    pub client_serial_number: u32,
    pub vc_bind_count: u16,
    /// Where the channel bindings start (from the start of MODULE_C2H).
    pub o_vc_bind: u16,
}

pub const WD_C2H_LEN: usize = 46;

pub fn wd_c2h(input: &[u8]) -> IResult<&[u8], WdC2h> {
    // CurrentDate: PROTOCOLS.md 2.3 writes "d, m, y (u16)", which could be read as three u16
    // (6 bytes). The real capture fits only 4 (day u8, month u8, year u16): its date and time
    // are zero, and with 4 bytes ICABufferLength reads 2048, VcBindCount 15 and oVcBind 182,
    // where the 15 bindings are; with 6 they would read 6, 182 and 0x1210.
    let (rest, (serial_number, _date, _time, flags)) =
        (le_u32, take(4usize), take(4usize), le_u32).parse(input)?;
    let (rest, (text_mode_count, o_text_mode, ica_buffer_length)) =
        (le_u16, le_u16, le_u16).parse(rest)?;
    let (rest, (out_buf_count_host, out_buf_count_client, out_buf_delay_host)) =
        (le_u16, le_u16, le_u16).parse(rest)?;
    let (rest, (out_buf_delay_client, client_product_id, client_serial_number)) =
        (le_u16, le_u16, le_u32).parse(rest)?;
    let (rest, (vc_bind_count, o_vc_bind, c2h_power_of2_wanted, h2c_power_of2_wanted)) =
        (le_u16, le_u16, le_u8, le_u8).parse(rest)?;
    let (rest, (h2c_max_new_data, reducer_version)) = (le_u16, le_u16).parse(rest)?;
    Ok((
        rest,
        WdC2h {
            serial_number,
            flags,
            wishes: ClientWinstationDriver {
                ica_buffer_length,
                out_buf_count_host,
                out_buf_count_client,
                out_buf_delay_host,
                out_buf_delay_client,
                client_product_id,
                c2h_power_of2_wanted,
                h2c_power_of2_wanted,
                h2c_max_new_data,
                reducer_version,
                text_modes: text_mode_count,
            },
            o_text_mode,
            client_serial_number,
            vc_bind_count,
            o_vc_bind,
        },
    ))
}

/// One virtual-channel binding: an 8-byte NUL-padded name and the channel number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcBind<'a> {
    pub name: &'a [u8],
    pub channel: u16,
}

pub const VC_BIND_LEN: usize = 10;

pub fn vc_bind(input: &[u8]) -> IResult<&[u8], VcBind<'_>> {
    let (rest, (name, channel)) = (take(8usize), le_u16).parse(input)?;
    Ok((rest, VcBind { name, channel }))
}

/// MODULE_H2C: the 8-byte header of every INIT_CONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleH2c {
    pub byte_count: u16,
    /// Host modules still to come after this one.
    pub module_count: u8,
    pub class: u8,
    pub version_low: u8,
    pub version_high: u8,
    pub version: u8,
}

pub const MODULE_H2C_LEN: usize = 8;

pub fn module_h2c(input: &[u8]) -> IResult<&[u8], ModuleH2c> {
    let (rest, (byte_count, module_count, class, version_low, version_high, version, _pad)) =
        (le_u16, le_u8, le_u8, le_u8, le_u8, le_u8, le_u8).parse(input)?;
    Ok((
        rest,
        ModuleH2c {
            byte_count,
            module_count,
            class,
            version_low,
            version_high,
            version,
        },
    ))
}

/// WD_H2C: what the host's winstation driver agreed to, right after MODULE_H2C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WdH2c<'a> {
    pub ica_buffer_length: u16,
    pub out_buf_count_host: u16,
    pub out_buf_count_client: u16,
    pub out_buf_delay_host: u16,
    pub out_buf_delay_client: u16,
    pub o_app_server_name: u16,
    pub oem_id: &'a [u8],
    pub wd_flag: u16,
    pub c2h_power_of2_agreed: u8,
    pub h2c_power_of2_agreed: u8,
    pub c2h_max_new_data: u16,
    pub reducer_version: u16,
}

pub const WD_H2C_LEN: usize = 24;

pub fn wd_h2c(input: &[u8]) -> IResult<&[u8], WdH2c<'_>> {
    let (rest, (ica_buffer_length, out_buf_count_host, out_buf_count_client)) =
        (le_u16, le_u16, le_u16).parse(input)?;
    let (rest, (out_buf_delay_host, out_buf_delay_client, o_app_server_name)) =
        (le_u16, le_u16, le_u16).parse(rest)?;
    let (rest, (oem_id, wd_flag, c2h_power_of2_agreed, h2c_power_of2_agreed)) =
        (take(4usize), le_u16, le_u8, le_u8).parse(rest)?;
    let (rest, (c2h_max_new_data, reducer_version)) = (le_u16, le_u16).parse(rest)?;
    Ok((
        rest,
        WdH2c {
            ica_buffer_length,
            out_buf_count_host,
            out_buf_count_client,
            out_buf_delay_host,
            out_buf_delay_client,
            o_app_server_name,
            oem_id,
            wd_flag,
            c2h_power_of2_agreed,
            h2c_power_of2_agreed,
            c2h_max_new_data,
            reducer_version,
        },
    ))
}

/// PD_H2C: the class of an accepted protocol driver (followed by 3 pad bytes, not required).
pub fn pd_h2c(input: &[u8]) -> IResult<&[u8], u8> {
    le_u8(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_header_waits_for_its_three_bytes() {
        assert!(matches!(
            init_packet_header(&[0x01, 0x97]),
            Err(nom::Err::Incomplete(_))
        ));
        // 01 = INIT_RESPONSE, 97 00 = 151 data bytes; the data need not be there yet.
        assert_eq!(
            init_packet_header(&[0x01, 0x97, 0x00, 0xAA]),
            Ok((&[0xAA][..], (0x01, 151)))
        );
    }

    #[test]
    fn capability_list_header_and_blocks() {
        let bytes = [
            0x00, // more data: none
            0x02, // 2 blocks
            0x04, 0x00, // first block at offset 4 from the list start
            0x06, 0x00, 0x02, 0x00, 0x03, 0x00, // 6 bytes, sig 2 REDUCERS_SUPPORTED, mask 3
            0x04, 0x00, 0x01, 0x00, // 4 bytes, sig 1 MTU, no data
        ];
        let (rest, head) = cap_list_header(&bytes).unwrap();
        assert_eq!(
            head,
            CapListHeader {
                more: 0,
                count: 2,
                first_offset: 4
            }
        );
        let (rest, first) = cap_block(rest).unwrap();
        assert_eq!((first.byte_count, first.signature), (6, 2));
        assert_eq!(first.data, &[0x03, 0x00]);
        let (rest, second) = cap_block(rest).unwrap();
        assert_eq!((second.signature, second.data.len()), (1, 0));
        assert!(rest.is_empty());
    }

    #[test]
    fn capability_blocks_shorter_than_their_header_are_refused() {
        // byteCount 3 cannot even hold its own 4-byte header.
        assert!(cap_block(&[0x03, 0x00, 0x01, 0x00]).is_err());
        // byteCount 8 but only 2 data bytes present.
        assert!(cap_block(&[0x08, 0x00, 0x01, 0x00, 0xAA, 0xBB]).is_err());
    }

    #[test]
    fn module_c2h_fields() {
        let mut bytes = vec![
            0x2A, 0x00, // 0: ByteCount 42
            0x03, // 2: ModuleCount 3 still to come
            0x04, // 3: class 4 ProtocolDriver
            0x01, 0x02, // 4: version low 1, high 2
        ];
        bytes.extend_from_slice(b"PDTESTN.DLL\0\0"); // 6: 13-byte file name
        bytes.extend_from_slice(b"PDTEST1\0\0"); // 19: 9-byte host module name
        bytes.extend_from_slice(&[0x35, 0x28]); // 28: DOS date 0x2835 = 2000-01-21
        bytes.extend_from_slice(&[0x56, 0xBE]); // 30: DOS time 0xBE56 = 23:50:44
        bytes.extend_from_slice(&[0x00, 0x10, 0x00, 0x00]); // 32: size 4096
        bytes.extend_from_slice(&[0xEE; 6]); // module data
        let (rest, m) = module_c2h(&bytes).unwrap();
        assert_eq!(rest.len(), 6);
        assert_eq!(m.byte_count, 42);
        assert_eq!((m.module_count, m.class), (3, 4));
        assert_eq!((m.version_low, m.version_high), (1, 2));
        assert_eq!(m.name, b"PDTESTN.DLL\0\0");
        assert_eq!(m.host_module_name, b"PDTEST1\0\0");
        assert_eq!((m.date, m.time, m.size), (0x2835, 0xBE56, 4096));
        assert!(module_c2h(&bytes[..35]).is_err());
    }

    #[test]
    fn ui_c2h_fields() {
        let bytes = [
            0x04, 0x00, 0x00, 0x00, // 36: flags 4
            0x09, 0x04, 0x00, 0x00, // 40: keyboard layout 0x409
            0x01, // 44: encryption level 1
            0x5A, // 45: seed 0x5A
            0x00, 0x00, // 46: oDomain absent
            0x60, 0x00, // 48: oUserName 96
            0x70, 0x00, // 50: oPassword 112
            0x58, 0x00, // 52: oClientDirectory 88
            0x00, 0x00, // 54: oWorkDirectory absent
            0x68, 0x00, // 56: oInitialProgram 104
            0, 0, 0, 0, 0, 0, // 58: Lpt/Port bytes
            0x00, 0x00, // 64: oCloudName absent
            0x21, 0x03, // 66: build 801
            0x80, 0x00, // 68: oClientName 128
            0x58, 0x00, // 70: FixedLength 88
            0x30, 0x00, // 72: OffsetLength 48
            0x00, 0x00, // 74: oClientLicense
            0x00, 0x00, // 76: EncodingType
            0x00, 0x00, // 78: EncodingData
            0x04, 0x00, // 80: KeyboardType 4
            0x00, // 82: KeyboardSubType
            0x0C, // 83: KeyboardFunctionKey 12
            0x00, 0x00, // 84: oimeFileName
            0x00, 0x00, // 86: reserved
        ];
        let (rest, ui) = ui_c2h(&bytes).unwrap();
        assert!(rest.is_empty());
        assert_eq!(ui.flags, 4);
        assert_eq!(ui.keyboard_layout, 0x409);
        assert_eq!((ui.encryption_level, ui.encryption_seed), (1, 0x5A));
        assert_eq!((ui.o_domain, ui.o_user_name, ui.o_password), (0, 96, 112));
        assert_eq!((ui.o_client_directory, ui.o_work_directory), (88, 0));
        assert_eq!(ui.o_initial_program, 104);
        assert_eq!((ui.client_build, ui.o_client_name), (801, 128));
        assert_eq!((ui.fixed_length, ui.offset_length), (88, 48));
        assert_eq!((ui.keyboard_type, ui.keyboard_function_keys), (4, 12));
        assert!(ui_c2h(&bytes[..UI_C2H_LEN - 1]).is_err());
    }

    #[test]
    fn wd_c2h_fields_and_bindings() {
        let bytes = [
            0x78, 0x56, 0x34, 0x12, // 36: serial number
            0x15, 0x01, 0xD0, 0x07, // 40: current date (21, 1, 2000)
            0x0C, 0x1E, 0x00, 0x00, // 44: current time
            0x07, 0x00, 0x00, 0x00, // 48: flags
            0x00, 0x00, // 52: text mode count
            0x00, 0x00, // 54: oTextMode
            0x00, 0x08, // 56: ICA buffer length 2048
            0x06, 0x00, // 58: out buffers host 6
            0x05, 0x00, // 60: out buffers client 5
            0xFF, 0xFF, // 62: delay host
            0x10, 0x00, // 64: delay client 16
            0x01, 0x00, // 66: product id 1
            0x00, 0x00, 0x00, 0x00, // 68: client serial
            0x02, 0x00, // 72: 2 bindings
            0x54, 0x00, // 74: bindings at 84
            0x10, // 76: C2H power of 2 wanted 16
            0x12, // 77: H2C power of 2 wanted 18
            0xD0, 0x07, // 78: H2C max new data 2000
            0x02, 0x00, // 80: reducer version 2
        ];
        let (rest, wd) = wd_c2h(&bytes).unwrap();
        assert!(rest.is_empty());
        assert_eq!(wd.serial_number, 0x1234_5678);
        assert_eq!(wd.flags, 7);
        assert_eq!((wd.vc_bind_count, wd.o_vc_bind), (2, 84));
        let w = &wd.wishes;
        assert_eq!(w.ica_buffer_length, 2048);
        assert_eq!((w.out_buf_count_host, w.out_buf_count_client), (6, 5));
        assert_eq!((w.out_buf_delay_host, w.out_buf_delay_client), (0xFFFF, 16));
        assert_eq!((w.c2h_power_of2_wanted, w.h2c_power_of2_wanted), (16, 18));
        assert_eq!((w.h2c_max_new_data, w.reducer_version), (2000, 2));

        // "CTXCLIP" NUL-padded to 8 bytes, channel 17.
        let entry = *b"CTXCLIP\0\x11\x00";
        let (_, bind) = vc_bind(&entry).unwrap();
        assert_eq!(bind.name, b"CTXCLIP\0");
        assert_eq!(bind.channel, 17);
        assert!(vc_bind(&entry[..9]).is_err());
    }

    #[test]
    fn module_h2c_wd_and_pd() {
        let bytes = [
            0x28, 0x00, // ByteCount 40
            0x03, // ModuleCount 3 to come
            0x02, // class WinstationDriver
            0x01, 0x08, // version low 1, high 8
            0x08, // version 8
            0x00, // pad
            0x00, 0x08, // ICA buffer length 2048
            0x06, 0x00, 0x06, 0x00, // out buffer counts host 6, client 6
            0xFF, 0xFF, 0xFF, 0xFF, // delays
            0x00, 0x00, // oAppServerName absent
            0x00, 0x00, 0x00, 0x00, // OEM id
            0x01, 0x00, // WdFlag: secured
            0x10, 0x12, // power of 2 agreed: C2H 16, H2C 18
            0xD0, 0x07, // C2H max new data 2000
            0x02, 0x00, // reducer version 2
        ];
        let (rest, m) = module_h2c(&bytes).unwrap();
        assert_eq!(
            m,
            ModuleH2c {
                byte_count: 40,
                module_count: 3,
                class: 2,
                version_low: 1,
                version_high: 8,
                version: 8
            }
        );
        let (rest, wd) = wd_h2c(rest).unwrap();
        assert!(rest.is_empty());
        assert_eq!(wd.ica_buffer_length, 2048);
        assert_eq!((wd.out_buf_count_host, wd.out_buf_count_client), (6, 6));
        assert_eq!((wd.out_buf_delay_host, wd.o_app_server_name), (0xFFFF, 0));
        assert_eq!(wd.oem_id, &[0, 0, 0, 0]);
        assert_eq!(wd.wd_flag, 1);
        assert_eq!((wd.c2h_power_of2_agreed, wd.h2c_power_of2_agreed), (16, 18));
        assert_eq!((wd.c2h_max_new_data, wd.reducer_version), (2000, 2));
        assert!(wd_h2c(&bytes[8..31]).is_err());
        assert_eq!(pd_h2c(&[0x0B, 0, 0, 0]), Ok((&[0u8, 0, 0][..], 11)));
    }
}
