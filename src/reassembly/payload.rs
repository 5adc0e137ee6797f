//! The captured bytes of a chunk as the reassembler handles them: the bytes themselves, or,
//! once the connection is past its stream depth (its application needs no more payload), only
//! how many there are. Sequence accounting (commit point, holes, overlaps, caps) works on the
//! length alone; only delivery and the comparison of copies need the bytes.

/// A chunk's captured bytes, borrowed.
#[derive(Clone, Copy, Debug)]
pub(super) enum Payload<'a> {
    Bytes(&'a [u8]),
    /// Past the stream depth: this many bytes were captured and are not copied.
    Uncopied(u64),
}

impl<'a> Payload<'a> {
    pub(super) fn len(self) -> u64 {
        match self {
            Payload::Bytes(bytes) => bytes.len() as u64,
            Payload::Uncopied(len) => len,
        }
    }

    pub(super) fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The bytes to compare with other copies: none when they were not copied.
    pub(super) fn bytes(self) -> &'a [u8] {
        match self {
            Payload::Bytes(bytes) => bytes,
            Payload::Uncopied(_) => &[],
        }
    }

    /// The first `n` bytes (all of them if there are fewer).
    pub(super) fn prefix(self, n: u64) -> Payload<'a> {
        match self {
            Payload::Bytes(bytes) => Payload::Bytes(
                bytes
                    .get(..usize::try_from(n).unwrap_or(usize::MAX))
                    .unwrap_or(bytes),
            ),
            Payload::Uncopied(len) => Payload::Uncopied(len.min(n)),
        }
    }

    /// What follows the first `n` bytes (nothing if there are no more).
    pub(super) fn suffix(self, n: u64) -> Payload<'a> {
        match self {
            Payload::Bytes(bytes) => Payload::Bytes(
                bytes
                    .get(usize::try_from(n).unwrap_or(usize::MAX)..)
                    .unwrap_or_default(),
            ),
            Payload::Uncopied(len) => Payload::Uncopied(len.saturating_sub(n)),
        }
    }

    /// An owned copy, for the out-of-order store (bytes are copied only if they were kept).
    pub(super) fn to_owned(self) -> Stored {
        match self {
            Payload::Bytes(bytes) => Stored::Bytes(bytes.into()),
            Payload::Uncopied(len) => Stored::Uncopied(len),
        }
    }
}

/// A chunk's captured bytes, owned by the out-of-order store.
#[derive(Debug)]
pub(super) enum Stored {
    Bytes(Box<[u8]>),
    Uncopied(u64),
}

impl Stored {
    pub(super) fn as_payload(&self) -> Payload<'_> {
        match self {
            Stored::Bytes(bytes) => Payload::Bytes(bytes),
            Stored::Uncopied(len) => Payload::Uncopied(*len),
        }
    }

    /// Bytes copied (0 when only the length is kept).
    pub(super) fn copied(&self) -> usize {
        match self {
            Stored::Bytes(bytes) => bytes.len(),
            Stored::Uncopied(_) => 0,
        }
    }

    /// Drops the bytes, keeping their length.
    pub(super) fn forget_bytes(&mut self) {
        if let Stored::Bytes(bytes) = self {
            *self = Stored::Uncopied(bytes.len() as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_keep_the_length_with_or_without_the_bytes() {
        for payload in [Payload::Bytes(b"hello"), Payload::Uncopied(5)] {
            assert_eq!(payload.len(), 5);
            assert_eq!(payload.prefix(2).len(), 2);
            assert_eq!(payload.prefix(9).len(), 5);
            assert_eq!(payload.suffix(2).len(), 3);
            assert!(payload.suffix(9).is_empty());
            assert_eq!(payload.to_owned().as_payload().len(), 5);
        }
        assert_eq!(Payload::Bytes(b"hello").suffix(3).bytes(), b"lo");
        assert_eq!(Payload::Uncopied(5).bytes(), b"");
        let mut stored = Payload::Bytes(b"abc").to_owned();
        assert_eq!(stored.copied(), 3);
        stored.forget_bytes();
        assert_eq!((stored.copied(), stored.as_payload().len()), (0, 3));
    }
}
