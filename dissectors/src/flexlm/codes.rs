//! Names of the legacy command codes and of the 0x2F message types.

use super::event::Framing;
use serde::Serialize;
use std::borrow::Cow;

/// Legacy command codes the dissector treats specially (table 1.4 of PROTOCOLS.md).
pub mod legacy {
    pub const HANDSHAKE: u8 = b'a';
    pub const DAEMON: u8 = b'b';
    pub const HEARTBEAT: u8 = b'g';
    pub const HELLO: u8 = b'h';
    pub const CHECKIN: u8 = b'i';
    pub const LIST: u8 = b'l';
    pub const CHECKOUT: u8 = b'o';
    pub const HELLO_THIS_VD: u8 = b'`';
    pub const TRY_ANOTHER: u8 = b'A';
    pub const HEARTBEAT_RESP: u8 = b'G';
    pub const LF_DATA: u8 = b'L';
    pub const NUSERS: u8 = b'N';
    pub const OK: u8 = b'O';
    pub const USERNAME: u8 = b'U';
}

/// 0x2F message types with a payload layout or a role meaning.
pub mod binary {
    pub const LOGIN: u16 = 0x0102;
    pub const LMREREAD: u16 = 0x0107;
    pub const COMMAND_REQUEST: u16 = 0x0108;
    pub const LMDOWN: u16 = 0x010a;
    pub const HELLO_REPLY: u16 = 0x010e;
    pub const REDIRECT: u16 = 0x0113;
    pub const LICENSE_USAGE: u16 = 0x0114;
    pub const STATUS: u16 = 0x004e;
    pub const LICENSE_SET_REQUEST: u16 = 0x0127;
    pub const LICENSE_SET_REPLY: u16 = 0x0128;
    pub const FEATURE_LIST_REQUEST: u16 = 0x013b;
    pub const LICENSE_STATUS_REQUEST: u16 = 0x013c;
    pub const COMMAND_REPLY: u16 = 0x0146;
    pub const VERSION: u16 = 0x0149;
}

/// The name of a legacy command code, or `None` if the byte is not one (then it cannot start a
/// legacy message).
pub fn legacy_name(code: u8) -> Option<&'static str> {
    Some(match code {
        b'a' => "handshake",
        b'b' => "daemon",
        b'c' => "disown",
        b'd' => "dump",
        b'e' => "is_master",
        b'f' => "detach",
        b'g' => "heartbeat",
        b'h' => "hello",
        b'i' => "checkin",
        b'j' => "log",
        b'k' => "restart",
        b'l' => "list",
        b'm' => "i_master",
        b'n' => "newserver",
        b'o' => "checkout",
        b'p' => "pid",
        b'q' => "shutdown",
        b'r' => "master_ready",
        b's' => "shello",
        b't' => "tellme",
        b'u' => "remove",
        b'v' => "order",
        b'w' => "switch",
        b'x' => "dotell",
        b'y' => "u_master",
        b'z' => "doremoveall",
        b'*' => "clocksetting",
        b'&' => "reread",
        b'^' => "switch_report",
        b'{' => "newreplog",
        b'%' => "since",
        b'$' => "send_lf",
        b'#' => "removeh",
        b'@' => "vendor_msg",
        b'!' => "borrow",
        b'(' => "borrow2",
        b'+' => "vhello",
        b')' => "challenge",
        b'=' => "vendor_daemon_info",
        b'~' => "hostid",
        b'_' => "repfile",
        b'`' => "hello_this_vd",
        b'A' => "try_another",
        b'B' => "busy",
        b'C' => "no_config_file",
        b'D' => "busy_new",
        b'E' => "comm_unavailable",
        b'F' => "feature_available",
        b'G' => "heartbeat_resp",
        b'H' => "not_admin",
        b'I' => "too_soon",
        b'J' => "no_user",
        b'K' => "no_message",
        b'L' => "lf_data",
        b'M' => "vd_feat_bundle_1",
        b'N' => "nusers",
        b'O' => "ok",
        b'P' => "vd_gen_info",
        b'Q' => "queued",
        b'R' => "challenge_resp",
        b'S' => "shello_ok",
        b'T' => "need_hostid",
        b'U' => "username",
        b'V' => "vendor_resp",
        b'W' => "what",
        b'X' => "username2",
        b'Y' => "feature_line",
        b'Z' => "feature_line2",
        b'?' => "no_such_feature",
        b'[' => "no_return_early",
        _ => return None,
    })
}

/// What a legacy response says when it refuses or fails the request it answers, or `None` if
/// the code is no refusal (OK, data replies, QUEUED, heartbeat replies, ...). The wording
/// follows the response names of PROTOCOLS.md table 1.4; their data layouts are not documented.
pub fn refusal_meaning(code: u8) -> Option<&'static str> {
    Some(match code {
        b'W' => "an error reply: the server could not serve the request",
        b'?' => "no such feature in the license files",
        b'B' => "server busy",
        b'D' => "server busy (new)",
        b'C' => "the server has no license file",
        b'E' => "communications unavailable",
        b'H' => "not a license administrator",
        b'I' => "request too soon",
        b'J' => "no such user",
        b'T' => "a host id is needed",
        _ => return None,
    })
}

/// Whether `b` is a legacy command code.
pub fn is_legacy_command(b: u8) -> bool {
    legacy_name(b).is_some()
}

/// The name of a known 0x2F message type (names from the reverse-engineering sources).
pub fn binary_name(msg_type: u16) -> Option<&'static str> {
    use binary::*;
    Some(match msg_type {
        LOGIN => "login",
        LMREREAD => "lmreread",
        COMMAND_REQUEST => "command_request",
        LMDOWN => "lmdown",
        HELLO_REPLY => "hello_reply",
        REDIRECT => "redirect",
        LICENSE_USAGE => "license_usage",
        STATUS => "status",
        LICENSE_SET_REQUEST => "license_set_request",
        LICENSE_SET_REPLY => "license_set_reply",
        FEATURE_LIST_REQUEST => "feature_list_request",
        LICENSE_STATUS_REQUEST => "license_status_request",
        COMMAND_REPLY => "command_reply",
        VERSION => "version",
        _ => return None,
    })
}

/// What kind of message one was: its framing and its code (the legacy command byte, or the
/// 0x2F message type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct MessageKind {
    pub framing: Framing,
    pub code: u16,
}

impl MessageKind {
    pub const fn legacy(code: u8) -> MessageKind {
        MessageKind {
            framing: Framing::Legacy,
            code: code as u16,
        }
    }

    pub const fn binary(msg_type: u16) -> MessageKind {
        MessageKind {
            framing: Framing::Binary,
            code: msg_type,
        }
    }

    /// A readable name: the command or type name, or the number (`"0x0151"`) when unknown.
    pub fn name(self) -> Cow<'static, str> {
        let known = match self.framing {
            Framing::Legacy => u8::try_from(self.code).ok().and_then(legacy_name),
            Framing::Binary => binary_name(self.code),
        };
        match known {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(format!("0x{:04x}", self.code)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_codes_are_named_and_others_rejected() {
        assert_eq!(legacy_name(b'h'), Some("hello"));
        assert_eq!(legacy_name(b'`'), Some("hello_this_vd"));
        assert_eq!(legacy_name(b'A'), Some("try_another"));
        assert_eq!(legacy_name(b'['), Some("no_return_early"));
        // The 0x2F magic, NUL and digits never start a legacy message.
        for b in [0x2F, 0x00, b'0', b'9', 0x7F, 0xFF] {
            assert!(!is_legacy_command(b), "{b:#x}");
        }
        // 26 requests a..z, 16 punctuation requests, 26 responses A..Z and 2 more.
        assert_eq!((0..=255u8).filter(|&b| is_legacy_command(b)).count(), 70);
    }

    #[test]
    fn refusals_are_the_failing_responses_only() {
        assert!(refusal_meaning(b'W').unwrap().contains("error reply"));
        assert_eq!(
            refusal_meaning(b'?'),
            Some("no such feature in the license files")
        );
        // Answers that grant, queue or carry data are no refusals; requests neither.
        for code in [b'O', b'Q', b'G', b'L', b'N', b'U', b'A', b'F', b'o', b'h'] {
            assert_eq!(refusal_meaning(code), None, "{}", char::from(code));
        }
        // Every refusal is a named response.
        for b in 0..=255u8 {
            if refusal_meaning(b).is_some() {
                assert!(legacy_name(b).is_some() && b.is_ascii_uppercase() || b == b'?');
            }
        }
    }

    #[test]
    fn kinds_are_named_or_numbered() {
        assert_eq!(MessageKind::legacy(b'W').name(), "what");
        assert_eq!(MessageKind::binary(0x0113).name(), "redirect");
        assert_eq!(MessageKind::binary(0x0151).name(), "0x0151");
        assert_eq!(MessageKind::legacy(0x2F).name(), "0x002f");
    }
}
