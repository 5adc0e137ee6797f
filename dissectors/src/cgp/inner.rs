//! ICA carried inside CGP channels, handed to the ICA dissector (PROTOCOLS.md 3.4).
//!
//! The ICA dissector is used only through the [`Dissector`] trait, exactly as the engine would
//! use it on TCP 1494: each direction of the channel is one ICA byte stream, and its events go
//! to the caller's output unchanged.

use super::event::InnerIca;
use crate::event::Event;
use crate::registry::{Context, Dissector, Proto, new_dissector};
use crate::types::{Dir, Timestamp};

/// Inner ICA dissectors per connection. A session carries one ICA stream; a second allows for
/// a reopened channel without letting a peer multiply dissectors.
pub const MAX_INNER_ICA: usize = 2;

struct Stream {
    channel: u16,
    ica: Box<dyn Dissector>,
    closed: bool,
}

#[derive(Default)]
pub struct InnerStreams {
    streams: Vec<Stream>,
}

/// Whether a channel's data could be handed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handed {
    Yes,
    /// The limit of inner dissectors is reached; the channel is only counted.
    LimitReached,
}

impl InnerStreams {
    /// Feeds `payload` of `channel` to its ICA dissector, creating it on first use.
    /// `from_start`: the channel's open was seen, so the ICA stream is seen from its start.
    pub fn feed(
        &mut self,
        channel: u16,
        from_start: bool,
        dir: Dir,
        payload: &[u8],
        ts: Timestamp,
        out: &mut Vec<Event>,
    ) -> Handed {
        // A closed stream is not fed again: a reopened channel starts a new ICA stream.
        let open = |s: &Stream| s.channel == channel && !s.closed;
        let index = match self.streams.iter().position(open) {
            Some(index) => index,
            None if self.streams.len() >= MAX_INNER_ICA => return Handed::LimitReached,
            None => {
                let ctx = Context {
                    announced_vendor: None,
                    from_start,
                };
                self.streams.push(Stream {
                    channel,
                    ica: new_dissector(Proto::Ica, &ctx),
                    closed: false,
                });
                self.streams.len() - 1
            }
        };
        if let Some(stream) = self.streams.get_mut(index) {
            stream.ica.feed(dir, payload, ts, out);
        }
        Handed::Yes
    }

    /// Tells the ICA dissector of `channel` (or every one, for `None`) that `len` bytes of
    /// `dir` were lost.
    pub fn gap(
        &mut self,
        channel: Option<u16>,
        dir: Dir,
        len: u64,
        ts: Timestamp,
        out: &mut Vec<Event>,
    ) {
        for s in self.open_streams(channel) {
            s.ica.gap(dir, len, ts, out);
        }
    }

    /// Closes the ICA dissector of `channel` (or every one still open, for `None`).
    pub fn close(&mut self, channel: Option<u16>, ts: Timestamp, out: &mut Vec<Event>) {
        for s in self.open_streams(channel) {
            s.ica.close(ts, out);
            s.closed = true;
        }
    }

    fn open_streams(&mut self, channel: Option<u16>) -> impl Iterator<Item = &mut Stream> {
        self.streams
            .iter_mut()
            .filter(move |s| !s.closed && channel.is_none_or(|c| c == s.channel))
    }

    pub fn buffered(&self) -> usize {
        self.streams.iter().map(|s| s.ica.buffered()).sum()
    }

    pub fn summaries(&self) -> Vec<InnerIca> {
        self.streams
            .iter()
            .map(|s| InnerIca {
                channel: s.channel,
                summary: s.ica.summary(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_created_per_channel_up_to_the_limit() {
        let mut inner = InnerStreams::default();
        let mut out = Vec::new();
        let ts = Timestamp::from_secs(1);
        assert_eq!(
            inner.feed(2, true, Dir::ToClient, b"abc", ts, &mut out),
            Handed::Yes
        );
        assert_eq!(
            inner.feed(2, true, Dir::ToServer, b"de", ts, &mut out),
            Handed::Yes
        );
        assert_eq!(
            inner.feed(4, true, Dir::ToServer, b"f", ts, &mut out),
            Handed::Yes
        );
        assert_eq!(
            inner.feed(6, true, Dir::ToServer, b"g", ts, &mut out),
            Handed::LimitReached
        );
        let channels: Vec<u16> = inner.summaries().iter().map(|s| s.channel).collect();
        assert_eq!(channels, vec![2, 4]);
        // Closing one stream twice closes it once; the other stays open.
        inner.close(Some(2), ts, &mut out);
        inner.close(Some(2), ts, &mut out);
        assert_eq!(inner.open_streams(None).count(), 1);
    }
}
