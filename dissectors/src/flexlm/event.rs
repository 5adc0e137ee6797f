//! What the FlexLM dissector reports.
//!
//! Every message produces at most one event (plus anomalies): a typed event when its payload is
//! understood, otherwise [`Event::Message`] with its code, name and length. The connection's
//! role is reported once, by [`Event::Role`], when the traffic makes it evident.
//!
//! Message events carry [`Wire`] (flattened into the JSON object): the framing the message came
//! in and how far its integrity could be checked. Strings from the wire are [`WireText`].

use crate::registry::Proto;
use crate::text::WireText;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::net::Ipv4Addr;

/// The two message framings of FlexLM, told apart by byte 0 of each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Framing {
    /// Fixed-size legacy message: command char, additive checksum, fixed-offset fields.
    #[serde(rename = "legacy")]
    Legacy,
    /// 0x2F binary framing: 20-byte header with check byte, CRC-14, length and type.
    #[serde(rename = "0x2f")]
    Binary,
}

/// How far a message's integrity could be established.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Integrity {
    /// Checksum (legacy) or check byte and CRC-14 (0x2F) matched.
    Verified,
    /// The checksum or CRC did not match (an anomaly was reported); the fields are decoded
    /// anyway and may be wrong.
    Unverified,
    /// A legacy message after a HANDSHAKE that only made sense once XOR-decrypted with a key
    /// recovered from NUL padding; the decrypted message's checksum matched.
    Decrypted,
}

/// Framing and integrity of the message an event was decoded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Wire {
    pub framing: Framing,
    pub integrity: Integrity,
}

impl Wire {
    pub const fn new(framing: Framing, integrity: Integrity) -> Wire {
        Wire { framing, integrity }
    }

    /// Whether the message's bytes are known good (verified, or verified after decryption).
    pub const fn trusted(self) -> bool {
        !matches!(self.integrity, Integrity::Unverified)
    }
}

/// Which FlexLM server the connection talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The license manager daemon: answers HELLOs with a redirect, serves license text.
    Lmgrd,
    /// A vendor daemon (e.g. CITRIX): checkouts, checkins, heartbeats.
    VendorDaemon,
}

impl Role {
    /// The engine's protocol label for this role.
    pub const fn proto(self) -> Proto {
        match self {
            Role::Lmgrd => Proto::LMGRD,
            Role::VendorDaemon => Proto::VENDOR_DAEMON,
        }
    }

    /// The role the engine meant when it created the dissector (anything but a vendor daemon
    /// is taken as lmgrd, the default FlexLM port's owner).
    pub fn from_proto(proto: Proto) -> Role {
        if proto == Proto::VENDOR_DAEMON {
            Role::VendorDaemon
        } else {
            Role::Lmgrd
        }
    }
}

/// A FlexLM comm (protocol) version, sent as two ASCII digits in the HELLO ("13" = v1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct CommVersion {
    pub major: u8,
    pub minor: u8,
}

impl CommVersion {
    /// v1.3: the newest comm version with a documented layout (147-byte messages).
    pub const CURRENT: CommVersion = CommVersion { major: 1, minor: 3 };
}

/// A FlexLM/FlexNet product version (e.g. 11.16.6.0). Parts a message does not carry are `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ProductVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: Option<u32>,
    pub build: Option<u32>,
}

impl fmt::Display for ProductVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        for part in [self.patch, self.build].into_iter().flatten() {
            write!(f, ".{part}")?;
        }
        Ok(())
    }
}

/// What the text of a [`Event::TextChunk`] is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextKind {
    /// License file text (legacy LF_DATA chunks, or the reply to an empty 0x0108 command).
    LicenseFile,
    /// The vendor daemon list (reply to the 0x0108 command "dlist").
    VendorList,
    /// License search paths (reply to the 0x0108 command "getpaths").
    Paths,
    /// A 0x0146 reply whose request was not seen, or was another command.
    #[default]
    Unknown,
}

impl TextKind {
    /// What a 0x0108 command asks for.
    pub fn of_command(command: &[u8]) -> TextKind {
        match command {
            b"" => TextKind::LicenseFile,
            b"dlist" => TextKind::VendorList,
            b"getpaths" => TextKind::Paths,
            _ => TextKind::Unknown,
        }
    }
}

/// The CHECKOUT wait flag (low 6 bits of byte 7; the top 2 bits are reported separately).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitMode {
    /// '0': fail at once if no license is free.
    NoWait,
    /// '1': queue for a license.
    Queue,
    /// '2': only test whether a checkout would succeed.
    LocalTest,
    /// Any other value (the raw byte is in `wait_raw`).
    Unknown,
}

impl WaitMode {
    pub const FLAG_BITS: u8 = 0xC0;

    pub const fn from_byte(b: u8) -> WaitMode {
        match b & !Self::FLAG_BITS {
            b'0' => WaitMode::NoWait,
            b'1' => WaitMode::Queue,
            b'2' => WaitMode::LocalTest,
            _ => WaitMode::Unknown,
        }
    }
}

/// Most bytes of text kept from one text chunk (a 0x0146 reply can carry 64 KiB of license
/// file); the rest is counted in [`Event::TextChunk`]'s `cut`.
pub const TEXT_EXCERPT: usize = 4096;

/// One FlexLM event. Serialised with a `"type"` tag in snake_case.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Client HELLO (legacy 'h', or '`' HELLO_THIS_VD): who is asking for which vendor daemon.
    Hello {
        #[serde(flatten)]
        wire: Wire,
        /// True for '`' (HELLO_THIS_VD), false for 'h' (HELLO).
        this_vd: bool,
        /// Comm version from bytes 2-3 (`None` if they are not two ASCII digits).
        comm_version: Option<CommVersion>,
        /// User name (offset 4).
        user: WireText,
        /// Client host name (offset 25).
        host: WireText,
        /// Vendor daemon asked for (offset 58); empty = talk to lmgrd itself.
        vendor: WireText,
        /// Display or tty (offset 69).
        display: WireText,
        /// Requested transport (offset 102): "T" TCP, "U" UDP, "S" SPX, "L" local; some
        /// clients send other bytes (e.g. 0x84), kept escaped.
        transport: WireText,
        /// UDP timeout (offset 104, decimal), when present.
        udp_timeout: Option<u32>,
        /// Client process id (offset 115, decimal).
        pid: Option<u32>,
        /// Client platform, e.g. "x64_w6" (offset 126).
        platform: WireText,
        /// FlexLM client version from the binary bytes 139-140 (`patch`/`build` are `None`).
        client_version: Option<ProductVersion>,
        /// TCP timeout in minutes (offset 141, ASCII hex).
        tcp_timeout_minutes: Option<u32>,
        /// Bytes 144-146 ("14" from modern clients; meaning unknown, maybe a comm 1.4 request).
        extension: WireText,
    },
    /// 0x0102 "login" (admin tools to lmgrd).
    Login {
        #[serde(flatten)]
        wire: Wire,
        user: WireText,
        host: WireText,
        tty: WireText,
        platform: WireText,
    },
    /// 0x0108 command request to lmgrd. `command` "" = license file text, "dlist" = vendor list,
    /// "getpaths" = license paths.
    CommandRequest {
        #[serde(flatten)]
        wire: Wire,
        user: WireText,
        host: WireText,
        daemon: WireText,
        tty: WireText,
        command: WireText,
    },
    /// The server accepting a HELLO: legacy OK 'O' (the first reply to a HELLO) or 0x010e.
    HelloReply {
        #[serde(flatten)]
        wire: Wire,
        /// Server version: legacy ver/rev (offsets 2, 13), or 0x010e bytes 20-21.
        version: Option<ProductVersion>,
        /// Legacy patch byte (offset 24), e.g. "a"; empty for 0x010e.
        patch: WireText,
        /// Comm version the server speaks (legacy offsets 25, 36); `None` for 0x010e.
        comm_version: Option<CommVersion>,
        /// Server host name.
        host: WireText,
        /// Daemon name ("lmgrd" or the vendor daemon's name).
        daemon: WireText,
    },
    /// lmgrd sending the client to a vendor daemon: legacy TRY_ANOTHER 'A' or 0x0113.
    ///
    /// The (server, `tcp_port`) pair is where the follow-on vendor-daemon connection goes.
    Redirect {
        #[serde(flatten)]
        wire: Wire,
        /// Vendor daemon host name (its first 32 characters in legacy messages).
        host: WireText,
        /// Continuation of a host name longer than 32 characters (usually empty).
        host2: WireText,
        /// The vendor daemon TCP port (`None` if the field is not a valid port number).
        tcp_port: Option<u16>,
        /// The port field as sent: the ASCII decimal (legacy) or the u32 (0x2F).
        tcp_port_raw: Option<u32>,
        /// Legacy only: `tcp_port` with its two bytes swapped. The legacy port byte order is
        /// LOW confidence (see `legacy::try_another`); this is the alternative reading, for
        /// an analysis layer that wants to expect both.
        tcp_port_swapped: Option<u16>,
        /// UDP port (`None` or `Some(0)` = none).
        udp_port: Option<u16>,
        /// Transport char: "T" TCP, "U" UDP, "S" SPX, "L" local.
        transport: WireText,
        /// Reason char: "D" daemon's choice, "U" user's choice, " " default.
        reason: WireText,
    },
    /// lmgrd's version, from the 0x0149 reply (bytes 20-23).
    ServerVersion {
        #[serde(flatten)]
        wire: Wire,
        version: ProductVersion,
    },
    /// A chunk of text from lmgrd: a legacy LF_DATA 'L' chunk or a 0x0146 command reply.
    TextChunk {
        #[serde(flatten)]
        wire: Wire,
        kind: TextKind,
        /// LF_DATA: bytes of the text remaining, this chunk included (offset 2, decimal).
        remaining: Option<u32>,
        /// Length of the text in this chunk.
        len: u32,
        /// The text, at most [`TEXT_EXCERPT`] bytes of it (line breaks are escaped).
        text: WireText,
        /// Bytes of this chunk's text not kept in `text` (also summed per direction).
        cut: u32,
    },
    /// 0x0107 lmreread: an admin asking lmgrd to reread its license files.
    Reread {
        #[serde(flatten)]
        wire: Wire,
        user: WireText,
        host: WireText,
        /// The third string (PROTOCOLS.md gives no name; the vendor daemon to reread, GUESS).
        daemon: WireText,
        /// The 4 bytes after the strings, which look like an IPv4 address.
        address: Option<Ipv4Addr>,
    },
    /// CHECKOUT 'o': a client asking the vendor daemon for a license.
    Checkout {
        #[serde(flatten)]
        wire: Wire,
        feature: WireText,
        /// Feature version asked for, e.g. "1.0".
        version: WireText,
        /// Number of licenses (offset 2, decimal).
        count: Option<u32>,
        wait: WaitMode,
        /// The raw wait byte (offset 7), flags in its top two bits.
        wait_raw: u8,
        /// Duplicate-grouping selector (offset 50), as sent.
        dup_sel: WireText,
        /// Linger seconds (offset 61, decimal).
        linger: Option<u32>,
        /// Whether a license key ("code", offset 72) was sent; its value is not kept.
        code_present: bool,
        /// Vendor-defined checkout data (offset 93).
        vendor_data: WireText,
        /// Host id (offset 126).
        hostid: WireText,
        /// Serial number (offset 139, 2 bytes little-endian).
        serial: Option<u16>,
        /// Flags byte (offset 141), as sent.
        flags: u8,
        /// Borrow request (flags2 bit 0, offset 142).
        borrow: bool,
        /// The "ultimate denial" byte (offset 143), as sent (its values are not documented).
        ultimate_denial: u8,
    },
    /// CHECKIN 'i': a client returning a license.
    Checkin {
        #[serde(flatten)]
        wire: Wire,
        feature: WireText,
        /// Whether a license key ("code", offset 33) was sent; its value is not kept.
        code_present: bool,
        /// The use_vendor byte (offset 54), as sent.
        use_vendor: u8,
        /// Vendor-defined data (offset 55).
        vendor_data: WireText,
    },
    /// LIST 'l': a client querying a feature.
    List {
        #[serde(flatten)]
        wire: Wire,
        feature: WireText,
        /// Whether a license key ("code", offset 33) was sent; its value is not kept.
        code_present: bool,
        /// The bflag byte (offset 54), as sent (cosmolei's status query sends '1').
        bflag: u8,
    },
    /// HEARTBEAT 'g': the client's liveness message to the vendor daemon.
    Heartbeat {
        #[serde(flatten)]
        wire: Wire,
        /// Four CPU-usage counters (offsets 2, 11, 20, 29; ASCII hex).
        cpu: [Option<u32>; 4],
    },
    /// HEARTBEAT_RESP 'G': the vendor daemon's answer to a heartbeat.
    HeartbeatReply {
        #[serde(flatten)]
        wire: Wire,
    },
    /// HANDSHAKE 'a': after a successful one, v9.2 XOR-encrypts the connection's messages.
    /// The challenge bytes are not kept.
    Handshake {
        #[serde(flatten)]
        wire: Wire,
        /// Crypt flag (offset 2): '1' or '2' as a number.
        crypt: Option<u8>,
        /// Time (offset 13, ASCII hex).
        time: Option<u32>,
        /// Group id (offset 49, 4 bytes little-endian).
        group_id: Option<u32>,
        /// Callback flag byte (offset 53).
        callback: u8,
    },
    /// DAEMON 'b': a vendor daemon telling lmgrd its ports.
    Daemon {
        #[serde(flatten)]
        wire: Wire,
        name: WireText,
        tcp_port: Option<u16>,
        udp_port: Option<u16>,
    },
    /// NUSERS 'N': license usage counts.
    Users {
        #[serde(flatten)]
        wire: Wire,
        users: Option<u32>,
        total: Option<u32>,
        time: Option<u32>,
    },
    /// USERNAME 'U': one license holder.
    UserInfo {
        #[serde(flatten)]
        wire: Wire,
        user: WireText,
        node: WireText,
        display: WireText,
        version: WireText,
        num: Option<u32>,
        flags: WireText,
        time: Option<u32>,
        linger: Option<u32>,
        handle: Option<u32>,
    },
    /// A server reply that refuses or fails the request it answers: WHAT 'W' (error),
    /// NO_SUCH_FEATURE '?', BUSY 'B', NO_CONFIG_FILE 'C', COMM_UNAVAILABLE 'E', ...
    Refusal {
        #[serde(flatten)]
        wire: Wire,
        /// The legacy response code.
        code: u16,
        /// Its name, e.g. "what", "no_such_feature".
        name: Cow<'static, str>,
        /// What it means, in words.
        meaning: &'static str,
        /// The client request it answers (the last one the client sent), by name, e.g.
        /// "hello", "checkout"; `None` if no request was waiting for an answer.
        request: Option<Cow<'static, str>>,
        /// For a checkout: the feature that was asked for.
        feature: Option<WireText>,
        /// The text at offset 2, if any: the layout of refusals is not documented, and some
        /// servers put an error number there.
        data: WireText,
    },
    /// The connection's role became evident (emitted once per connection).
    Role {
        role: Role,
        /// The role the engine assumed when it created the dissector.
        hint: Role,
        /// What showed it, e.g. "redirect", "checkout", "version_reply".
        evidence: &'static str,
    },
    /// A message with nothing more to decode (or whose payload did not match its layout).
    Message {
        #[serde(flatten)]
        wire: Wire,
        /// Legacy command byte, or 0x2F message type.
        code: u16,
        /// Command or type name, or the number ("0x0151") when unknown.
        name: Cow<'static, str>,
        /// Message length in bytes.
        len: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_type_tag_and_flat_wire() {
        let e = Event::ServerVersion {
            wire: Wire::new(Framing::Binary, Integrity::Verified),
            version: ProductVersion {
                major: 11,
                minor: 16,
                patch: Some(6),
                build: Some(0),
            },
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"server_version","framing":"0x2f","integrity":"verified","version":{"major":11,"minor":16,"patch":6,"build":0}}"#
        );
        let m = Event::Message {
            wire: Wire::new(Framing::Legacy, Integrity::Unverified),
            code: u16::from(b'W'),
            name: Cow::Borrowed("what"),
            len: 147,
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"type":"message","framing":"legacy","integrity":"unverified","code":87,"name":"what","len":147}"#
        );
    }

    #[test]
    fn versions_print_only_their_parts() {
        let v = ProductVersion {
            major: 11,
            minor: 16,
            patch: None,
            build: None,
        };
        assert_eq!(v.to_string(), "11.16");
        let full = ProductVersion {
            patch: Some(6),
            build: Some(0),
            ..v
        };
        assert_eq!(full.to_string(), "11.16.6.0");
    }

    #[test]
    fn wait_mode_ignores_flag_bits() {
        assert_eq!(WaitMode::from_byte(b'1'), WaitMode::Queue);
        assert_eq!(WaitMode::from_byte(b'1' | 0x80), WaitMode::Queue);
        assert_eq!(WaitMode::from_byte(b'0' | 0x40), WaitMode::NoWait);
        assert_eq!(WaitMode::from_byte(b'2'), WaitMode::LocalTest);
        assert_eq!(WaitMode::from_byte(b'7'), WaitMode::Unknown);
    }

    #[test]
    fn roles_map_to_engine_protocols() {
        assert_eq!(Role::Lmgrd.proto(), Proto::LMGRD);
        assert_eq!(Role::from_proto(Proto::VENDOR_DAEMON), Role::VendorDaemon);
        assert_eq!(Role::from_proto(Proto::LMGRD), Role::Lmgrd);
    }
}
