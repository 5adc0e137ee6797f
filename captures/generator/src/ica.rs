//! ICA sessions as the writes each side makes, built with the ICA dissector's own encoders
//! (PROTOCOLS.md 2): detect exchange, init phase, key exchange, framed data, TERMINATE.
//!
//! A session is a list of [`Beat`]s. The scenarios put them on a TCP connection to 1494 as they
//! are ([`on_tcp`]), or inside CGP messages on 2598, where the same ICA stream rides in a
//! Citrix.TcpProxyService channel. [`LongSession`] produces a session lazily, round by round,
//! for large captures (benchmarks) with bounded memory; [`clear_frames`] gives the framed data
//! of an unencrypted session for the TCP edge cases.
//!
//! Framed data follows what the init phase agreed: both directions use the reducer, and every
//! block is a literal one so the ICA commands inside stay readable (a real reducer would mostly
//! send compressed blocks); with basic encryption each frame is PDCRYPT1-encrypted; with RC5 the
//! payload is opaque (pseudo-random bytes of the right size), as no passive observer can read it.

use crate::rng::Rng;
use crate::tcp::{Step, TcpConversation};
use ctxscope_dissectors::Dir::{self, ToClient, ToServer};
use ctxscope_dissectors::ica::encode::{
    self, CapabilityBlock, ClientModuleHeader, HostModuleHeader, Pdcrypt1, UiModule, WdConnect,
};
use ctxscope_dissectors::ica::names::PD_ENCRYPT;
use ctxscope_dissectors::ica::{ClientWinstationDriver, DosDate, DosTime, TerminateReason};
use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::time::Duration;

/// One moment of a session.
#[derive(Clone, Debug, PartialEq)]
pub enum Beat {
    /// One application write by one side.
    Write(Dir, Vec<u8>),
    /// Nothing is sent for this long.
    Pause(Duration),
}

/// What protects the framed data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// The host accepts no encryption driver: the data is readable.
    Clear,
    /// PDCRYPT1 "basic encryption" with this session key, sent in the clear.
    Basic(u8),
    /// SecureICA RC5 128-bit: a real key exchange, then opaque frames.
    Rc5,
}

/// What the client says about itself in its user-interface module (UI_C2H).
#[derive(Clone, Copy, Debug)]
pub struct Client<'a> {
    pub name: &'a str,
    pub build: u16,
    /// Published application, sent as the initial program `#name`.
    pub application: &'a str,
    /// Credentials typed into (or saved in) the connection, sent in the init phase.
    pub logon: Option<Logon<'a>>,
}

#[derive(Clone, Copy, Debug)]
pub struct Logon<'a> {
    pub domain: &'a str,
    pub user: &'a str,
    pub password: &'a str,
}

/// Virtual channels a Windows client binds (name and number, as in the real capture).
pub const BINDINGS: [(&str, u16); 8] = [
    ("CTXTW", 9),
    ("CTXTWI", 12),
    ("CTXCDM", 10),
    ("CTXCPM", 4),
    ("CTXCLIP", 17),
    ("CTXCAM", 13),
    ("CTXLIC", 18),
    ("CTXPN", 19),
];
/// Thinwire: screen updates from the host.
pub const THINWIRE: u8 = 9;
/// Client printer mapping: print jobs from the host.
pub const PRINTER: u8 = 4;
pub const CLIPBOARD: u8 = 17;
/// Licensing channel: one request and its answer when the session starts.
pub const LICENSING: u8 = 18;

/// ICA buffer length both sides agree on; frames stay below it.
const ICA_BUFFER: u16 = 2048;
/// Largest thinwire write, so that a frame (write, literal block header, crypt header) fits.
const MAX_SCREEN_WRITE: usize = 1400;
/// Module class numbers without a name in the dissector's tables.
const CLASS_VIRTUAL_DRIVER: u8 = 3;
const CLASS_TRANSPORT_DRIVER: u8 = 5;
/// PD_H2C class of the framing protocol driver.
const PD_FRAME: u8 = 9;
/// Keyboard (one scan code) and mouse (x, y, buttons) commands of the user's input.
const KEYBOARD0: u8 = 0x0A;
const MOUSE0: u8 = 0x0D;

/// How the client sends its INIT_RESPONSE modules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleWrites {
    /// All in one write.
    Together,
    /// One write each, as the client of the real capture does (one TCP segment per module).
    OnePerModule,
}

/// An ICA session being written: the beats so far and each direction's framing state.
pub struct IcaSession {
    beats: Vec<Beat>,
    sealers: [Sealer; 2],
    rng: Rng,
}

impl IcaSession {
    /// Detect exchange, init phase and key exchange of `client` with a XenApp host.
    pub fn open(client: &Client, protection: Protection, seed: u64) -> IcaSession {
        IcaSession::open_with(client, protection, seed, ModuleWrites::Together)
    }

    /// [`IcaSession::open`], with the client's modules written as `modules` says.
    pub fn open_with(
        client: &Client,
        protection: Protection,
        seed: u64,
        modules: ModuleWrites,
    ) -> IcaSession {
        let mut rng = Rng::new(seed);
        let sealers = [
            Sealer::new(protection, rng.fork(1)),
            Sealer::new(protection, rng.fork(2)),
        ];
        let mut s = IcaSession {
            beats: Vec::new(),
            sealers,
            rng,
        };
        // The server speaks first; the client echoes.
        s.write(ToClient, encode::detect().to_vec());
        s.write(ToServer, encode::detect().to_vec());
        s.write(ToClient, init_request());
        let client_modules = client_modules(client, protection);
        match modules {
            ModuleWrites::Together => s.write(ToServer, client_modules.concat()),
            ModuleWrites::OnePerModule => {
                for module in client_modules {
                    s.write(ToServer, module);
                }
            }
        }
        s.write(ToClient, host_modules(protection));
        s.write(ToServer, encode::init_connect_response().to_vec());
        match protection {
            Protection::Clear => {}
            Protection::Basic(key) => {
                s.write(ToClient, encode::public_key_frame().to_vec());
                s.write(ToServer, encode::session_key_frame(key).to_vec());
            }
            Protection::Rc5 => {
                // Header, version, then the key material: 64-byte Diffie-Hellman values.
                let public = [&[0x02, 0x01][..], &s.rng.bytes(64)].concat();
                s.write(ToClient, frame(&public));
                let session = [&[0x04, 0x00][..], &s.rng.bytes(64)].concat();
                s.write(ToServer, frame(&session));
            }
        }
        s
    }

    /// The licensing exchange on CTXLIC when the session starts: one write each way.
    pub fn licensing(&mut self) -> &mut Self {
        let request = self.rng.bytes(40);
        self.frames(ToServer, &[vec![write(LICENSING, &request)]]);
        let grant = self.rng.bytes(64);
        self.frames(ToClient, &[vec![write(LICENSING, &grant)]])
    }

    /// `updates` thinwire writes from the host, one per frame, sent as one burst.
    pub fn screen(&mut self, updates: usize) -> &mut Self {
        let frames: Vec<Vec<Vec<u8>>> = (0..updates)
            .map(|_| {
                let len = self.rng.between(180, MAX_SCREEN_WRITE);
                vec![write(THINWIRE, &self.rng.bytes(len))]
            })
            .collect();
        self.frames(ToClient, &frames)
    }

    /// The user types and clicks: `keys` frames of keyboard and mouse commands, each its own
    /// write (a person types slower than the network), each echoed by a small thinwire update.
    pub fn typing(&mut self, keys: usize) -> &mut Self {
        for _ in 0..keys {
            let scan = self.rng.between(0x10, 0x32) as u8;
            let mut commands = command(KEYBOARD0, &[scan]);
            let (x, y) = (self.rng.next_u16() % 1920, self.rng.next_u16() % 1080);
            let mouse = [x.to_le_bytes(), y.to_le_bytes()].concat();
            commands.extend(command(MOUSE0, &[mouse.as_slice(), &[0x01]].concat()));
            self.frames(ToServer, &[vec![commands]]);
            let glyph = self.rng.between(40, 160);
            let echo = write(THINWIRE, &self.rng.bytes(glyph));
            self.frames(ToClient, &[vec![echo]]);
        }
        self
    }

    /// The user copies `len` bytes to the clipboard; the host answers with a short write.
    pub fn clipboard(&mut self, len: usize) -> &mut Self {
        let data = self.rng.bytes(len);
        self.frames(ToServer, &[vec![write(CLIPBOARD, &data)]]);
        self.frames(ToClient, &[vec![write(CLIPBOARD, &[0x01, 0x00])]])
    }

    /// A print job of `chunks` CTXCPM writes from the host to the client's printer.
    pub fn print(&mut self, chunks: usize) -> &mut Self {
        let frames: Vec<Vec<Vec<u8>>> = (0..chunks)
            .map(|_| vec![write(PRINTER, &self.rng.bytes(MAX_SCREEN_WRITE))])
            .collect();
        self.frames(ToClient, &frames)
    }

    pub fn pause(&mut self, duration: Duration) -> &mut Self {
        self.beats.push(Beat::Pause(duration));
        self
    }

    /// The user logs off: the host sends TERMINATE (logoff), the client acknowledges.
    pub fn logoff(&mut self) -> &mut Self {
        let bye = encoded(encode::terminate(TerminateReason::Logoff));
        self.frames(ToClient, &[vec![bye]]);
        let ack = encoded(encode::terminate(TerminateReason::Ack));
        self.frames(ToServer, &[vec![ack]])
    }

    /// The beats written so far, leaving the session ready to go on (a reconnect carries the
    /// rest of the same stream).
    pub fn take(&mut self) -> Vec<Beat> {
        std::mem::take(&mut self.beats)
    }

    fn write(&mut self, dir: Dir, bytes: Vec<u8>) {
        self.beats.push(Beat::Write(dir, bytes));
    }

    /// One write of `dir` holding one frame per entry, each frame the given commands.
    fn frames(&mut self, dir: Dir, frames: &[Vec<Vec<u8>>]) -> &mut Self {
        let sealer = &mut self.sealers[dir.index()];
        let bytes: Vec<u8> = frames
            .iter()
            .flat_map(|commands| sealer.seal(&commands.concat()))
            .collect();
        self.write(dir, bytes);
        self
    }
}

/// What a long session does each round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    pub rounds: u32,
    /// Thinwire updates the host sends per round.
    pub screen_updates: RangeInclusive<usize>,
    /// Keystrokes (each with its echo) per round.
    pub keys: RangeInclusive<usize>,
    /// Think time before each round.
    pub pause_ms: RangeInclusive<u64>,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            rounds: 100,
            screen_updates: 1..=6,
            keys: 0..=2,
            pause_ms: 5..=100,
        }
    }
}

/// An ICA session of `shape.rounds` rounds of typing and screen updates, then a logoff and
/// the TCP close, produced as TCP script steps one round at a time.
pub struct LongSession {
    session: IcaSession,
    shape: Shape,
    rng: Rng,
    round: u32,
    queued: VecDeque<Step>,
}

impl LongSession {
    pub fn new(client: &Client, protection: Protection, seed: u64, shape: Shape) -> LongSession {
        let mut session = IcaSession::open(client, protection, seed);
        let queued = steps(session.take());
        LongSession {
            session,
            shape,
            rng: Rng::new(seed).fork(3),
            round: 0,
            queued,
        }
    }
}

impl Iterator for LongSession {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        if self.queued.is_empty() && self.round <= self.shape.rounds {
            let s = &mut self.session;
            if self.round < self.shape.rounds {
                let shape = &self.shape;
                let pause = self.rng.between(
                    *shape.pause_ms.start() as usize,
                    *shape.pause_ms.end() as usize,
                );
                s.pause(Duration::from_millis(pause as u64));
                s.typing(self.rng.between(*shape.keys.start(), *shape.keys.end()));
                s.screen(
                    self.rng
                        .between(*shape.screen_updates.start(), *shape.screen_updates.end()),
                );
                self.queued = steps(s.take());
            } else {
                s.logoff();
                self.queued = steps(s.take());
                self.queued.push_back(Step::Fin { dir: ToClient });
                self.queued.push_back(Step::Fin { dir: ToServer });
            }
            self.round += 1;
        }
        self.queued.pop_front()
    }
}

fn steps(beats: Vec<Beat>) -> VecDeque<Step> {
    beats
        .into_iter()
        .map(|beat| match beat {
            Beat::Write(dir, data) => Step::Send {
                dir,
                data,
                impairments: Vec::new(),
            },
            Beat::Pause(duration) => Step::Idle(duration),
        })
        .collect()
}

/// Framed data of an unencrypted session (after [`IcaSession::open`] with
/// [`Protection::Clear`]): thinwire writes of 60 to 400 bytes, at least `len` bytes in all.
pub fn clear_frames(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut sealer = Sealer::new(Protection::Clear, rng.fork(1));
    let mut out = Vec::new();
    while out.len() < len {
        let size = rng.between(60, 400);
        out.extend(sealer.seal(&write(THINWIRE, &rng.bytes(size))));
    }
    out
}

/// Framed keystrokes of an unencrypted session: `keys` frames of one KEYBOARD0 command each.
pub fn clear_keystrokes(seed: u64, keys: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut sealer = Sealer::new(Protection::Clear, rng.fork(1));
    (0..keys)
        .flat_map(|_| sealer.seal(&command(KEYBOARD0, &[rng.between(0x10, 0x32) as u8])))
        .collect()
}

/// Unwraps an encoder result: the synthesized messages are always within the encoders' limits.
fn encoded<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("synthesized ICA message cannot be encoded: {e}"))
}

/// The beats of an ICA session on its own TCP connection.
pub fn on_tcp(conversation: TcpConversation, beats: Vec<Beat>) -> TcpConversation {
    beats
        .into_iter()
        .fold(conversation, |conversation, beat| match beat {
            Beat::Write(dir, bytes) => conversation.send(dir, bytes, []),
            Beat::Pause(duration) => conversation.idle(duration),
        })
}

/// Turns one direction's ICA commands into frames: a literal reducer block, then the
/// protection, then the PDRFRAME length.
struct Sealer {
    cipher: Cipher,
}

enum Cipher {
    Clear,
    Basic(Pdcrypt1),
    /// RC5 ciphertext cannot be produced meaningfully; its bytes are drawn from this.
    Rc5(Rng),
}

impl Sealer {
    fn new(protection: Protection, rng: Rng) -> Sealer {
        let cipher = match protection {
            Protection::Clear => Cipher::Clear,
            Protection::Basic(key) => Cipher::Basic(Pdcrypt1::new(key)),
            Protection::Rc5 => Cipher::Rc5(rng),
        };
        Sealer { cipher }
    }

    fn seal(&mut self, commands: &[u8]) -> Vec<u8> {
        let block = encoded(encode::literal_block(commands));
        match &mut self.cipher {
            Cipher::Clear => frame(&block),
            Cipher::Basic(chain) => encoded(chain.frame(&block)),
            Cipher::Rc5(rng) => frame(&[&[0x01][..], &rng.bytes(block.len())].concat()),
        }
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    encoded(encode::frame(payload))
}

fn command(code: u8, data: &[u8]) -> Vec<u8> {
    encoded(encode::command(code, data))
}

/// A VIRTUAL_WRITE of `payload` on `channel`.
fn write(channel: u8, payload: &[u8]) -> Vec<u8> {
    encoded(encode::virtual_write(channel, payload))
}

/// The host's INIT_REQUEST: level 7 (Unicode-capable), reducers 1 and 2, its MTU.
fn init_request() -> Vec<u8> {
    let caps = [
        CapabilityBlock {
            signature: 2, // REDUCERS_SUPPORTED
            data: &[0x03, 0x00],
        },
        CapabilityBlock {
            signature: 1, // MTU
            data: &[],
        },
    ];
    encoded(encode::init_request(7, &caps))
}

/// The client's modules, one INIT_RESPONSE each (ModuleCount counts down).
fn client_modules(client: &Client, protection: Protection) -> Vec<Vec<u8>> {
    let mut modules: Vec<(&str, &str, u8)> = vec![
        ("TDWSTCPN.DLL", "", CLASS_TRANSPORT_DRIVER),
        ("PDRFRAMN.DLL", "PDRFRAME", 4),
        ("PDCRYPTN.DLL", "PDCRYPT1", 4),
    ];
    if protection == Protection::Rc5 {
        modules.push(("PDC128N.DLL", "PDC128", 4));
    }
    let drivers = [
        ("VDTW30N.DLL", "vdtw30"),
        ("VDCDM30N.DLL", ""),
        ("VDCPM30N.DLL", ""),
        ("VDCLIPN.DLL", ""),
    ];
    // UI, the modules above, WD, the virtual drivers.
    let total = 1 + modules.len() + 1 + drivers.len();
    let mut remaining = (0..total).rev().map(|n| n as u8);
    let mut next = || remaining.next().unwrap_or(0);
    let logon = client.logon;
    let program = format!("#{}", client.application);
    let ui = UiModule {
        flags: 0x10,
        keyboard_layout: 0x409,
        keyboard_type: 4,
        keyboard_function_keys: 12,
        encryption_level: if protection == Protection::Rc5 { 4 } else { 1 },
        seed: 0xA6,
        client_build: client.build,
        client_name: Some(client.name),
        initial_program: Some(&program),
        client_directory: Some("C:\\Program Files (x86)\\Citrix\\ICA Client\\"),
        domain: logon.map(|l| l.domain),
        user_name: logon.map(|l| l.user),
        password: logon.map(|l| l.password),
        ..UiModule::default()
    };
    let mut out = vec![encoded(encode::ui_module(
        &header(next(), "WFICA32.EXE", ""),
        &ui,
    ))];
    for (name, host_name, class) in modules {
        let module = encode::init_response(&header(next(), name, host_name), class, &[]);
        out.push(encoded(module));
    }
    let wd = ClientWinstationDriver {
        ica_buffer_length: ICA_BUFFER,
        out_buf_count_host: 6,
        out_buf_count_client: 6,
        out_buf_delay_host: 100,
        out_buf_delay_client: 50,
        client_product_id: 1,
        c2h_power_of2_wanted: 16,
        h2c_power_of2_wanted: 18,
        h2c_max_new_data: 2000,
        reducer_version: 2,
        text_modes: 0,
    };
    let wd = encode::wd_module(&header(next(), "WDICA30N.DLL", "WDICA"), &wd, &BINDINGS);
    out.push(encoded(wd));
    for (name, host_name) in drivers {
        // Virtual drivers send a VD_C2H after the module header; its fields are not decoded.
        let body = [0u8; 12];
        let module = encode::init_response(
            &header(next(), name, host_name),
            CLASS_VIRTUAL_DRIVER,
            &body,
        );
        out.push(encoded(module));
    }
    out
}

fn header<'a>(
    module_count: u8,
    name: &'a str,
    host_module_name: &'a str,
) -> ClientModuleHeader<'a> {
    ClientModuleHeader {
        module_count,
        version_low: 1,
        version_high: 3,
        name,
        host_module_name,
        date: Some(DosDate {
            year: 2019,
            month: 11,
            day: 4,
        }),
        time: Some(DosTime {
            hour: 14,
            minute: 22,
            second: 10,
        }),
        size: 98_304,
    }
}

/// The host's modules in one write: the winstation driver, PdFrame, and PdEncrypt unless the
/// session is in the clear.
fn host_modules(protection: Protection) -> Vec<u8> {
    let mut drivers = vec![PD_FRAME];
    if protection != Protection::Clear {
        drivers.push(PD_ENCRYPT);
    }
    let host = |module_count: usize| HostModuleHeader {
        module_count: module_count as u8,
        class: 0,
        version_low: 1,
        version_high: 8,
        version: 6,
    };
    let wd = WdConnect {
        ica_buffer_length: ICA_BUFFER,
        out_buf_count_host: 6,
        out_buf_count_client: 6,
        out_buf_delay_host: 0xFFFF,
        out_buf_delay_client: 0xFFFF,
        wd_flag: 1,
        c2h_power_of2_agreed: 16,
        h2c_power_of2_agreed: 18,
        c2h_max_new_data: 2000,
        reducer_version: 2,
        trailing: &[0; 8],
    };
    let mut out = encoded(encode::wd_connect(&host(drivers.len()), &wd));
    for (i, class) in drivers.iter().enumerate() {
        let remaining = drivers.len() - 1 - i;
        out.extend(encoded(encode::pd_connect(&host(remaining), *class)));
    }
    out
}
