//! Keeping the unconsumed tail of a byte stream between feeds.
//!
//! A TCP segment rarely ends on a message boundary. Each dissector direction owns a
//! [`StreamBuffer`]: it runs the message parser straight over the new bytes when nothing is
//! pending (no copy), and only copies what the parser could not consume yet, up to a cap.

/// The pending bytes would have grown past the cap. The buffer was emptied: the caller should
/// report an anomaly and resynchronise (or give up on the direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow {
    /// Bytes that were thrown away.
    pub discarded: usize,
}

#[derive(Clone, Debug)]
pub struct StreamBuffer {
    pending: Vec<u8>,
    cap: usize,
}

impl StreamBuffer {
    pub fn new(cap: usize) -> StreamBuffer {
        StreamBuffer {
            pending: Vec::new(),
            cap,
        }
    }

    /// Bytes waiting for the rest of their message.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// Runs `parse` over everything pending followed by `data`, as often as it makes progress.
    ///
    /// `parse` gets the unconsumed bytes and returns how many it consumed; 0 means "a whole
    /// message is not there yet". A return value larger than its input is treated as consuming
    /// all of it. Whatever is left is kept for the next call. While bytes are pending, `data` is
    /// added only as far as the cap allows and parsed at once, so the pending bytes never
    /// exceed the cap; when a pending message cannot complete within it, everything pending and
    /// the rest of `data` are discarded (the parser has lost the message boundaries).
    pub fn feed(
        &mut self,
        mut data: &[u8],
        mut parse: impl FnMut(&[u8]) -> usize,
    ) -> Result<(), Overflow> {
        // Feeding nothing still re-runs the parser over what is pending (a dissector may
        // settle a partial message differently at close).
        while !self.pending.is_empty() {
            let take = self.cap.saturating_sub(self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            let rest = run(&self.pending, &mut parse);
            let consumed = self.pending.len() - rest;
            self.pending.drain(..consumed);
            if self.pending.is_empty() {
                // Give the memory back: thousands of idle connections must not each keep
                // the largest message they once waited for.
                self.pending = Vec::new();
            }
            if data.is_empty() {
                return Ok(());
            }
            if self.pending.len() >= self.cap {
                let discarded = self.pending.len() + data.len();
                self.pending.clear();
                return Err(Overflow { discarded });
            }
        }
        let rest = run(data, &mut parse);
        self.keep(&data[data.len() - rest..])
    }

    fn keep(&mut self, rest: &[u8]) -> Result<(), Overflow> {
        if rest.len() > self.cap {
            return Err(Overflow {
                discarded: rest.len(),
            });
        }
        self.pending.extend_from_slice(rest);
        Ok(())
    }
}

/// Parses messages off the front of `bytes` while the parser makes progress; returns how many
/// bytes are left over. Each round consumes at least one byte, so this always ends.
fn run(mut bytes: &[u8], parse: &mut impl FnMut(&[u8]) -> usize) -> usize {
    while !bytes.is_empty() {
        let used = parse(bytes).min(bytes.len());
        if used == 0 {
            break;
        }
        bytes = &bytes[used..];
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy framing for the tests: one length byte, then that many bytes.
    fn frames(out: &mut Vec<Vec<u8>>) -> impl FnMut(&[u8]) -> usize + '_ {
        |b: &[u8]| {
            let need = 1 + usize::from(b[0]);
            if b.len() < need {
                return 0;
            }
            out.push(b[1..need].to_vec());
            need
        }
    }

    #[test]
    fn messages_split_across_feeds_are_joined() {
        let mut buf = StreamBuffer::new(64);
        let mut got = Vec::new();
        buf.feed(&[2, b'a', b'b', 3, b'c'], frames(&mut got))
            .unwrap();
        assert_eq!(got, vec![b"ab".to_vec()]);
        assert_eq!(buf.pending(), 2);
        buf.feed(&[b'd', b'e', 0, 1], frames(&mut got)).unwrap();
        assert_eq!(got, vec![b"ab".to_vec(), b"cde".to_vec(), vec![]]);
        assert_eq!(buf.pending(), 1);
        buf.feed(b"z", frames(&mut got)).unwrap();
        assert_eq!(got.last().unwrap(), b"z");
        assert_eq!(buf.pending(), 0);
    }

    #[test]
    fn growing_past_the_cap_discards_and_reports() {
        let mut buf = StreamBuffer::new(8);
        let mut got = Vec::new();
        buf.feed(&[200, 1, 2, 3], frames(&mut got)).unwrap();
        assert_eq!(buf.pending(), 4);
        let err = buf.feed(&[4, 5, 6, 7, 8], frames(&mut got)).unwrap_err();
        assert_eq!(err, Overflow { discarded: 9 });
        assert_eq!(buf.pending(), 0);
        // A first chunk whose tail alone is over the cap is refused too.
        let err = buf.feed(&[200; 20], frames(&mut got)).unwrap_err();
        assert_eq!(err.discarded, 20);
        assert!(got.is_empty());
    }

    #[test]
    fn complete_messages_are_never_refused_for_arriving_together() {
        // A pending partial message plus a chunk much larger than the cap, all of it
        // complete messages of 4 bytes: the cap bounds what is pending, not what is fed.
        let mut buf = StreamBuffer::new(8);
        let mut got = Vec::new();
        buf.feed(&[3, 1], frames(&mut got)).unwrap();
        let mut big = vec![2, 3];
        for i in 0..50u8 {
            big.extend_from_slice(&[3, i, i, i]);
        }
        buf.feed(&big, frames(&mut got)).unwrap();
        assert_eq!(got.len(), 51);
        assert_eq!(got[0], vec![1, 2, 3]);
        assert_eq!(got[50], vec![49, 49, 49]);
        assert_eq!(buf.pending(), 0);
    }

    #[test]
    fn feeding_nothing_reparses_what_is_pending() {
        let mut buf = StreamBuffer::new(8);
        buf.feed(&[5, 1, 2], |_| 0).unwrap();
        let mut seen = Vec::new();
        buf.feed(&[], |b: &[u8]| {
            seen.push(b.to_vec());
            b.len()
        })
        .unwrap();
        assert_eq!(seen, vec![vec![5, 1, 2]]);
        assert_eq!(buf.pending(), 0);
    }

    #[test]
    fn a_parser_claiming_too_much_cannot_overrun() {
        let mut buf = StreamBuffer::new(8);
        buf.feed(&[1, 2, 3], |_| 1000).unwrap();
        assert_eq!(buf.pending(), 0);
    }
}
