//! Strings taken from packets.
//!
//! Everything a dissector reads off the wire and keeps as text goes through [`WireText`], which
//! escapes every byte that is not printable ASCII. No control character, terminal escape or bidi
//! trick from a packet can reach a terminal, a log line or a JSON consumer, whatever the output.

use serde::{Serialize, Serializer};
use std::fmt;

/// Text from the wire, already made safe to print: printable ASCII is kept, a backslash becomes
/// `\\`, every other byte becomes `\xNN`. The original bytes can be told apart unambiguously.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WireText(String);

impl WireText {
    /// Longest text kept from one field; longer input is cut and marked with a trailing `...`.
    pub const MAX_LEN: usize = 256;

    pub fn from_bytes(bytes: &[u8]) -> WireText {
        Self::cut_at(bytes, Self::MAX_LEN)
    }

    /// Like [`WireText::from_bytes`] but keeping up to `max` bytes, for the few fields whose
    /// content matters past [`WireText::MAX_LEN`] (license file text). Returns the text and how
    /// many bytes were cut.
    pub fn excerpt(bytes: &[u8], max: usize) -> (WireText, usize) {
        (Self::cut_at(bytes, max), bytes.len().saturating_sub(max))
    }

    fn cut_at(bytes: &[u8], max: usize) -> WireText {
        let kept = &bytes[..bytes.len().min(max)];
        let mut s = String::with_capacity(kept.len());
        for &b in kept {
            match b {
                b'\\' => s.push_str("\\\\"),
                0x20..=0x7e => s.push(char::from(b)),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    s.push_str("\\x");
                    s.push(char::from(HEX[usize::from(b >> 4)]));
                    s.push(char::from(HEX[usize::from(b & 0xf)]));
                }
            }
        }
        if bytes.len() > max {
            s.push_str("...");
        }
        WireText(s)
    }

    /// The text of a fixed-size, NUL-terminated slot (the bytes before the first NUL).
    pub fn from_nul_terminated(slot: &[u8]) -> WireText {
        WireText::from_bytes(nul_terminated(slot))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for WireText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for WireText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// The bytes of `slot` before its first NUL, or all of them if there is none.
pub fn nul_terminated(slot: &[u8]) -> &[u8] {
    match slot.iter().position(|&b| b == 0) {
        Some(end) => &slot[..end],
        None => slot,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_is_kept_and_everything_else_escaped() {
        assert_eq!(
            WireText::from_bytes(b"CITRIX lic01.example").as_str(),
            "CITRIX lic01.example"
        );
        // An ANSI escape sequence, a bell, DEL, a backslash and a UTF-8 bidi override.
        let hostile = b"\x1b[2Jx\x07\x7f\\\xe2\x80\xae";
        assert_eq!(
            WireText::from_bytes(hostile).as_str(),
            "\\x1b[2Jx\\x07\\x7f\\\\\\xe2\\x80\\xae"
        );
    }

    #[test]
    fn long_input_is_cut_and_marked() {
        let long = vec![b'a'; WireText::MAX_LEN + 10];
        let t = WireText::from_bytes(&long);
        assert_eq!(t.as_str().len(), WireText::MAX_LEN + 3);
        assert!(t.as_str().ends_with("a..."));
    }

    #[test]
    fn excerpts_keep_more_and_count_the_rest() {
        let long = vec![b'L'; 5000];
        let (t, cut) = WireText::excerpt(&long, 4096);
        assert_eq!((t.as_str().len(), cut), (4096 + 3, 904));
        let (t, cut) = WireText::excerpt(b"VENDOR CITRIX\n", 4096);
        assert_eq!((t.as_str(), cut), ("VENDOR CITRIX\\x0a", 0));
    }

    #[test]
    fn nul_terminated_slots() {
        assert_eq!(nul_terminated(b"alice\0\0junk"), b"alice");
        assert_eq!(nul_terminated(b"nonul"), b"nonul");
        assert_eq!(WireText::from_nul_terminated(b"\0abc").as_str(), "");
    }
}
