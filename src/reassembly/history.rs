//! Zeek's connection `history` string, stored inline.
//!
//! Letters (uppercase: sent by the client/originator, lowercase: by the server/responder):
//! `S` SYN without ACK, `H` SYN+ACK, `A` pure ACK, `D` payload, `F` FIN, `R` RST, `G` content
//! gap, `T` retransmitted payload, `W` zero window, `I` FIN+RST, `Q` SYN+FIN or SYN+RST.
//!
//! As in Zeek: `A D I Q` appear at most once per direction; `S H F R` again only when the
//! packet's sequence number differs from the last one with that flag; `G T W` at the 1st, 10th,
//! 100th, ... occurrence. A packet with exactly one of SYN/FIN/RST gives only that letter (no `D`
//! for a FIN carrying data). The string is capped at [`CAPACITY`] letters; later ones are dropped.

use super::segment::TcpFlags;
use ctxscope_dissectors::Dir;

/// Letters kept; Zeek's history of an ordinary connection is under a dozen.
pub(super) const CAPACITY: usize = 32;

/// Letters recorded once per direction (Zeek's `HIST_*` masks).
#[derive(Clone, Copy)]
enum Once {
    Syn = 1 << 0,
    Fin = 1 << 1,
    Rst = 1 << 2,
    Data = 1 << 3,
    Ack = 1 << 4,
    MultiFlag = 1 << 5,
    FinRst = 1 << 6,
}

/// Letters recorded again when the packet's sequence number changes.
#[derive(Clone, Copy)]
enum Repeating {
    Syn,
    Fin,
    Rst,
}

impl Repeating {
    const fn once(self) -> Once {
        match self {
            Repeating::Syn => Once::Syn,
            Repeating::Fin => Once::Fin,
            Repeating::Rst => Once::Rst,
        }
    }
}

/// Letters recorded at counts 1, 10, 100, ...
#[derive(Clone, Copy, Debug)]
pub(super) enum Scaled {
    /// `T`: payload that does not advance the highest sequence number (Zeek's rule).
    Retransmission,
    /// `W`: a zero window advertisement.
    ZeroWindow,
    /// `G`: a content gap.
    Gap,
}

impl Scaled {
    const fn letter(self) -> u8 {
        match self {
            Scaled::Retransmission => b'T',
            Scaled::ZeroWindow => b'W',
            Scaled::Gap => b'G',
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct History {
    letters: [u8; CAPACITY],
    len: u8,
    /// `Once` bits per direction.
    seen: [u8; 2],
    /// Sequence number of the last SYN, FIN (its own sequence number) and RST per direction.
    last_seq: [[u32; 3]; 2],
    /// Occurrences of each `Scaled` kind per direction.
    scaled: [[u32; 3]; 2],
}

impl Default for History {
    fn default() -> History {
        History {
            letters: [0; CAPACITY],
            len: 0,
            seen: [0; 2],
            last_seq: [[0; 3]; 2],
            scaled: [[0; 3]; 2],
        }
    }
}

impl History {
    pub(super) fn as_str(&self) -> &str {
        let letters = self.letters.get(..usize::from(self.len)).unwrap_or(&[]);
        // Only ASCII letters are ever pushed.
        std::str::from_utf8(letters).unwrap_or("")
    }

    /// The flag letters of one packet (Zeek's `update_history`). `len` is the payload length.
    pub(super) fn packet(&mut self, dir: Dir, flags: TcpFlags, seq: u32, len: u32) {
        let (syn, fin, rst) = (flags.is_syn(), flags.is_fin(), flags.is_rst());
        match u8::from(syn) + u8::from(fin) + u8::from(rst) {
            0 if len > 0 => {
                self.once(dir, Once::Data, b'D');
            }
            0 if flags.is_ack() => {
                self.once(dir, Once::Ack, b'A');
            }
            0 => {}
            1 if syn => {
                let letter = if flags.is_ack() { b'H' } else { b'S' };
                self.repeat_on_new_seq(dir, Repeating::Syn, letter, seq);
            }
            1 if fin => {
                // A FIN's own sequence number comes after the data it carries.
                let fin_seq = seq.wrapping_add(len);
                self.repeat_on_new_seq(dir, Repeating::Fin, b'F', fin_seq);
            }
            1 => {
                self.repeat_on_new_seq(dir, Repeating::Rst, b'R', seq);
            }
            _ if fin && rst => {
                self.once(dir, Once::FinRst, b'I');
            }
            _ => {
                self.once(dir, Once::MultiFlag, b'Q');
            }
        }
    }

    /// Counts `n` more occurrences of `kind`, adding its letter at counts 1, 10, 100, ...
    pub(super) fn scaled(&mut self, dir: Dir, kind: Scaled, n: u32) {
        if n == 0 {
            return; // the common case, called for every segment
        }
        let count = &mut self.scaled[dir.index()][kind as usize];
        let (before, after) = (*count, count.saturating_add(n));
        *count = after;
        let crossed = POWERS_OF_TEN
            .iter()
            .filter(|&&p| before < p && p <= after)
            .count();
        for _ in 0..crossed {
            self.push(dir, kind.letter());
        }
    }

    /// Zeek's test for RSTOS0: the history starts with the originator's `S` and the originator's
    /// `R` comes before any of its `H A F G I Q` (the regex `^S[^HAFGIQ]*R`).
    pub(super) fn is_syn_then_rst(&self) -> bool {
        let mut letters = self.as_str().bytes();
        if letters.next() != Some(b'S') {
            return false;
        }
        for letter in letters {
            match letter {
                b'R' => return true,
                b'H' | b'A' | b'F' | b'G' | b'I' | b'Q' => return false,
                _ => {}
            }
        }
        false
    }

    /// Adds `letter` the first time this kind is seen in `dir`. Returns whether it had been seen.
    fn once(&mut self, dir: Dir, kind: Once, letter: u8) -> bool {
        let seen = &mut self.seen[dir.index()];
        if *seen & kind as u8 != 0 {
            return true;
        }
        *seen |= kind as u8;
        self.push(dir, letter);
        false
    }

    /// Zeek's rule for S/H/F/R: the first time, and again whenever the sequence number differs
    /// from the last packet with that flag.
    fn repeat_on_new_seq(&mut self, dir: Dir, kind: Repeating, letter: u8, seq: u32) {
        let seen_before = self.once(dir, kind.once(), letter);
        let last = &mut self.last_seq[dir.index()][kind as usize];
        let repeat = seen_before && *last != seq;
        *last = seq;
        if repeat {
            self.push(dir, letter);
        }
    }

    fn push(&mut self, dir: Dir, letter: u8) {
        let letter = match dir {
            Dir::ToServer => letter.to_ascii_uppercase(),
            Dir::ToClient => letter.to_ascii_lowercase(),
        };
        if let Some(slot) = self.letters.get_mut(usize::from(self.len)) {
            *slot = letter;
            self.len += 1;
        }
    }
}

const POWERS_OF_TEN: [u32; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: TcpFlags = TcpFlags::SYN;
    const ACK: TcpFlags = TcpFlags::ACK;
    const FIN: TcpFlags = TcpFlags::FIN;
    const RST: TcpFlags = TcpFlags::RST;
    const C: Dir = Dir::ToServer;
    const S: Dir = Dir::ToClient;

    #[test]
    fn an_ordinary_session_reads_like_zeek() {
        let mut h = History::default();
        h.packet(C, SYN, 100, 0);
        h.packet(S, SYN | ACK, 900, 0);
        h.packet(C, ACK, 101, 0);
        h.packet(C, ACK, 101, 5);
        h.packet(S, ACK, 901, 0);
        h.packet(S, ACK, 901, 7);
        h.packet(C, ACK, 106, 5); // more data: D only once
        h.packet(C, FIN | ACK, 111, 0);
        h.packet(S, FIN | ACK, 908, 0);
        h.packet(C, ACK, 112, 0);
        assert_eq!(h.as_str(), "ShADadFf");
    }

    #[test]
    fn syn_fin_rst_repeat_only_with_a_new_sequence_number() {
        let mut h = History::default();
        h.packet(C, SYN, 100, 0);
        h.packet(C, SYN, 100, 0); // retransmitted SYN: same seq
        h.packet(C, SYN, 555, 0); // a new attempt
        h.packet(C, RST, 556, 0);
        h.packet(C, RST, 556, 0);
        h.packet(C, RST, 600, 0);
        assert_eq!(h.as_str(), "SSRR");
        // A FIN's number is after its data: same FIN retransmitted with or without the data.
        let mut h = History::default();
        h.packet(S, FIN | ACK, 10, 5);
        h.packet(S, FIN | ACK, 15, 0);
        h.packet(S, FIN | ACK, 20, 0);
        assert_eq!(h.as_str(), "ff");
    }

    #[test]
    fn multi_flag_packets_are_q_or_i_once() {
        let mut h = History::default();
        h.packet(C, SYN | FIN, 1, 0);
        h.packet(C, SYN | RST, 1, 0);
        h.packet(S, FIN | RST | ACK, 1, 0);
        h.packet(S, FIN | RST, 1, 0);
        assert_eq!(h.as_str(), "Qi");
        // FIN with data is only F; a packet with no flags and no data adds nothing.
        let mut h = History::default();
        h.packet(C, FIN | ACK, 1, 10);
        h.packet(C, TcpFlags::empty(), 1, 0);
        assert_eq!(h.as_str(), "F");
    }

    #[test]
    fn scaled_letters_appear_at_powers_of_ten() {
        let mut h = History::default();
        for _ in 0..9 {
            h.scaled(C, Scaled::Retransmission, 1);
        }
        assert_eq!(h.as_str(), "T");
        h.scaled(C, Scaled::Retransmission, 1);
        assert_eq!(h.as_str(), "TT");
        h.scaled(S, Scaled::Gap, 150); // crosses 1, 10 and 100 at once
        assert_eq!(h.as_str(), "TTggg");
        h.scaled(S, Scaled::ZeroWindow, 1);
        assert_eq!(h.as_str(), "TTgggw");
    }

    #[test]
    fn history_is_capped() {
        let mut h = History::default();
        for seq in 0..100 {
            h.packet(C, SYN, seq, 0);
        }
        assert_eq!(h.as_str().len(), CAPACITY);
        assert!(h.as_str().bytes().all(|b| b == b'S'));
    }

    #[test]
    fn rstos0_pattern() {
        let mut h = History::default();
        h.packet(C, SYN, 1, 0);
        h.packet(C, RST, 2, 0);
        assert!(h.is_syn_then_rst());
        let mut h = History::default();
        h.packet(C, SYN, 1, 0);
        h.packet(C, ACK, 2, 0);
        h.packet(C, RST, 2, 0);
        assert!(!h.is_syn_then_rst(), "an A from the originator first");
        let mut h = History::default();
        h.packet(C, SYN, 1, 0);
        h.packet(S, RST, 2, 0); // lowercase r does not count
        assert!(!h.is_syn_then_rst());
    }
}
