//! Merges many frame sources (conversations) into one time-ordered stream.
//!
//! Memory is one pending frame per active source plus the sources' own state. Sources can be
//! given up front ([`Mixer::add`]) or as a lazy sequence of arrivals sorted by start time
//! ([`Mixer::with_arrivals`]): an arrival is only opened when the merged stream reaches its
//! first frame, so a capture with millions of conversations holds only those in progress.
//!
//! Frames with equal time stamps come out in the order their sources were admitted, so the
//! output is deterministic.

use super::pcapfile::{Frame, FrameSink};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;
use std::io;

/// A source of frames in non-decreasing time order.
pub type FrameSource = Box<dyn Iterator<Item = Frame> + Send>;

/// The next frame of one source, ordered for a min-heap on (time stamp, admission order).
struct Head {
    frame: Frame,
    order: u64,
    source: FrameSource,
}

impl Head {
    fn key(&self) -> (ctxscope_dissectors::Timestamp, u64) {
        (self.frame.ts, self.order)
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    /// Reversed, so that `BinaryHeap` (a max-heap) yields the earliest frame first.
    fn cmp(&self, other: &Head) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// Time-ordered merge of frame sources; itself an iterator of frames.
pub struct Mixer {
    heap: BinaryHeap<Head>,
    arrivals: Box<dyn Iterator<Item = FrameSource> + Send>,
    /// The next arrival, opened to learn its first time stamp, waiting for its turn.
    next_arrival: Option<Head>,
    admitted: u64,
}

impl Default for Mixer {
    fn default() -> Mixer {
        Mixer::new()
    }
}

impl Mixer {
    pub fn new() -> Mixer {
        Mixer {
            heap: BinaryHeap::new(),
            arrivals: Box::new(std::iter::empty()),
            next_arrival: None,
            admitted: 0,
        }
    }

    /// A mixer that opens `arrivals` one by one as time reaches them. They must come sorted by
    /// the time stamp of their first frame; one that comes late is merged from then on.
    pub fn with_arrivals<I, S>(arrivals: I) -> Mixer
    where
        I: Iterator<Item = S> + Send + 'static,
        S: IntoIterator<Item = Frame>,
        S::IntoIter: Send + 'static,
    {
        let mut mixer = Mixer::new();
        mixer.arrivals = Box::new(arrivals.map(|s| Box::new(s.into_iter()) as FrameSource));
        mixer.open_next_arrival();
        mixer
    }

    /// Adds a source now.
    pub fn add<S>(&mut self, source: S)
    where
        S: IntoIterator<Item = Frame>,
        S::IntoIter: Send + 'static,
    {
        if let Some(head) = self.open(Box::new(source.into_iter())) {
            self.heap.push(head);
        }
    }

    /// Sources currently open (started and not finished).
    pub fn active(&self) -> usize {
        self.heap.len()
    }

    /// Streams every remaining frame into `sink`; returns how many were written.
    pub fn write_to(self, sink: &mut impl FrameSink) -> io::Result<u64> {
        let mut written = 0;
        for frame in self {
            sink.write_frame(&frame)?;
            written += 1;
        }
        Ok(written)
    }

    fn open(&mut self, mut source: FrameSource) -> Option<Head> {
        let frame = source.next()?;
        self.admitted += 1;
        Some(Head {
            frame,
            order: self.admitted,
            source,
        })
    }

    fn open_next_arrival(&mut self) {
        self.next_arrival = None;
        while let Some(source) = self.arrivals.next() {
            if let Some(head) = self.open(source) {
                self.next_arrival = Some(head);
                return;
            }
        }
    }

    /// Moves arrivals whose first frame is due into the heap.
    fn admit_due_arrivals(&mut self) {
        while let Some(arrival) = &self.next_arrival {
            let due = self
                .heap
                .peek()
                .is_none_or(|earliest| arrival.frame.ts <= earliest.frame.ts);
            if !due {
                return;
            }
            if let Some(head) = self.next_arrival.take() {
                self.heap.push(head);
            }
            self.open_next_arrival();
        }
    }
}

impl Iterator for Mixer {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        self.admit_due_arrivals();
        let mut earliest = self.heap.peek_mut()?;
        match earliest.source.next() {
            // Replacing the top and sifting once is cheaper than pop + push.
            Some(frame) => Some(std::mem::replace(&mut earliest.frame, frame)),
            None => Some(PeekMut::pop(earliest).frame),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::LinkType;
    use ctxscope_dissectors::Timestamp;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

    /// Frames at the given seconds, tagged with `tag` in their data.
    fn source(tag: u8, times: &[i64]) -> Vec<Frame> {
        times
            .iter()
            .map(|&t| Frame::new(Timestamp::from_secs(t), LinkType::RAW, vec![tag]))
            .collect()
    }

    fn tags(frames: impl Iterator<Item = Frame>) -> Vec<(i64, u8)> {
        frames
            .map(|f| (f.ts.nanos() / 1_000_000_000, f.data[0]))
            .collect()
    }

    #[test]
    fn merges_by_time_and_breaks_ties_by_admission() {
        let mut mixer = Mixer::new();
        mixer.add(source(1, &[1, 3, 3, 7]));
        mixer.add(source(2, &[0, 3, 8]));
        mixer.add(source(3, &[]));
        mixer.add(source(4, &[3]));
        assert_eq!(mixer.active(), 3);
        assert_eq!(
            tags(mixer),
            [
                (0, 2),
                (1, 1),
                (3, 1),
                (3, 1),
                (3, 2),
                (3, 4),
                (7, 1),
                (8, 2)
            ]
        );
    }

    #[test]
    fn arrivals_open_only_when_due() {
        let opened = Arc::new(AtomicUsize::new(0));
        let counter = opened.clone();
        let arrivals = (0..1000i64).map(move |i| {
            counter.fetch_add(1, AtomicOrdering::Relaxed);
            source((i % 256) as u8, &[i * 10, i * 10 + 15])
        });
        let mut mixer = Mixer::with_arrivals(arrivals);
        let first: Vec<_> = (&mut mixer).take(5).collect();
        assert_eq!(
            tags(first.into_iter()),
            [(0, 0), (10, 1), (15, 0), (20, 2), (25, 1)]
        );
        // Each source lasts 15 s and one starts every 10 s: at most two open at once, plus
        // the one opened to learn its start.
        assert!(mixer.active() <= 2);
        assert!(opened.load(AtomicOrdering::Relaxed) <= 5);
        let rest: Vec<_> = mixer.collect();
        assert_eq!(rest.len(), 2000 - 5);
        assert!(rest.windows(2).all(|w| w[0].ts <= w[1].ts));
    }

    #[test]
    fn late_arrivals_and_empty_arrivals_still_come_out() {
        // Source 3 claims to start after source 2 but starts before it.
        let arrivals = vec![
            source(1, &[1, 5, 6]),
            source(9, &[]),
            source(2, &[7]),
            source(3, &[2]),
        ];
        assert_eq!(
            tags(Mixer::with_arrivals(arrivals.into_iter())),
            [(1, 1), (5, 1), (6, 1), (2, 3), (7, 2)]
        );
    }
}
