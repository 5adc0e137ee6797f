//! The lazy side of a conversation: its script becomes frames one step at a time, and what a
//! step produced is handed out before the next step is transmitted. Memory is one step's
//! frames, however long the script. TCP ([`crate::tcp::Packets`]) and UDP
//! ([`crate::udp::Datagrams`]) differ only in how they transmit a step.

use crate::pcapfile::Frame;
use std::collections::VecDeque;

/// Turns a conversation's script into frames, one step at a time.
pub trait Transmit {
    /// Transmits the next step of the script, appending its frames (possibly none: a pause)
    /// to `ready`; `None` once the script is over.
    fn transmit_next(&mut self, ready: &mut VecDeque<Frame>) -> Option<()>;
}

/// Frames of one conversation, in time order.
pub struct Frames<T> {
    transmitter: T,
    /// Frames of the latest step not handed out yet.
    ready: VecDeque<Frame>,
}

impl<T: Transmit> Frames<T> {
    pub(crate) fn new(transmitter: T) -> Frames<T> {
        Frames {
            transmitter,
            ready: VecDeque::new(),
        }
    }
}

impl<T: Transmit> Iterator for Frames<T> {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return Some(frame);
            }
            self.transmitter.transmit_next(&mut self.ready)?;
        }
    }
}
