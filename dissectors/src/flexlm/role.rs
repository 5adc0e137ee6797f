//! Which server a connection talks to, inferred from what is said on it.
//!
//! lmgrd and vendor daemons speak the same wire protocol; only the conversation differs:
//! - lmgrd redirects HELLOs to vendor daemons, serves license-file text, vendor lists and its
//!   version, takes admin commands, and hears DAEMON port reports from vendor daemons;
//! - a vendor daemon accepts a HELLO naming it with OK, then sees handshakes, checkouts,
//!   checkins, feature queries and heartbeats, and answers license-usage requests.
//!
//! Only trusted messages (verified, or decrypted and verified) count as evidence.

use super::codes::binary as ty;
use super::event::{Event, Framing, Role};

/// The role a message shows, with a short name for what showed it.
///
/// `hello_named_vendor` says whether the client's HELLO on this connection asked for a vendor
/// daemon (not lmgrd): a plain OK to such a HELLO comes from that vendor daemon, since lmgrd
/// would have answered with a redirect.
pub fn evidence(event: &Event, hello_named_vendor: bool) -> Option<(Role, &'static str)> {
    use Role::{Lmgrd, VendorDaemon};
    Some(match event {
        Event::Redirect { .. } => (Lmgrd, "redirect"),
        Event::TextChunk { .. } => (Lmgrd, "license_text"),
        Event::ServerVersion { .. } => (Lmgrd, "version_reply"),
        Event::CommandRequest { .. } => (Lmgrd, "command_request"),
        Event::Login { .. } => (Lmgrd, "login"),
        Event::Daemon { .. } => (Lmgrd, "daemon_ports"),
        Event::HelloReply { wire, .. } if wire.framing == Framing::Binary => {
            (Lmgrd, "hello_reply_0x010e")
        }
        Event::HelloReply { .. } if hello_named_vendor => (VendorDaemon, "ok_to_vendor_hello"),
        Event::Checkout { .. } => (VendorDaemon, "checkout"),
        Event::Checkin { .. } => (VendorDaemon, "checkin"),
        Event::List { .. } => (VendorDaemon, "feature_query"),
        Event::Heartbeat { .. } | Event::HeartbeatReply { .. } => (VendorDaemon, "heartbeat"),
        Event::Handshake { .. } => (VendorDaemon, "handshake"),
        Event::Reread { .. } => (Lmgrd, "admin_request"),
        Event::Message { wire, code, .. } if wire.framing == Framing::Binary => match *code {
            ty::LMREREAD | ty::LMDOWN | ty::VERSION => (Lmgrd, "admin_request"),
            ty::LICENSE_USAGE
            | ty::STATUS
            | ty::LICENSE_SET_REQUEST
            | ty::LICENSE_SET_REPLY
            | ty::FEATURE_LIST_REQUEST
            | ty::LICENSE_STATUS_REQUEST => (VendorDaemon, "license_status"),
            _ => return None,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flexlm::event::{Integrity, Wire};
    use crate::text::WireText;
    use std::borrow::Cow;

    fn message(framing: Framing, code: u16) -> Event {
        Event::Message {
            wire: Wire::new(framing, Integrity::Verified),
            code,
            name: Cow::Borrowed("x"),
            len: 20,
        }
    }

    fn ok_reply() -> Event {
        Event::HelloReply {
            wire: Wire::new(Framing::Legacy, Integrity::Verified),
            version: None,
            patch: WireText::default(),
            comm_version: None,
            host: WireText::default(),
            daemon: WireText::from_bytes(b"CITRIX"),
        }
    }

    #[test]
    fn ok_shows_a_vendor_daemon_only_after_a_vendor_hello() {
        assert_eq!(
            evidence(&ok_reply(), true),
            Some((Role::VendorDaemon, "ok_to_vendor_hello"))
        );
        assert_eq!(evidence(&ok_reply(), false), None);
    }

    #[test]
    fn binary_types_show_their_server() {
        assert_eq!(
            evidence(&message(Framing::Binary, 0x0149), false).map(|e| e.0),
            Some(Role::Lmgrd)
        );
        assert_eq!(
            evidence(&message(Framing::Binary, 0x0114), false).map(|e| e.0),
            Some(Role::VendorDaemon)
        );
        assert_eq!(evidence(&message(Framing::Binary, 0x0151), false), None);
        // A legacy 'N' (0x4E) is not the 0x2F type 0x004e.
        assert_eq!(evidence(&message(Framing::Legacy, 0x004e), false), None);
    }
}
