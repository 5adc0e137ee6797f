//! The head of an ICA command (PROTOCOLS.md 2.4): its code, its length field, and for channel
//! writes and TERMINATE the first data byte (the channel id, the reason).
//!
//! The frame reader parses it from the plaintext in one go when the whole head is at hand (the
//! common case), and byte by byte into a [`Head`] buffer when it is split across reads; both
//! end here, so the two paths cannot disagree.

use super::names::{self, LengthForm, TERMINATE, VIRTUAL_WRITE0, VIRTUAL_WRITE1, VIRTUAL_WRITE2};

/// The longest head: a code, a 2-byte length and a channel id.
pub const MAX_HEAD: usize = 4;

/// What the first plaintext bytes of a command say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed (or none were given).
    Partial,
    /// A code with no known length: the rest of the frame cannot be parsed.
    Unknown(u8),
    /// A channel write or TERMINATE whose length leaves no room for its first data byte; its
    /// head is `len` bytes.
    Empty { code: u8, len: usize },
    /// A command: its head is `len` bytes, `data` more bytes of it follow the head.
    Command {
        code: u8,
        len: usize,
        data: u16,
        first: First,
    },
}

/// The data byte that a head includes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum First {
    None,
    /// VIRTUAL_WRITE: the channel id.
    Channel(u8),
    /// TERMINATE: the reason.
    Reason(u8),
}

impl Parsed {
    /// Bytes of the head taken by this result (nothing while partial).
    pub fn len(self) -> usize {
        match self {
            Parsed::Partial => 0,
            Parsed::Unknown(_) => 1,
            Parsed::Empty { len, .. } | Parsed::Command { len, .. } => len,
        }
    }
}

/// Parses the head at the start of `plain` (extra bytes after it are ignored).
pub fn parse(plain: &[u8]) -> Parsed {
    let Some(&code) = plain.first() else {
        return Parsed::Partial;
    };
    let Some((_, form)) = names::command(code) else {
        return Parsed::Unknown(code);
    };
    let field = form.field_len();
    let Some(length) = plain.get(1..1 + field) else {
        return Parsed::Partial;
    };
    let declared = match form {
        LengthForm::Fixed(n) => u16::from(n),
        LengthForm::Byte => u16::from(length[0]),
        LengthForm::Word => u16::from_le_bytes([length[0], length[1]]),
    };
    let head = 1 + field;
    if !matches!(
        code,
        VIRTUAL_WRITE0 | VIRTUAL_WRITE1 | VIRTUAL_WRITE2 | TERMINATE
    ) {
        return Parsed::Command {
            code,
            len: head,
            data: declared,
            first: First::None,
        };
    }
    let Some(data) = declared.checked_sub(1) else {
        return Parsed::Empty { code, len: head };
    };
    let Some(&byte) = plain.get(head) else {
        return Parsed::Partial;
    };
    let first = if code == TERMINATE {
        First::Reason(byte)
    } else {
        First::Channel(byte)
    };
    Parsed::Command {
        code,
        len: head + 1,
        data,
        first,
    }
}

/// A head read byte by byte, across reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head {
    bytes: [u8; MAX_HEAD],
    len: u8,
}

impl Head {
    /// Adds the next plaintext byte; returns what the head says now. Once it is no longer
    /// partial the head starts over.
    pub fn push(&mut self, p: u8) -> Parsed {
        if let Some(slot) = self.bytes.get_mut(usize::from(self.len)) {
            *slot = p;
            self.len += 1;
        }
        let parsed = parse(&self.bytes[..usize::from(self.len)]);
        if parsed != Parsed::Partial {
            *self = Head::default();
        }
        parsed
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The code of a started head.
    pub fn code(&self) -> Option<u8> {
        (self.len > 0).then_some(self.bytes[0])
    }

    /// What a head cut short was missing: its length field (named by the command), or the data
    /// byte after it.
    pub fn missing(&self) -> &'static str {
        match self.code().and_then(names::command) {
            Some((name, form)) if usize::from(self.len) < 1 + form.field_len() => name,
            _ => "ICA command",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_of_every_length_form() {
        // KEYBOARD0 (0x0A): no length field, one data byte.
        assert_eq!(
            parse(&[0x0a, 0x1e]),
            Parsed::Command {
                code: 0x0a,
                len: 1,
                data: 1,
                first: First::None
            }
        );
        // MOUSE1 (0x0E): a 1-byte length of 6.
        assert_eq!(
            parse(&[0x0e, 0x06]),
            Parsed::Command {
                code: 0x0e,
                len: 2,
                data: 6,
                first: First::None
            }
        );
        // REDRAW (0x06): a 2-byte little-endian length of 0x0102.
        assert_eq!(
            parse(&[0x06, 0x02, 0x01, 0xff]),
            Parsed::Command {
                code: 0x06,
                len: 3,
                data: 0x0102,
                first: First::None
            }
        );
    }

    #[test]
    fn channel_writes_and_terminate_include_their_first_data_byte() {
        // VIRTUAL_WRITE0: channel 3, then one data byte.
        assert_eq!(
            parse(&[0x2f, 0x03, 0x99]),
            Parsed::Command {
                code: 0x2f,
                len: 2,
                data: 1,
                first: First::Channel(3)
            }
        );
        // VIRTUAL_WRITE2: length 0x0200 (channel id included), channel 7.
        assert_eq!(
            parse(&[0x31, 0x00, 0x02, 0x07]),
            Parsed::Command {
                code: 0x31,
                len: 4,
                data: 0x01ff,
                first: First::Channel(7)
            }
        );
        // TERMINATE: length 2, reason 0x01, one more byte.
        assert_eq!(
            parse(&[0x05, 0x02, 0x01]),
            Parsed::Command {
                code: 0x05,
                len: 3,
                data: 1,
                first: First::Reason(1)
            }
        );
        // VIRTUAL_WRITE1 with length 0: no room for the channel id.
        assert_eq!(
            parse(&[0x30, 0x00, 0x05]),
            Parsed::Empty { code: 0x30, len: 2 }
        );
    }

    #[test]
    fn partial_and_unknown_heads() {
        assert_eq!(parse(&[]), Parsed::Partial);
        assert_eq!(parse(&[0x31, 0x00]), Parsed::Partial);
        assert_eq!(parse(&[0x31, 0x00, 0x02]), Parsed::Partial);
        assert_eq!(parse(&[0xee, 0x00]), Parsed::Unknown(0xee));
        assert_eq!(parse(&[0xee]).len(), 1);
    }

    #[test]
    fn a_head_fed_byte_by_byte_gives_what_the_whole_head_gives() {
        let whole = [0x31, 0x10, 0x00, 0x04, 0xaa];
        let mut head = Head::default();
        assert_eq!(head.push(0x31), Parsed::Partial);
        assert_eq!(head.missing(), "VIRTUAL_WRITE2");
        assert_eq!(head.push(0x10), Parsed::Partial);
        assert_eq!(head.push(0x00), Parsed::Partial);
        assert_eq!(head.missing(), "ICA command");
        assert_eq!(head.push(0x04), parse(&whole));
        assert!(head.is_empty(), "a finished head starts over");
    }
}
