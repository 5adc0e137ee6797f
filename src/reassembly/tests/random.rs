//! Randomised streams: known bytes cut with a random MSS, repeated, re-cut into overlapping
//! retransmissions and shuffled must come out exactly as sent (gaps only where the test forces
//! them, at the right offsets); arbitrary segments must never panic or outgrow the caps.

use super::*;

/// xorshift64*: small, deterministic, good enough to shuffle segments.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability 1/n.
    pub(super) fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// What one transmission carries: stream bytes `start..end` (0-based), the last `cut` of them
/// cut off by the snaplen.
#[derive(Clone, Copy, Debug)]
struct Piece {
    start: usize,
    end: usize,
    cut: usize,
}

/// How hostile one scenario is.
#[derive(Clone, Copy)]
struct Mix {
    /// Snaplen-truncated copies (their missing bytes may end up as gaps).
    truncate: bool,
    /// ACKs past bytes not yet seen (the receiver got them, the capture did not yet).
    ack_ahead: bool,
    limits: Limits,
}

/// Sends a random stream through a connection and checks what comes out of the client side.
/// Returns the gap bytes delivered.
fn run_scenario(rng: &mut Rng, mix: Mix) -> u64 {
    let isn = if rng.one_in(3) {
        u32::MAX - rng.below(4096) as u32 // crosses 2^32
    } else {
        rng.next() as u32
    };
    let mss = 1 + rng.below(300) as usize;
    // At most ~1500 transmissions: within the default cap of 2048 held segments.
    let len = 1 + rng.below(4000.min(1000 * mss as u64)) as usize;
    let stream: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    let mut pieces = cut(rng, len, mss, mix.truncate);
    shuffle(rng, &mut pieces);

    let mut conn = TcpConn::new(mix.limits);
    let mut got: Vec<Chunk> = Vec::new();
    let mut ms = 0i64;
    let mut send =
        |conn: &mut TcpConn, got: &mut Vec<Chunk>, dir, seq, ack, flags, payload: &[u8], cut| {
            ms += 1;
            let seg = Segment {
                ts: Timestamp::from_nanos(ms * 1_000_000),
                seq,
                ack,
                flags,
                window: 1000,
                payload,
                truncated: cut,
            };
            conn.segment(dir, &seg, &mut |d, delivery| {
                if d == C {
                    got.push(owned(delivery));
                }
            });
        };
    let server_isn = rng.next() as u32;
    send(&mut conn, &mut got, C, isn, 0, SYN, b"", 0);
    send(
        &mut conn,
        &mut got,
        S,
        server_isn,
        isn.wrapping_add(1),
        SYN | ACK,
        b"",
        0,
    );
    let fin_at = isn.wrapping_add(1).wrapping_add(len as u32);
    let fin_slot = rng.below(pieces.len() as u64 + 1) as usize;
    for (i, piece) in pieces.iter().enumerate() {
        if i == fin_slot {
            send(
                &mut conn,
                &mut got,
                C,
                fin_at,
                server_isn.wrapping_add(1),
                FIN | ACK,
                b"",
                0,
            );
        }
        let seq = isn.wrapping_add(1).wrapping_add(piece.start as u32);
        let payload = &stream[piece.start..piece.end - piece.cut];
        send(
            &mut conn,
            &mut got,
            C,
            seq,
            server_isn.wrapping_add(1),
            PSH_ACK,
            payload,
            piece.cut as u32,
        );
        if mix.ack_ahead && rng.one_in(4) {
            let ack = isn
                .wrapping_add(1)
                .wrapping_add(rng.below(len as u64 + 2) as u32);
            send(
                &mut conn,
                &mut got,
                S,
                server_isn.wrapping_add(1),
                ack,
                ACK,
                b"",
                0,
            );
        }
        assert!(conn.buffered_bytes() <= mix.limits.max_buffered_bytes);
    }
    if fin_slot == pieces.len() {
        send(
            &mut conn,
            &mut got,
            C,
            fin_at,
            server_isn.wrapping_add(1),
            FIN | ACK,
            b"",
            0,
        );
    }
    conn.finish(&mut |d, delivery| {
        if d == C {
            got.push(owned(delivery));
        }
    });
    assert_eq!(conn.buffered_bytes(), 0);

    // Every delivered byte sits at its offset in the original; data and gaps cover it exactly.
    let mut at = 0usize;
    let mut gap_bytes = 0u64;
    for chunk in &got {
        match chunk {
            Chunk::Data(bytes) => {
                assert_eq!(
                    Some(&bytes[..]),
                    stream.get(at..at + bytes.len()),
                    "data at {at}"
                );
                at += bytes.len();
            }
            Chunk::Gap(n) => {
                at += *n as usize;
                gap_bytes += n;
            }
        }
    }
    assert_eq!(at, len, "data and gaps must cover the stream exactly once");
    let counters = conn.counters(C);
    assert_eq!(counters.delivered_bytes + counters.gap_bytes, len as u64);
    assert_eq!(counters.gap_bytes, gap_bytes);
    gap_bytes
}

/// The stream cut at `mss`, plus repeats: exact duplicates and re-cut copies overlapping
/// neighbours (some truncated if `truncate`).
fn cut(rng: &mut Rng, len: usize, mss: usize, truncate: bool) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < len {
        let end = (start + mss).min(len);
        pieces.push(Piece { start, end, cut: 0 });
        if rng.one_in(5) {
            pieces.push(Piece { start, end, cut: 0 });
        }
        if rng.one_in(4) {
            let from = start.saturating_sub(rng.below(mss as u64) as usize);
            let to = (end + rng.below(2 * mss as u64) as usize).min(len);
            let cut = if truncate && rng.one_in(2) {
                rng.below((to - from) as u64 + 1) as usize
            } else {
                0
            };
            pieces.push(Piece {
                start: from,
                end: to,
                cut,
            });
        }
        start = end;
    }
    pieces
}

/// A full shuffle, or (more often) local reordering within a small window.
fn shuffle(rng: &mut Rng, pieces: &mut [Piece]) {
    let n = pieces.len();
    if rng.one_in(4) {
        for i in (1..n).rev() {
            pieces.swap(i, rng.below(i as u64 + 1) as usize);
        }
    } else {
        let window = 1 + rng.below(6) as usize;
        for i in 0..n {
            let j = (i + rng.below(window as u64) as usize).min(n - 1);
            pieces.swap(i, j);
        }
    }
}

#[test]
fn shuffled_repeated_overlapping_segments_reproduce_the_stream_exactly() {
    let mut rng = Rng(0x5EED_0001);
    let mix = Mix {
        truncate: false,
        ack_ahead: false,
        limits: Limits::default(),
    };
    for _ in 0..3000 {
        assert_eq!(
            run_scenario(&mut rng, mix),
            0,
            "nothing is missing, so no gap"
        );
    }
}

#[test]
fn forced_gaps_land_at_the_right_offsets() {
    let mut rng = Rng(0x5EED_0002);
    let mut total_gaps = 0;
    for round in 0..3000 {
        let mix = Mix {
            truncate: round % 2 == 0,
            ack_ahead: round % 3 != 0,
            limits: Limits {
                max_buffered_bytes: rng.below(2000) as usize,
                max_buffered_segments: rng.below(12) as usize,
                ..Limits::default()
            },
        };
        total_gaps += run_scenario(&mut rng, mix);
    }
    assert!(total_gaps > 0, "the hostile mix must actually produce gaps");
}

#[test]
fn arbitrary_segments_never_panic_or_outgrow_the_caps() {
    let mut rng = Rng(0xF022_0003);
    let payload: Vec<u8> = (0..1500).map(|_| rng.next() as u8).collect();
    for _ in 0..1500 {
        let limits = Limits {
            max_buffered_bytes: rng.below(6000) as usize,
            max_buffered_segments: rng.below(20) as usize,
            max_unacked_bytes: rng.below(4000) as usize,
        };
        let mut conn = TcpConn::new(limits);
        let base = [rng.next() as u32, rng.next() as u32];
        let mut delivered = [0u64; 2];
        let mut ms = rng.below(1 << 40) as i64;
        for _ in 0..150 {
            let dir = if rng.one_in(2) { C } else { S };
            let near = |rng: &mut Rng, base: u32| {
                if rng.one_in(20) {
                    rng.next() as u32
                } else {
                    base.wrapping_add(rng.below(6000) as u32).wrapping_sub(3000)
                }
            };
            let seq = near(&mut rng, base[dir.index()]);
            let ack = near(&mut rng, base[dir.reverse().index()]);
            let len = if rng.one_in(3) {
                0
            } else {
                rng.below(payload.len() as u64 + 1) as usize
            };
            let truncated = match rng.below(10) {
                0 => rng.below(3000) as u32,
                1 => u32::MAX - rng.below(10) as u32,
                _ => 0,
            };
            ms += rng.below(5) as i64 - 1; // time may also step back
            let seg = Segment {
                ts: Timestamp::from_nanos(ms.saturating_mul(1_000_000)),
                seq,
                ack,
                flags: TcpFlags::from_bits_retain(rng.next() as u8),
                window: if rng.one_in(4) { 0 } else { rng.next() as u16 },
                payload: &payload[..len],
                truncated,
            };
            conn.segment(dir, &seg, &mut |d, delivery| match delivery {
                Delivery::Data(bytes) => delivered[d.index()] += bytes.len() as u64,
                Delivery::Gap(n) => delivered[d.index()] += n,
            });
            assert!(
                conn.buffered_bytes() <= 2 * (limits.max_buffered_bytes + limits.max_unacked_bytes)
            );
            assert!(conn.history().len() <= 32);
            let _ = conn.state();
        }
        conn.finish(&mut |d, delivery| match delivery {
            Delivery::Data(bytes) => delivered[d.index()] += bytes.len() as u64,
            Delivery::Gap(n) => delivered[d.index()] += n,
        });
        assert_eq!(conn.buffered_bytes(), 0);
        for dir in [C, S] {
            let counters = conn.counters(dir);
            assert_eq!(
                counters.delivered_bytes + counters.gap_bytes,
                delivered[dir.index()]
            );
        }
    }
}
