//! What was delivered last, sampled, to notice a retransmission that carries different bytes.
//!
//! Delivered bytes are not kept (the hot path hands out the packet's own buffer), so a copy
//! that overlaps them cannot be compared in full. Instead the first and last bytes of the last
//! few delivered chunks are kept: retransmissions repeat whole segments or straddle segment
//! boundaries, so their overlap with delivered data nearly always covers one of those ends.
//! A difference there is an overlap conflict; a difference only in the middle of a long
//! segment goes unnoticed (stated in the module docs of `reassembly`).

/// Bytes kept at each end of a chunk.
const SAMPLE: usize = 16;
/// Chunks remembered per direction.
const CHUNKS: usize = 2;

/// The ends of one delivered chunk.
#[derive(Clone, Copy, Debug, Default)]
struct Chunk {
    /// Stream offset of the first byte; 0 for an empty slot (offset 0 is never data: the SYN
    /// or the pickup point takes it).
    start: u64,
    len: u32,
    head: [u8; SAMPLE],
    tail: [u8; SAMPLE],
}

impl Chunk {
    fn tail_start(&self) -> u64 {
        self.start + u64::from(self.len.saturating_sub(SAMPLE as u32))
    }

    /// Whether `data` at offset `start` disagrees with the sampled ends where they overlap.
    fn differs(&self, start: u64, data: &[u8]) -> bool {
        let sampled = |at: u64, bytes: &[u8; SAMPLE]| {
            let len = u64::from(self.len.min(SAMPLE as u32));
            let from = at.max(start);
            let to = (at + len).min(start + data.len() as u64);
            (from..to).any(|off| bytes[(off - at) as usize] != data[(off - start) as usize])
        };
        self.start != 0
            && (sampled(self.start, &self.head) || sampled(self.tail_start(), &self.tail))
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct Recent {
    /// The last chunks, newest last.
    chunks: [Chunk; CHUNKS],
}

impl Recent {
    /// Remembers the ends of a chunk delivered at offset `at`.
    #[inline]
    pub(super) fn delivered(&mut self, at: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let n = data.len().min(SAMPLE);
        let mut chunk = Chunk {
            start: at,
            len: u32::try_from(data.len()).unwrap_or(u32::MAX),
            ..Chunk::default()
        };
        chunk.head[..n].copy_from_slice(&data[..n]);
        chunk.tail[..n].copy_from_slice(&data[data.len() - n..]);
        self.chunks.rotate_left(1);
        self.chunks[CHUNKS - 1] = chunk;
    }

    /// Whether `data` at `start` (overlapping delivered bytes) differs from what was delivered,
    /// as far as the samples tell.
    pub(super) fn differs(&self, start: u64, data: &[u8]) -> bool {
        self.chunks.iter().any(|c| c.differs(start, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_differing_at_either_end_of_a_delivered_chunk_is_caught() {
        let mut r = Recent::default();
        let chunk: Vec<u8> = (0..100u8).collect();
        r.delivered(1000, &chunk);
        assert!(!r.differs(1000, &chunk), "an identical retransmission");
        assert!(!r.differs(1050, &chunk[50..]), "identical partial copy");
        let mut head = chunk.clone();
        head[3] ^= 0xff;
        assert!(r.differs(1000, &head));
        let mut tail = chunk[60..].to_vec();
        tail[39] ^= 0xff; // offset 1099, the last byte
        assert!(r.differs(1060, &tail));
        // Only the middle differs: beyond what is sampled.
        let mut middle = chunk.clone();
        middle[50] ^= 0xff;
        assert!(!r.differs(1000, &middle));
    }

    #[test]
    fn only_the_last_chunks_are_remembered() {
        let mut r = Recent::default();
        r.delivered(1, &[1; 10]);
        r.delivered(11, &[2; 10]);
        r.delivered(21, &[3; 10]);
        assert!(!r.differs(1, &[9; 10]), "forgotten");
        assert!(r.differs(11, &[9; 10]));
        assert!(r.differs(26, &[9; 3]));
    }
}
