//! Builders of valid FlexLM messages, for the capture generator and for round-trip tests.
//!
//! Every builder writes a correct checksum (legacy) or CRC-14 and check byte (0x2F). Text that
//! does not fit its slot is cut so that the slot keeps its terminating NUL; numbers are written
//! the way the real implementations write them (ASCII decimal or hex, NUL-terminated).
//! Typed legacy builders write comm v1.3 (147-byte) messages; [`hello`] and [`legacy`] follow
//! the comm version they are given.

use super::codes::{binary as ty, legacy as code};
use super::crc::{crc14, legacy_checksum};
use super::event::CommVersion;
use super::framed::{HEADER_LEN, header_check};
use super::legacy::{DEFAULT_SIZE, size_for_revision};

// ---------------------------------------------------------------------------------------------
// Legacy messages

/// Raw bytes at a fixed offset of a legacy message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Field<'a> {
    pub offset: usize,
    pub bytes: &'a [u8],
}

/// Any legacy message: a command, the comm version that sets its size, and raw fields. Bytes
/// not covered by a field are NUL; fields reaching past the end are cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Legacy<'a> {
    pub command: u8,
    pub comm: CommVersion,
    pub fields: &'a [Field<'a>],
}

pub fn legacy(spec: &Legacy<'_>) -> Vec<u8> {
    let mut w = LegacyWriter::new(spec.command, size_for_revision(spec.comm.minor));
    for field in spec.fields {
        w.raw(field.offset, field.bytes);
    }
    w.finish()
}

/// HELLO 'h' (or HELLO_THIS_VD '`'), laid out as in PROTOCOLS.md 1.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello<'a> {
    pub this_vd: bool,
    pub comm: CommVersion,
    pub user: &'a str,
    pub host: &'a str,
    pub vendor: &'a str,
    pub display: &'a str,
    /// Transport byte at offset 102 ('T' TCP, 'U' UDP, ...).
    pub transport: u8,
    pub udp_timeout: Option<u32>,
    pub pid: u32,
    pub platform: &'a str,
    /// FlexLM client version (major, minor) as the binary bytes 139-140.
    pub client_version: (u8, u8),
    pub tcp_timeout_minutes: Option<u32>,
    /// Bytes 144-146 ("14" from modern clients).
    pub extension: &'a str,
}

impl Default for Hello<'_> {
    fn default() -> Self {
        Hello {
            this_vd: false,
            comm: CommVersion::CURRENT,
            user: "",
            host: "",
            vendor: "",
            display: "",
            transport: b'T',
            udp_timeout: None,
            pid: 0,
            platform: "",
            client_version: (11, 17),
            tcp_timeout_minutes: None,
            extension: "14",
        }
    }
}

pub fn hello(h: &Hello<'_>) -> Vec<u8> {
    let command = if h.this_vd {
        code::HELLO_THIS_VD
    } else {
        code::HELLO
    };
    let mut w = LegacyWriter::new(command, size_for_revision(h.comm.minor));
    w.raw(2, &[b'0' + h.comm.major % 10, b'0' + h.comm.minor % 10]);
    w.text(4, 21, h.user);
    w.text(25, 33, h.host);
    w.text(58, 11, h.vendor);
    w.text(69, 33, h.display);
    w.raw(102, &[h.transport]);
    if let Some(t) = h.udp_timeout {
        w.decimal(104, 11, t);
    }
    w.decimal(115, 11, h.pid);
    w.text(126, 13, h.platform);
    w.raw(139, &[h.client_version.0, h.client_version.1]);
    if let Some(t) = h.tcp_timeout_minutes {
        w.hex(141, 3, t);
    }
    w.text(144, 3, h.extension);
    w.finish()
}

/// TRY_ANOTHER 'A': the legacy redirect. Ports are written as plain decimal (see the port note
/// in `legacy.rs`).
pub fn try_another(t: &Redirect<'_>) -> Vec<u8> {
    let mut w = LegacyWriter::new(code::TRY_ANOTHER, DEFAULT_SIZE);
    w.text(2, 33, t.host);
    w.decimal(35, 11, u32::from(t.tcp_port));
    w.text(46, 33, t.host2);
    w.decimal(79, 11, u32::from(t.udp_port));
    w.raw(90, &[t.transport, t.reason]);
    w.finish()
}

/// OK 'O' as the reply to a HELLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OkReply<'a> {
    pub version: (u32, u32),
    pub patch: u8,
    pub comm: CommVersion,
    pub host: &'a str,
    pub daemon: &'a str,
}

impl Default for OkReply<'_> {
    fn default() -> Self {
        OkReply {
            version: (11, 16),
            patch: 0,
            comm: CommVersion::CURRENT,
            host: "",
            daemon: "",
        }
    }
}

pub fn ok(o: &OkReply<'_>) -> Vec<u8> {
    let mut w = LegacyWriter::new(code::OK, DEFAULT_SIZE);
    w.decimal(2, 11, o.version.0);
    w.decimal(13, 11, o.version.1);
    w.raw(24, &[o.patch]);
    w.decimal(25, 11, u32::from(o.comm.major));
    w.decimal(36, 11, u32::from(o.comm.minor));
    w.text(47, 65, o.host);
    w.text(112, 11, o.daemon);
    w.finish()
}

/// LF_DATA 'L': one chunk of license file text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LfData<'a> {
    /// Bytes of text remaining, this chunk included.
    pub remaining: u32,
    /// At most [`LF_CHUNK`] bytes; more are cut.
    pub text: &'a [u8],
}

/// Text bytes per LF_DATA chunk (offsets 13..147).
pub const LF_CHUNK: usize = DEFAULT_SIZE - 13;

pub fn lf_data(l: &LfData<'_>) -> Vec<u8> {
    let mut w = LegacyWriter::new(code::LF_DATA, DEFAULT_SIZE);
    w.decimal(2, 11, l.remaining);
    w.raw(13, l.text);
    w.finish()
}

/// A whole license file as the LF_DATA chunks lmgrd sends, remaining counts dropping by
/// [`LF_CHUNK`] per chunk.
pub fn lf_data_chunks(text: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    text.chunks(LF_CHUNK).enumerate().map(move |(i, chunk)| {
        let remaining = text.len() - i * LF_CHUNK;
        lf_data(&LfData {
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            text: chunk,
        })
    })
}

/// CHECKOUT 'o'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkout<'a> {
    pub count: u32,
    /// Wait byte: b'0' no wait, b'1' queue, b'2' local test (flags in the top two bits).
    pub wait: u8,
    pub feature: &'a str,
    pub version: &'a str,
    pub dup_sel: &'a str,
    pub linger: u32,
    /// License key; the dissector reports only whether one was sent.
    pub code: &'a str,
    pub vendor_data: &'a str,
    pub hostid: &'a str,
    pub serial: u16,
    pub flags: u8,
    pub borrow: bool,
    pub ultimate_denial: u8,
}

impl Default for Checkout<'_> {
    fn default() -> Self {
        Checkout {
            count: 1,
            wait: b'0',
            feature: "",
            version: "",
            dup_sel: "",
            linger: 0,
            code: "",
            vendor_data: "",
            hostid: "",
            serial: 0,
            flags: 0,
            borrow: false,
            ultimate_denial: 0,
        }
    }
}

pub fn checkout(c: &Checkout<'_>) -> Vec<u8> {
    let mut w = LegacyWriter::new(code::CHECKOUT, DEFAULT_SIZE);
    w.decimal(2, 5, c.count);
    w.raw(7, &[c.wait]);
    w.text(8, 31, c.feature);
    w.text(39, 11, c.version);
    w.text(50, 11, c.dup_sel);
    w.decimal(61, 11, c.linger);
    w.text(72, 21, c.code);
    w.text(93, 33, c.vendor_data);
    w.text(126, 13, c.hostid);
    w.raw(139, &c.serial.to_le_bytes());
    w.raw(141, &[c.flags, u8::from(c.borrow), c.ultimate_denial]);
    w.finish()
}

/// CHECKIN 'i'.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checkin<'a> {
    pub feature: &'a str,
    pub code: &'a str,
    pub use_vendor: u8,
    pub vendor_data: &'a str,
}

pub fn checkin(c: &Checkin<'_>) -> Vec<u8> {
    let mut w = LegacyWriter::new(code::CHECKIN, DEFAULT_SIZE);
    w.text(2, 31, c.feature);
    w.text(33, 21, c.code);
    w.raw(54, &[c.use_vendor]);
    w.text(55, 33, c.vendor_data);
    w.finish()
}

/// HEARTBEAT 'g' with its four CPU-usage counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Heartbeat {
    pub cpu: [u32; 4],
}

pub fn heartbeat(h: &Heartbeat) -> Vec<u8> {
    let mut w = LegacyWriter::new(code::HEARTBEAT, DEFAULT_SIZE);
    for (off, value) in [2, 11, 20, 29].into_iter().zip(h.cpu) {
        w.hex(off, 9, value);
    }
    w.finish()
}

/// HEARTBEAT_RESP 'G' (no fields).
pub fn heartbeat_resp() -> Vec<u8> {
    LegacyWriter::new(code::HEARTBEAT_RESP, DEFAULT_SIZE).finish()
}

/// HANDSHAKE 'a' (the challenge bytes are left NUL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// Crypt flag digit: 1 or 2.
    pub crypt: u8,
    /// Written as ASCII hex at offset 13.
    pub time: u32,
    pub group_id: u32,
    pub callback: u8,
}

impl Default for Handshake {
    fn default() -> Self {
        Handshake {
            crypt: 1,
            time: 0,
            group_id: 0,
            callback: 0,
        }
    }
}

pub fn handshake(h: &Handshake) -> Vec<u8> {
    let mut w = LegacyWriter::new(code::HANDSHAKE, DEFAULT_SIZE);
    w.raw(2, &[b'0' + h.crypt % 10]);
    w.hex(13, 9, h.time);
    w.raw(49, &h.group_id.to_le_bytes());
    w.raw(53, &[h.callback]);
    w.finish()
}

/// A refusal: WHAT 'W', NO_SUCH_FEATURE '?', BUSY 'B', ... (see `codes::refusal_meaning`).
/// Their layout is not documented: `data` is written as text at offset 2, where an error
/// number may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal<'a> {
    pub code: u8,
    pub data: &'a str,
}

pub fn refusal(r: &Refusal<'_>) -> Vec<u8> {
    let mut w = LegacyWriter::new(r.code, DEFAULT_SIZE);
    w.text(2, 11, r.data);
    w.finish()
}

/// The v9.2 post-HANDSHAKE "encryption" of a whole message: byte `i` XOR `key[i % 4]`.
pub fn xor_encrypt(msg: &[u8], key: [u8; 4]) -> Vec<u8> {
    msg.iter()
        .zip(key.iter().cycle())
        .map(|(b, k)| b ^ k)
        .collect()
}

/// Fills a fixed-size legacy message and seals it with its checksum.
struct LegacyWriter {
    msg: Vec<u8>,
}

impl LegacyWriter {
    fn new(command: u8, size: usize) -> LegacyWriter {
        let mut msg = vec![0u8; size];
        if let Some(first) = msg.first_mut() {
            *first = command;
        }
        LegacyWriter { msg }
    }

    /// Copies `bytes` at `offset`, cut at the message end.
    fn raw(&mut self, offset: usize, bytes: &[u8]) {
        if let Some(dst) = self.msg.get_mut(offset..) {
            let n = dst.len().min(bytes.len());
            dst[..n].copy_from_slice(&bytes[..n]);
        }
    }

    /// Text in a slot of `len` bytes, keeping room for its NUL.
    fn text(&mut self, offset: usize, len: usize, text: &str) {
        let bytes = text.as_bytes();
        self.raw(offset, &bytes[..bytes.len().min(len.saturating_sub(1))]);
    }

    fn decimal(&mut self, offset: usize, len: usize, value: u32) {
        self.text(offset, len, &value.to_string());
    }

    fn hex(&mut self, offset: usize, len: usize, value: u32) {
        self.text(offset, len, &format!("{value:x}"));
    }

    fn finish(mut self) -> Vec<u8> {
        let sum = legacy_checksum(&self.msg);
        if let Some(slot) = self.msg.get_mut(1) {
            *slot = sum;
        }
        self.msg
    }
}

// ---------------------------------------------------------------------------------------------
// 0x2F messages

/// Any 0x2F message: type, nonce, byte 12 (legacy command echo) and payload (everything after
/// the 20-byte header). Lengths above 16 bits use byte 17 as the upper length byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Binary<'a> {
    pub msg_type: u16,
    pub nonce: u32,
    pub echo: u8,
    pub payload: &'a [u8],
}

pub fn binary(b: &Binary<'_>) -> Vec<u8> {
    let len = HEADER_LEN + b.payload.len();
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&[0x2F, 0, 0, 0]);
    msg.extend_from_slice(&[(len >> 8) as u8, len as u8]);
    msg.extend_from_slice(&b.msg_type.to_be_bytes());
    msg.extend_from_slice(&b.nonce.to_be_bytes());
    msg.extend_from_slice(&[b.echo, 0, 0, 0, 0, (len >> 16) as u8, 0, 0]);
    msg.extend_from_slice(b.payload);
    let crc = crc14(&msg[4..]);
    msg[2..4].copy_from_slice(&crc.to_be_bytes());
    msg[1] = header_check(&msg);
    msg
}

/// Appends `text` and its NUL.
fn push_cstr(payload: &mut Vec<u8>, text: &str) {
    payload.extend_from_slice(text.as_bytes());
    payload.push(0);
}

/// Where lmgrd sends the client: the vendor daemon's host and ports. TRY_ANOTHER 'A'
/// ([`try_another`]) and 0x0113 ([`redirect_0113`]) carry the same fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redirect<'a> {
    pub host: &'a str,
    pub tcp_port: u16,
    pub host2: &'a str,
    pub udp_port: u16,
    pub transport: u8,
    pub reason: u8,
}

impl Default for Redirect<'_> {
    fn default() -> Self {
        Redirect {
            host: "",
            tcp_port: 0,
            host2: "",
            udp_port: 0,
            transport: b'T',
            reason: b'D',
        }
    }
}

/// 0x0113: lmgrd redirecting the client to a vendor daemon.
pub fn redirect_0113(r: &Redirect<'_>, nonce: u32) -> Vec<u8> {
    let mut payload = Vec::new();
    push_cstr(&mut payload, r.host);
    payload.extend_from_slice(&u32::from(r.tcp_port).to_be_bytes());
    push_cstr(&mut payload, r.host2);
    payload.extend_from_slice(&u32::from(r.udp_port).to_be_bytes());
    payload.extend_from_slice(&[r.transport, r.reason]);
    binary(&Binary {
        msg_type: ty::REDIRECT,
        nonce,
        echo: code::TRY_ANOTHER,
        payload: &payload,
    })
}

/// 0x010e: lmgrd's reply to a HELLO that names no vendor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HelloReply<'a> {
    pub major: u8,
    pub minor: u8,
    pub host: &'a str,
    pub daemon: &'a str,
    pub nonce: u32,
}

pub fn hello_reply_010e(h: &HelloReply<'_>) -> Vec<u8> {
    let mut payload = vec![h.major, h.minor, 0, 0];
    push_cstr(&mut payload, h.host);
    push_cstr(&mut payload, h.daemon);
    binary(&Binary {
        msg_type: ty::HELLO_REPLY,
        nonce: h.nonce,
        echo: 0,
        payload: &payload,
    })
}

/// 0x0149 version request (the client's own version, ignored by lmgrd, is sent as zeros).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VersionRequest {
    pub nonce: u32,
}

pub fn version_request_0149(v: &VersionRequest) -> Vec<u8> {
    binary(&Binary {
        msg_type: ty::VERSION,
        nonce: v.nonce,
        echo: 0,
        payload: &[0; 4],
    })
}

/// 0x0149 version reply: major.minor.patch.build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VersionReply {
    pub major: u8,
    pub minor: u8,
    pub patch: u8,
    pub build: u8,
    pub nonce: u32,
}

pub fn version_reply_0149(v: &VersionReply) -> Vec<u8> {
    binary(&Binary {
        msg_type: ty::VERSION,
        nonce: v.nonce,
        echo: 0,
        payload: &[v.major, v.minor, v.patch, v.build],
    })
}

/// 0x0107 lmreread: user, host, a third string (the daemon) and 4 address bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reread<'a> {
    pub user: &'a str,
    pub host: &'a str,
    pub daemon: &'a str,
    pub address: [u8; 4],
    pub nonce: u32,
}

pub fn reread_0107(r: &Reread<'_>) -> Vec<u8> {
    let mut payload = Vec::new();
    for text in [r.user, r.host, r.daemon] {
        push_cstr(&mut payload, text);
    }
    payload.extend_from_slice(&r.address);
    binary(&Binary {
        msg_type: ty::LMREREAD,
        nonce: r.nonce,
        echo: 0,
        payload: &payload,
    })
}

/// 0x0108 command request: "" = license file, "dlist" = vendor list, "getpaths" = paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandRequest<'a> {
    pub user: &'a str,
    pub host: &'a str,
    pub daemon: &'a str,
    pub tty: &'a str,
    pub command: &'a str,
    pub nonce: u32,
}

impl Default for CommandRequest<'_> {
    fn default() -> Self {
        CommandRequest {
            user: "",
            host: "",
            daemon: "lmgrd",
            tty: "",
            command: "",
            nonce: 0,
        }
    }
}

pub fn command_request_0108(c: &CommandRequest<'_>) -> Vec<u8> {
    let mut payload = vec![0x01, 0x04];
    for text in [c.user, c.host, c.daemon, c.tty, c.command] {
        push_cstr(&mut payload, text);
    }
    binary(&Binary {
        msg_type: ty::COMMAND_REQUEST,
        nonce: c.nonce,
        echo: 0,
        payload: &payload,
    })
}

/// 0x0146 command reply carrying text (at most 65535 bytes; more are cut).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommandReply<'a> {
    pub text: &'a [u8],
    pub nonce: u32,
}

pub fn command_reply_0146(c: &CommandReply<'_>) -> Vec<u8> {
    let text = &c.text[..c.text.len().min(usize::from(u16::MAX))];
    let mut payload = vec![0, 0];
    payload.extend_from_slice(&(text.len() as u16).to_be_bytes());
    payload.extend_from_slice(text);
    binary(&Binary {
        msg_type: ty::COMMAND_REPLY,
        nonce: c.nonce,
        echo: 0,
        payload: &payload,
    })
}

/// 0x0102 "login" as admin tools send it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Login<'a> {
    pub user: &'a str,
    pub host: &'a str,
    pub tty: &'a str,
    pub platform: &'a str,
    pub nonce: u32,
}

pub fn login_0102(l: &Login<'_>) -> Vec<u8> {
    // `01 04`, then two u16, two u16 and a u32 whose meaning is unknown: left zero.
    let mut payload = vec![0x01, 0x04];
    payload.resize(14, 0);
    for text in [l.user, l.host, l.tty, "", l.platform] {
        push_cstr(&mut payload, text);
    }
    payload.push(0x01);
    binary(&Binary {
        msg_type: ty::LOGIN,
        nonce: l.nonce,
        echo: 0,
        payload: &payload,
    })
}

#[cfg(test)]
mod tests;
