//! The meaning of the init-phase packets (PROTOCOLS.md 2.3): INIT_REQUEST, the client's
//! INIT_RESPONSE modules (UI_C2H, WD_C2H), the host's INIT_CONNECT modules (WD_H2C, PD_H2C)
//! and INIT_CONNECT_RESPONSE. Each packet becomes events and facts in the [`Session`]; offsets
//! and counts that disagree with the packet become anomalies.

use super::anomaly::AnomalyKind;
use super::crypt::ScrambledArea;
use super::event::{
    Capability, ChannelBinding, ClientInfo, ClientModule, DosDate, DosTime, Event, HostModule,
    HostWinstationDriver, ProtocolDriver,
};
use super::names::{self, CAP_REDUCERS_SUPPORTED};
use super::parser::{self, MODULE_C2H_LEN, MODULE_H2C_LEN, UI_C2H_LEN, VC_BIND_LEN};
use super::session::{MAX_BINDINGS, MAX_PROTOCOL_DRIVERS, Session, WdAgreement};
use super::sink::Sink;
use super::summary::ClientSummary;
use crate::text::{WireText, nul_terminated};
use crate::types::Dir;

/// Largest init packet accepted (data bytes); the real client's largest is a few hundred.
pub const MAX_INIT_PACKET: usize = 32 * 1024;
/// Most capability blocks reported from one INIT_REQUEST.
pub const MAX_CAPABILITIES: usize = 32;
/// Messages shorter than this, sent on their own, were seen followed by zero bytes up to this
/// size (the real capture's `04 00 00 00 00 00`, `03 00 04 00 04 00`, `02 00 02 00 00 00`).
pub const PADDED_MESSAGE_LEN: usize = 6;

/// What a direction does after an init packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// More init packets follow.
    Init,
    /// Framed data follows, possibly after this many zero padding bytes.
    Framed { padding: u8 },
    /// The packet does not belong here: stop decoding the direction.
    Broken,
}

/// Per-direction memory of the init phase.
#[derive(Clone, Copy, Debug, Default)]
pub struct InitTracker {
    last_module_count: Option<u8>,
    /// The lowest ModuleCount seen before a gap: modules after it count down from below it.
    ceiling: Option<u8>,
    seen_request: bool,
}

impl InitTracker {
    /// Bytes were lost: the modules in them are not counted down, so the next ModuleCount is
    /// only known to be below the last one seen.
    pub fn after_gap(&mut self) {
        if let Some(last) = self.last_module_count.take() {
            self.ceiling = Some(last);
        }
    }

    /// The next module's ModuleCount is below this (a gap lost the modules in between).
    pub fn count_ceiling(&self) -> Option<u8> {
        self.last_module_count.or(self.ceiling)
    }

    /// Checks the header of one module, `names` its layout and the packet carrying it: its
    /// ByteCount should be the packet's length, and ModuleCount counts down by one.
    fn module_header(
        &mut self,
        names: (&str, &str),
        byte_count: u16,
        module_count: u8,
        len: usize,
        sink: &mut Sink,
    ) {
        if usize::from(byte_count) != len {
            let (module, packet) = names;
            inconsistent(sink, || {
                format!("{module} ByteCount {byte_count} in a {len}-byte {packet}")
            });
        }
        if let Some(last) = self.last_module_count
            && last.checked_sub(1) != Some(module_count)
        {
            sink.anomaly(AnomalyKind::ModuleCount, || {
                format!("ModuleCount {module_count} after {last}")
            });
        }
        self.last_module_count = Some(module_count);
    }
}

/// Handles one init packet (`command`, its `data`) of the sink's direction.
pub fn handle(
    command: u8,
    data: &[u8],
    tracker: &mut InitTracker,
    session: &mut Session,
    sink: &mut Sink,
) -> Next {
    match (sink.dir, command) {
        (Dir::ToClient, names::INIT_REQUEST) if !tracker.seen_request => {
            tracker.seen_request = true;
            init_request(data, session, sink);
            Next::Init
        }
        (Dir::ToClient, names::INIT_CONNECT) => {
            match init_connect(data, tracker, session, sink) {
                Some(0) => {
                    session.host_init_finished(sink);
                    Next::Framed { padding: 0 }
                }
                Some(_) => Next::Init,
                // Without MODULE_H2C the module count is unknown: the end of the host's init
                // phase cannot be told.
                None => Next::Broken,
            }
        }
        (Dir::ToServer, names::INIT_RESPONSE) => {
            init_response(data, tracker, session, sink);
            Next::Init
        }
        (Dir::ToServer, names::INIT_CONNECT_RESPONSE) => {
            session.client_init_finished(sink);
            let sent = parser::INIT_HEADER_LEN + data.len();
            Next::Framed {
                padding: PADDED_MESSAGE_LEN.saturating_sub(sent) as u8,
            }
        }
        (dir, command) => {
            sink.anomaly(AnomalyKind::UnexpectedInitPacket, || {
                format!(
                    "command 0x{command:02x} ({}) is not an init packet {}; direction no longer decoded",
                    names::command_name(command),
                    dir.name()
                )
            });
            Next::Broken
        }
    }
}

fn truncated(sink: &mut Sink, what: &str, need: usize, have: usize) {
    sink.anomaly(AnomalyKind::TruncatedInitPacket, || {
        format!("{what}: {have} bytes, need {need}")
    });
}

fn inconsistent(sink: &mut Sink, message: impl FnOnce() -> String) {
    sink.anomaly(AnomalyKind::InconsistentLength, message);
}

/// INIT_REQUEST: host level, then the capability list.
fn init_request(data: &[u8], session: &mut Session, sink: &mut Sink) {
    let Some((&host_level, list)) = data.split_first() else {
        truncated(sink, "INIT_REQUEST", 1, 0);
        return;
    };
    session.host_level = Some(host_level);
    let mut capabilities = Vec::new();
    let mut omitted = 0u16;
    let mut more_capabilities = 0;
    // A bare level (no list at all) is accepted as "no capabilities".
    if !list.is_empty() {
        match parser::cap_list_header(list) {
            Err(_) => truncated(
                sink,
                "capability list",
                parser::CAP_LIST_HEADER_LEN,
                list.len(),
            ),
            Ok((_, head)) => {
                more_capabilities = head.more;
                let first = usize::from(head.first_offset);
                omitted = u16::from(head.count);
                match list.get(first..) {
                    Some(blocks) if first >= parser::CAP_LIST_HEADER_LEN => {
                        omitted = read_capabilities(blocks, head.count, &mut capabilities, sink);
                    }
                    _ => inconsistent(sink, || {
                        format!(
                            "capability list: first block at {first}, list is {} bytes",
                            list.len()
                        )
                    }),
                }
            }
        }
    }
    sink.event(Event::InitRequest {
        host_level,
        more_capabilities,
        capabilities,
        capabilities_omitted: omitted,
    });
}

/// Reads `count` consecutive capability blocks; returns how many were not reported.
fn read_capabilities(
    mut blocks: &[u8],
    count: u8,
    into: &mut Vec<Capability>,
    sink: &mut Sink,
) -> u16 {
    for index in 0..count {
        let Ok((rest, block)) = parser::cap_block(blocks) else {
            inconsistent(sink, || {
                format!("capability block {index} of {count} does not fit its packet")
            });
            break;
        };
        blocks = rest;
        if into.len() < MAX_CAPABILITIES {
            let reducers_mask = match (block.signature, block.data) {
                (CAP_REDUCERS_SUPPORTED, [lo, hi, ..]) => Some(u16::from_le_bytes([*lo, *hi])),
                _ => None,
            };
            into.push(Capability {
                signature: block.signature,
                name: names::capability(block.signature),
                data_len: block.byte_count - parser::CAP_BLOCK_HEADER_LEN,
                reducers_mask,
            });
        }
    }
    u16::from(count).saturating_sub(into.len() as u16)
}

/// INIT_RESPONSE: one client module.
fn init_response(data: &[u8], tracker: &mut InitTracker, session: &mut Session, sink: &mut Sink) {
    let Ok((_, module)) = parser::module_c2h(data) else {
        truncated(sink, "INIT_RESPONSE MODULE_C2H", MODULE_C2H_LEN, data.len());
        return;
    };
    tracker.module_header(
        ("MODULE_C2H", "INIT_RESPONSE"),
        module.byte_count,
        module.module_count,
        data.len(),
        sink,
    );
    session.client_modules = session.client_modules.saturating_add(1);
    let name = WireText::from_nul_terminated(module.name);
    let host_module_name = WireText::from_nul_terminated(module.host_module_name);
    note_encryption_module(session, module.name, module.host_module_name, &name);
    sink.event(Event::ClientModule(ClientModule {
        remaining: module.module_count,
        class: module.class,
        class_name: names::module_class(module.class),
        name,
        host_module_name,
        version_low: module.version_low,
        version_high: module.version_high,
        date: DosDate::from_raw(module.date),
        time: DosTime::from_raw(module.time),
        size: module.size,
        byte_count: module.byte_count,
    }));
    match module.class {
        names::CLASS_USER_INTERFACE => user_interface(data, session, sink),
        names::CLASS_WINSTATION_DRIVER => winstation_driver(data, session, sink),
        _ => {}
    }
}

/// Remembers client modules that provide encryption: PDCRYPT1 (basic) or PDC40/56/128 (RC5).
fn note_encryption_module(session: &mut Session, file: &[u8], host: &[u8], name: &WireText) {
    let starts = |field: &[u8], prefix: &[u8]| {
        let field = nul_terminated(field);
        field.len() >= prefix.len() && field[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    if starts(host, b"PDCRYPT") || starts(file, b"PDCRYPT") {
        session.basic_module.get_or_insert_with(|| name.clone());
    }
    let rc5 = |field: &[u8]| {
        let field = nul_terminated(field);
        starts(field, b"PDC") && field.get(3).is_some_and(u8::is_ascii_digit)
    };
    if rc5(file) || rc5(host) {
        session.rc5_module.get_or_insert_with(|| name.clone());
    }
}

/// UI_C2H: the user-interface module, with its scrambled variable area.
fn user_interface(module: &[u8], session: &mut Session, sink: &mut Sink) {
    let Some(Ok((_, ui))) = module.get(MODULE_C2H_LEN..).map(parser::ui_c2h) else {
        truncated(sink, "UI_C2H", MODULE_C2H_LEN + UI_C2H_LEN, module.len());
        return;
    };
    let fixed = usize::from(ui.fixed_length);
    let (area, area_ok) = match module.get(fixed..) {
        Some(area) if fixed >= MODULE_C2H_LEN + UI_C2H_LEN => (area, true),
        _ => {
            inconsistent(sink, || {
                format!(
                    "UI_C2H FixedLength {fixed} in a {}-byte module",
                    module.len()
                )
            });
            (&[][..], false)
        }
    };
    if area_ok && usize::from(ui.offset_length) != area.len() {
        inconsistent(sink, || {
            format!(
                "UI_C2H OffsetLength {} but the variable area is {} bytes",
                ui.offset_length,
                area.len()
            )
        });
    }
    let strings = VariableArea {
        area: ScrambledArea::new(area, ui.encryption_seed),
        fixed,
    };
    let mut bad_offset = None;
    let mut text = |offset: u16| {
        strings.text(offset).unwrap_or_else(|_| {
            bad_offset.get_or_insert(offset);
            None
        })
    };
    let client_name = text(ui.o_client_name);
    let initial_program = text(ui.o_initial_program);
    let client_directory = text(ui.o_client_directory);
    let work_directory = text(ui.o_work_directory);
    let domain = text(ui.o_domain);
    let user_name = text(ui.o_user_name);
    let password_present = strings.present(ui.o_password).unwrap_or_else(|_| {
        bad_offset.get_or_insert(ui.o_password);
        false
    });
    if let Some(offset) = bad_offset.filter(|_| area_ok) {
        inconsistent(sink, || {
            format!(
                "UI_C2H string offset {offset} outside the variable area {fixed}..{}",
                module.len()
            )
        });
    }
    let published_application = strings.published_application(ui.o_initial_program);
    session.client = ClientSummary {
        client_name: client_name.clone(),
        initial_program: initial_program.clone(),
        published_application: published_application.clone(),
        client_build: Some(ui.client_build),
        domain: domain.clone(),
        user_name: user_name.clone(),
        password_present,
    };
    session.encryption_level = Some(ui.encryption_level);
    sink.event(Event::ClientInfo(ClientInfo {
        client_name,
        client_build: ui.client_build,
        initial_program,
        published_application,
        client_directory,
        work_directory,
        domain,
        user_name,
        password_present,
        keyboard_layout: ui.keyboard_layout,
        keyboard_type: ui.keyboard_type,
        keyboard_subtype: ui.keyboard_subtype,
        keyboard_function_keys: ui.keyboard_function_keys,
        encryption_level: ui.encryption_level,
        flags: ui.flags,
    }));
}

/// The UI_C2H variable area addressed by offsets from the start of MODULE_C2H.
struct VariableArea<'a> {
    area: ScrambledArea<'a>,
    fixed: usize,
}

/// An offset that points outside the variable area.
struct BadOffset;

impl VariableArea<'_> {
    /// Index in the area of a non-zero offset.
    fn start(&self, offset: u16) -> Result<Option<usize>, BadOffset> {
        if offset == 0 {
            return Ok(None);
        }
        match usize::from(offset).checked_sub(self.fixed) {
            Some(start) if start < self.area.len() => Ok(Some(start)),
            _ => Err(BadOffset),
        }
    }

    /// The NUL-terminated string at `offset` (0 = absent).
    fn text(&self, offset: u16) -> Result<Option<WireText>, BadOffset> {
        let Some(start) = self.start(offset)? else {
            return Ok(None);
        };
        // One byte over the WireText cap, so that a cut string is marked as cut.
        let mut bytes = [0u8; WireText::MAX_LEN + 1];
        let mut len = 0;
        for (slot, b) in bytes.iter_mut().zip(self.area.c_string(start)) {
            *slot = b;
            len += 1;
        }
        Ok(Some(WireText::from_bytes(&bytes[..len])))
    }

    /// The initial program at `offset` without its leading `#`, when it names a published
    /// application.
    fn published_application(&self, offset: u16) -> Option<WireText> {
        let start = self.start(offset).ok()??;
        if self.area.byte(start) != Some(b'#') {
            return None;
        }
        self.text(offset.checked_add(1)?).ok()?
    }

    /// Whether a non-empty string is at `offset`: only its first byte is descrambled, and
    /// nothing of it is kept (passwords).
    fn present(&self, offset: u16) -> Result<bool, BadOffset> {
        Ok(self
            .start(offset)?
            .is_some_and(|start| self.area.c_string(start).next().is_some()))
    }
}

/// WD_C2H: buffer and reducer wishes, and the virtual-channel bindings.
fn winstation_driver(module: &[u8], session: &mut Session, sink: &mut Sink) {
    let Some(Ok((_, wd))) = module.get(MODULE_C2H_LEN..).map(parser::wd_c2h) else {
        truncated(
            sink,
            "WD_C2H",
            MODULE_C2H_LEN + parser::WD_C2H_LEN,
            module.len(),
        );
        return;
    };
    session.client_wants_reducer = Some(wd.wishes.c2h_power_of2_wanted != 0);
    sink.event(Event::ClientWinstationDriver(wd.wishes.clone()));
    let mut bindings = Vec::new();
    let mut entries = module.get(usize::from(wd.o_vc_bind)..).unwrap_or(&[]);
    for _ in 0..wd.vc_bind_count {
        if bindings.len() == MAX_BINDINGS {
            break;
        }
        let Ok((rest, bind)) = parser::vc_bind(entries) else {
            let (count, at) = (wd.vc_bind_count, wd.o_vc_bind);
            inconsistent(sink, || {
                format!(
                    "{count} channel bindings of {VC_BIND_LEN} bytes at {at} do not fit a {}-byte module",
                    module.len()
                )
            });
            break;
        };
        entries = rest;
        bindings.push(ChannelBinding {
            name: channel_name(bind.name),
            channel: bind.channel,
        });
    }
    let omitted = wd.vc_bind_count.saturating_sub(bindings.len() as u16);
    session.bindings.clone_from(&bindings);
    sink.event(Event::ChannelBindings { bindings, omitted });
}

/// A channel name from its 8-byte slot: clients pad short names with spaces before the NUL
/// (`"CTXTW  \0"`), which are not part of the name.
fn channel_name(slot: &[u8]) -> WireText {
    let name = nul_terminated(slot);
    let end = name.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    WireText::from_bytes(&name[..end])
}

/// INIT_CONNECT: one host module. Returns its ModuleCount, `None` when unreadable.
fn init_connect(
    data: &[u8],
    tracker: &mut InitTracker,
    session: &mut Session,
    sink: &mut Sink,
) -> Option<u8> {
    let Ok((body, module)) = parser::module_h2c(data) else {
        truncated(sink, "INIT_CONNECT MODULE_H2C", MODULE_H2C_LEN, data.len());
        return None;
    };
    tracker.module_header(
        ("MODULE_H2C", "INIT_CONNECT"),
        module.byte_count,
        module.module_count,
        data.len(),
        sink,
    );
    session.host_modules = session.host_modules.saturating_add(1);
    let mut winstation_driver = None;
    let mut protocol_driver = None;
    match module.class {
        names::CLASS_WINSTATION_DRIVER => match parser::wd_h2c(body) {
            Ok((trailing, wd)) => {
                session.wd = Some(WdAgreement {
                    ica_buffer_length: wd.ica_buffer_length,
                    c2h_power_of2: wd.c2h_power_of2_agreed,
                    h2c_power_of2: wd.h2c_power_of2_agreed,
                });
                let app_server_name = match usize::from(wd.o_app_server_name) {
                    0 => None,
                    at => data.get(at..).map(WireText::from_nul_terminated),
                };
                winstation_driver = Some(HostWinstationDriver {
                    ica_buffer_length: wd.ica_buffer_length,
                    out_buf_count_host: wd.out_buf_count_host,
                    out_buf_count_client: wd.out_buf_count_client,
                    out_buf_delay_host: wd.out_buf_delay_host,
                    out_buf_delay_client: wd.out_buf_delay_client,
                    app_server_name,
                    oem_id: WireText::from_nul_terminated(wd.oem_id),
                    wd_flag: wd.wd_flag,
                    secured: wd.wd_flag & 1 != 0,
                    c2h_power_of2_agreed: wd.c2h_power_of2_agreed,
                    h2c_power_of2_agreed: wd.h2c_power_of2_agreed,
                    c2h_max_new_data: wd.c2h_max_new_data,
                    reducer_version: wd.reducer_version,
                    trailing_bytes: trailing.len() as u16,
                });
            }
            Err(_) => truncated(
                sink,
                "WD_H2C",
                MODULE_H2C_LEN + parser::WD_H2C_LEN,
                data.len(),
            ),
        },
        names::CLASS_PROTOCOL_DRIVER => match parser::pd_h2c(body) {
            Ok((_, class)) => {
                let driver = ProtocolDriver {
                    class,
                    name: names::pd_class(class),
                };
                if session.protocol_drivers.len() < MAX_PROTOCOL_DRIVERS {
                    session.protocol_drivers.push(driver);
                }
                protocol_driver = Some(driver);
            }
            Err(_) => truncated(sink, "PD_H2C", MODULE_H2C_LEN + 1, data.len()),
        },
        _ => {}
    }
    sink.event(Event::HostModule(HostModule {
        remaining: module.module_count,
        class: module.class,
        class_name: names::module_class(module.class),
        version_low: module.version_low,
        version_high: module.version_high,
        version: module.version,
        byte_count: module.byte_count,
        winstation_driver,
        protocol_driver,
    }));
    Some(module.module_count)
}
