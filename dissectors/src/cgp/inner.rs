//! ICA carried inside CGP channels, handed to the ICA dissector (PROTOCOLS.md 3.4).
//!
//! The ICA dissector is used only through the [`Dissector`] trait, exactly as the engine would
//! use it on TCP 1494: each direction of the channel is one ICA byte stream, and its events go
//! to the caller's output unchanged.

use super::event::InnerIca;
use crate::event::Event;
use crate::ica;
use crate::registry::{Carry, Context, Dissector, Proto};
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

/// How the ICA stream of a channel begins.
#[derive(Clone, Copy, Debug)]
pub enum Start<'a> {
    /// The channel was opened on this connection (`from_start`: its open was seen, so the ICA
    /// stream is seen from its start) or carried data without an open.
    Open { from_start: bool },
    /// The channel was reopened by a session-reliability reconnect: the stream continues one
    /// begun on an earlier connection, whose facts may be known.
    Resumed(Option<&'a Carry>),
}

/// Whether a channel's data could be handed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handed {
    Yes,
    /// The limit of inner dissectors is reached; the channel is only counted.
    LimitReached,
}

impl InnerStreams {
    /// Feeds `payload` of `channel` to its ICA dissector, creating it on first use as `start`
    /// says.
    pub fn feed(
        &mut self,
        channel: u16,
        start: Start<'_>,
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
                let ica = match start {
                    Start::Open { from_start } => {
                        let ctx = Context {
                            announced_vendor: None,
                            from_start,
                        };
                        Proto::ICA.dissector(&ctx)
                    }
                    Start::Resumed(carry) => Box::new(ica::Dissector::resumed(carry)),
                };
                self.streams.push(Stream {
                    channel,
                    ica,
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

    /// The facts of the latest stream that has them, for a later connection.
    pub fn carry(&self) -> Option<Carry> {
        self.streams.iter().rev().find_map(|s| s.ica.carry())
    }

    /// Hands an earlier connection's facts to the open streams (only resumed streams that lack
    /// them take them).
    pub fn resume(&mut self, carry: &Carry) {
        for s in self.open_streams(None) {
            s.ica.resume(carry.clone());
        }
    }

    pub fn buffered(&self) -> usize {
        self.streams.iter().map(|s| s.ica.buffered()).sum()
    }

    /// The summaries of the inner streams (an ICA dissector always has one).
    pub fn summaries(&self) -> Vec<InnerIca> {
        self.streams
            .iter()
            .filter_map(|s| {
                Some(InnerIca {
                    channel: s.channel,
                    summary: s.ica.summary()?,
                })
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
        let open = Start::Open { from_start: true };
        assert_eq!(
            inner.feed(2, open, Dir::ToClient, b"abc", ts, &mut out),
            Handed::Yes
        );
        assert_eq!(
            inner.feed(2, open, Dir::ToServer, b"de", ts, &mut out),
            Handed::Yes
        );
        assert_eq!(
            inner.feed(4, Start::Resumed(None), Dir::ToServer, b"f", ts, &mut out),
            Handed::Yes
        );
        assert_eq!(
            inner.feed(6, open, Dir::ToServer, b"g", ts, &mut out),
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
