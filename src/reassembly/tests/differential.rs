//! Differential property test: what one connection delivers against a reference model that only
//! knows which stream bytes were received at all.
//!
//! # The cases
//!
//! Each direction sends a random stream (none in 1 case out of 6): up to 64 pieces of 1 to 200
//! bytes, so at most 12,800 bytes, after a handshake with random initial sequence numbers, half
//! of them at most 4,096 below 2^32 so that the stream crosses it. A piece is sent or lost (no
//! loss, 5% or 30% per direction) and may be repeated once or twice: exactly, or re-cut with its
//! ends moved by up to 256 bytes (clipped to the stream), so that the copy overlaps earlier and
//! later pieces or covers part of its own, always with the stream's own bytes. Every
//! transmission is delayed by a random number of slots (none, up to 8, or up to 160), which
//! reorders them across both directions; each side's FIN (in half the cases) and up to 24 pure
//! ACKs go at random slots. Then `finish`. At most 192 transmissions of at most 712 bytes per
//! direction: within the default `Limits` (2,048 held segments, 1 MiB held, 64 KiB kept
//! unacknowledged), so the first property never hits a cap.
//!
//! # The model
//!
//! `carried[i]`: some transmission includes byte `i` of the stream. A *hole* is a maximal run of
//! bytes no transmission includes that is followed by a carried byte, or that ends the stream
//! of a direction whose FIN was sent.
//!
//! ACKs are lawful: an ACK passes only bytes of which every carried one has already arrived at
//! least once (a receiver acknowledges what it got; a byte no segment carries is one the capture
//! missed). Each ACK goes as far as that allows, or a random share of it; data and FIN segments
//! carry their sender's latest ACK. A segment then never arrives for a range already given up, so
//! the expected output needs no timing:
//! - every carried byte is delivered exactly once, with its value, in stream order;
//! - every hole is exactly one `Gap` of its length at its offset; bytes after the last carried
//!   byte of a direction without FIN are not delivered at all (nothing follows them);
//! - a hole becomes a gap as segments come (not at `finish`) exactly when the peer's highest ACK
//!   passes the first carried byte after it (offset `1 + q` for byte `q`: offset 0 is the SYN).
//!   That is tshark's rule: an ACK releases a hole when it passes the start of held data beyond
//!   it, and the segment starting at `q` is held then, since no carried byte is before it in the
//!   hole. So everything before the first hole not so passed comes out as segments come, the
//!   rest (that hole, the holes and data after it, the hole before a FIN) at `finish`.
//!
//! Copies carry equal bytes, so no segment is ever flagged `OVERLAP_CONFLICT`.
//!
//! # The properties
//!
//! 1. With the default limits, both directions match the model exactly (including which part
//!    comes at `finish`), and the counters match the output.
//! 2. With tiny caps (out-of-order store of 0 to 12 segments and 0 to 2,000 bytes, 0 to 4,000
//!    bytes kept unacknowledged) the caps hold after every segment, and each direction's output
//!    is still consistent: every delivered byte is a carried one with its value at its offset,
//!    everything else up to the same end is gaps, nothing is delivered twice, counters match
//!    (cap flushes as flagged, unacknowledged bytes released as they must be, none at
//!    `finish`), and a direction that never hit a cap matches the model exactly.

use super::random::Rng;
use super::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use std::ops::Range;

const MAX_PIECES: usize = 64;
const MAX_PIECE_LEN: usize = 200;
const MAX_SHIFT: i64 = 256;
const MAX_DELAY: usize = 160;
/// Slots a FIN or a pure ACK may take: as far as the last delayed transmission.
const LAST_SLOT: usize = MAX_PIECES + MAX_DELAY;

/// A repeat of a piece's bytes: its range with the ends moved by `from` and `to` (clipped to
/// the stream; 0 and 0 is an exact duplicate), sent `delay` slots after the piece's own slot.
#[derive(Clone, Debug)]
struct Repeat {
    from: i64,
    to: i64,
    delay: usize,
}

/// One piece of a stream as first cut: `len` bytes, sent (or lost) `delay` slots late, and its
/// repeats. Piece `i` has slot `i`.
#[derive(Clone, Debug)]
struct Piece {
    len: usize,
    sent: bool,
    delay: usize,
    repeats: Vec<Repeat>,
}

/// A pure ACK of the peer's stream at `slot`, reaching `reach / u16::MAX` of the way to the
/// furthest lawful ACK.
#[derive(Clone, Debug)]
struct AckPlan {
    slot: usize,
    reach: u16,
}

/// What one endpoint sends.
#[derive(Clone, Debug)]
struct Endpoint {
    isn: u32,
    /// The stream's bytes come from this seed; its length is the pieces'.
    seed: u64,
    pieces: Vec<Piece>,
    fin_slot: Option<usize>,
    acks: Vec<AckPlan>,
}

/// The client's and the server's plans, in `Dir::index` order.
type Scenario = [Endpoint; 2];

fn delay() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0), 2 => 0..8usize, 1 => 0..=MAX_DELAY]
}

fn repeat() -> impl Strategy<Value = Repeat> {
    let shift = || prop_oneof![Just(0i64), -MAX_SHIFT..=MAX_SHIFT];
    (shift(), shift(), delay()).prop_map(|(from, to, delay)| Repeat { from, to, delay })
}

fn piece(loss: f64) -> impl Strategy<Value = Piece> {
    (
        prop_oneof![1..=16usize, 1..=MAX_PIECE_LEN],
        prop::bool::weighted(1.0 - loss),
        delay(),
        prop_oneof![5 => Just(Vec::new()), 1 => vec(repeat(), 1..=2)],
    )
        .prop_map(|(len, sent, delay, repeats)| Piece {
            len,
            sent,
            delay,
            repeats,
        })
}

fn pieces() -> impl Strategy<Value = Vec<Piece>> {
    prop_oneof![
        1 => Just(Vec::new()),
        5 => prop_oneof![Just(0.0), Just(0.05), Just(0.3)]
            .prop_flat_map(|loss| vec(piece(loss), 1..=MAX_PIECES)),
    ]
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    let isn = prop_oneof![any::<u32>(), (0..=4096u32).prop_map(|back| u32::MAX - back)];
    let ack = (0..=LAST_SLOT, prop_oneof![Just(u16::MAX), any::<u16>()])
        .prop_map(|(slot, reach)| AckPlan { slot, reach });
    (
        isn,
        any::<u64>(),
        pieces(),
        prop::option::of(0..=LAST_SLOT),
        vec(ack, 0..=24),
    )
        .prop_map(|(isn, seed, pieces, fin_slot, acks)| Endpoint {
            isn,
            seed,
            pieces,
            fin_slot,
            acks,
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    [endpoint(), endpoint()]
}

/// Caps small enough to be hit all the time.
fn tiny_limits() -> impl Strategy<Value = Limits> {
    (0..=2000usize, 0..=12usize, 0..=4000usize).prop_map(|(bytes, segments, unacked)| Limits {
        max_buffered_bytes: bytes,
        max_buffered_segments: segments,
        max_unacked_bytes: unacked,
    })
}

impl Endpoint {
    fn stream(&self) -> Vec<u8> {
        let len = self.pieces.iter().map(|piece| piece.len).sum();
        let mut rng = Rng(self.seed | 1); // xorshift stays at 0 from 0
        (0..len).map(|_| rng.next() as u8).collect()
    }

    /// Every transmission of stream bytes, with its slot.
    fn transmissions(&self, len: usize) -> Vec<(usize, Range<usize>)> {
        let clip = |at: i64| usize::try_from(at).unwrap_or(0).min(len);
        let mut out = Vec::new();
        let mut start = 0;
        for (slot, piece) in self.pieces.iter().enumerate() {
            let end = start + piece.len;
            if piece.sent {
                out.push((slot + piece.delay, start..end));
            }
            for repeat in &piece.repeats {
                let copy = clip(start as i64 + repeat.from)..clip(end as i64 + repeat.to);
                if !copy.is_empty() {
                    out.push((slot + repeat.delay, copy));
                }
            }
            start = end;
        }
        out
    }
}

/// One step of the timeline after the handshake.
enum Event {
    Data(Dir, Range<usize>),
    Fin(Dir),
    /// A pure ACK sent in `Dir` (of the other direction's stream).
    Ack(Dir, u16),
}

/// Every event of both endpoints, by slot (at equal slots in the order made).
fn timeline(scenario: &Scenario, models: &[Model; 2]) -> Vec<Event> {
    let mut events = Vec::new();
    for dir in Dir::BOTH {
        let plan = &scenario[dir.index()];
        let len = models[dir.index()].stream.len();
        for (slot, range) in plan.transmissions(len) {
            events.push((slot, Event::Data(dir, range)));
        }
        if let Some(slot) = plan.fin_slot {
            events.push((slot, Event::Fin(dir)));
        }
        for ack in &plan.acks {
            events.push((ack.slot, Event::Ack(dir, ack.reach)));
        }
    }
    events.sort_by_key(|(slot, _)| *slot);
    events.into_iter().map(|(_, event)| event).collect()
}

/// One direction as the model sees it: which bytes some transmission carries, and, while the
/// scenario plays, which arrived and how far the peer acknowledged.
struct Model {
    isn: u32,
    stream: Vec<u8>,
    carried: Vec<bool>,
    fin: bool,
    arrived: Vec<bool>,
    /// The lowest carried byte that has not arrived yet (the stream's length if none).
    first_missing: usize,
    fin_arrived: bool,
    /// End of the highest bytes sent so far (the sequence number of a pure ACK).
    sent_end: usize,
    /// The peer's highest ACK, as an offset (1: the SYN).
    peer_ack: u64,
}

impl Model {
    fn new(plan: &Endpoint) -> Model {
        let stream = plan.stream();
        let mut carried = vec![false; stream.len()];
        for (_, range) in plan.transmissions(stream.len()) {
            carried[range].fill(true);
        }
        let mut model = Model {
            isn: plan.isn,
            carried,
            fin: plan.fin_slot.is_some(),
            arrived: vec![false; stream.len()],
            first_missing: 0,
            fin_arrived: false,
            sent_end: 0,
            peer_ack: 1,
            stream,
        };
        model.advance_first_missing();
        model
    }

    /// Sequence number of stream byte `at` (the FIN's for the stream's length).
    fn seq(&self, at: usize) -> u32 {
        self.isn.wrapping_add(1).wrapping_add(at as u32)
    }

    fn arrive(&mut self, range: Range<usize>) {
        self.sent_end = self.sent_end.max(range.end);
        self.arrived[range].fill(true);
        self.advance_first_missing();
    }

    fn advance_first_missing(&mut self) {
        while self.first_missing < self.stream.len()
            && (self.arrived[self.first_missing] || !self.carried[self.first_missing])
        {
            self.first_missing += 1;
        }
    }

    /// A lawful ACK (an offset) `reach / u16::MAX` of the way to the furthest one: offset
    /// `1 + first_missing`, or past the FIN once everything carried and the FIN arrived.
    fn lawful_ack(&self, reach: u16) -> u64 {
        let all_arrived = self.first_missing == self.stream.len();
        let furthest = 1 + self.first_missing as u64 + u64::from(all_arrived && self.fin_arrived);
        1 + (furthest - 1) * u64::from(reach) / u64::from(u16::MAX)
    }

    /// Where the delivered stream ends: at the FIN if one was sent, else after the last
    /// carried byte.
    fn end(&self) -> usize {
        if self.fin {
            return self.stream.len();
        }
        self.carried
            .iter()
            .rposition(|&c| c)
            .map_or(0, |last| last + 1)
    }

    /// The output the model expects: carried bytes as data, holes as gaps, those delivered as
    /// segments come first, then those delivered at `finish`.
    fn expected(&self) -> [Vec<Run>; 2] {
        let mut runs: Vec<Run> = Vec::new();
        for at in 0..self.end() {
            let carried = self.carried[at];
            match runs.last_mut() {
                Some(Run::Data(r)) if carried => r.end += 1,
                Some(Run::Gap(r)) if !carried => r.end += 1,
                _ if carried => runs.push(Run::Data(at..at + 1)),
                _ => runs.push(Run::Gap(at..at + 1)),
            }
        }
        // Offset of byte q is 1 + q; a hole ending the stream has no byte after it.
        let acked_past = |hole: &Range<usize>| {
            hole.end < self.stream.len() && self.peer_ack > 1 + hole.end as u64
        };
        let first_at_finish = runs
            .iter()
            .position(|run| matches!(run, Run::Gap(hole) if !acked_past(hole)))
            .unwrap_or(runs.len());
        let at_finish = runs.split_off(first_at_finish);
        [runs, at_finish]
    }
}

/// Stream positions delivered as data, or given up as one gap.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Run {
    Data(Range<usize>),
    Gap(Range<usize>),
}

impl Run {
    fn range(&self) -> &Range<usize> {
        match self {
            Run::Data(r) | Run::Gap(r) => r,
        }
    }
}

/// A scenario played through one connection.
struct Played {
    wire: Wire,
    models: [Model; 2],
    /// Segments flagged `CAP_FLUSH`, by the direction they were sent in.
    cap_flush_segments: [u64; 2],
    /// Delivered bytes still kept unacknowledged just before `finish`, both directions.
    unacked_at_finish: usize,
    /// Deliveries made before the connection went past its stream depth.
    out_at_depth: Option<usize>,
}

/// Plays `scenario`; with `depth` the connection goes past its stream depth
/// ([`TcpConn::stop_payload`]) before the transmission of that index.
fn play(
    scenario: &Scenario,
    limits: Limits,
    depth: Option<usize>,
) -> Result<Played, TestCaseError> {
    let mut models = Dir::BOTH.map(|dir| Model::new(&scenario[dir.index()]));
    let events = timeline(scenario, &models);
    let mut wire = Wire::with_limits(limits);
    let [client, server] = [&models[C.index()], &models[S.index()]];
    wire.send(C, client.isn, 0, SYN, b"");
    wire.send(S, server.isn, client.seq(0), SYN | ACK, b"");
    wire.send(C, client.seq(0), server.seq(0), ACK, b"");

    // What each endpoint acknowledges of its peer's stream, as an offset.
    let mut acking = [1u64; 2];
    let mut cap_flush_segments = [0; 2];
    let mut out_at_depth = None;
    for (i, event) in events.into_iter().enumerate() {
        if depth == Some(i) {
            wire.conn.stop_payload();
            out_at_depth = Some(wire.out.len());
        }
        let dir = match event {
            Event::Data(dir, _) | Event::Fin(dir) | Event::Ack(dir, _) => dir,
        };
        let (me, peer) = (dir.index(), dir.reverse().index());
        if let Event::Ack(_, reach) = event {
            acking[me] = models[peer].lawful_ack(reach);
            models[peer].peer_ack = models[peer].peer_ack.max(acking[me]);
        }
        let ack = models[peer].isn.wrapping_add(acking[me] as u32);
        let info = match event {
            Event::Data(_, range) => {
                models[me].arrive(range.clone());
                let model = &models[me];
                let seq = model.seq(range.start);
                wire.send(dir, seq, ack, PSH_ACK, &model.stream[range])
            }
            Event::Fin(_) => {
                models[me].fin_arrived = true;
                let fin_at = models[me].seq(models[me].stream.len());
                wire.send(dir, fin_at, ack, FIN | ACK, b"")
            }
            Event::Ack(..) => wire.send(dir, models[me].seq(models[me].sent_end), ack, ACK, b""),
        };
        cap_flush_segments[me] += u64::from(info.contains(SegmentInfo::CAP_FLUSH));
        // The caps are per direction; the connection reports both together.
        prop_assert!(wire.conn.buffered_bytes() <= 2 * limits.max_buffered_bytes);
        prop_assert!(wire.conn.unacked_bytes() <= 2 * limits.max_unacked_bytes);
    }
    let unacked_at_finish = wire.conn.unacked_bytes();
    let released = |conn: &TcpConn| Dir::BOTH.map(|d| conn.counters(d).unacked_released_bytes);
    let released_before_finish = released(&wire.conn);
    wire.finish();
    prop_assert_eq!(wire.conn.held_bytes(), 0);
    // No copy can come after the end: nothing that leaves the unacknowledged copy then is a
    // release (one would show as a limit hit).
    prop_assert_eq!(released(&wire.conn), released_before_finish);
    Ok(Played {
        wire,
        models,
        cap_flush_segments,
        unacked_at_finish,
        out_at_depth,
    })
}

/// What the connection delivered for `dir`, as runs (adjacent data merged), those delivered as
/// segments came, then those at `finish`. Checks every chunk on the way: not empty, inside the
/// stream, and data that is carried bytes with their values at their offsets.
fn delivered(played: &Played, dir: Dir) -> Result<[Vec<Run>; 2], TestCaseError> {
    let model = &played.models[dir.index()];
    let len = model.stream.len();
    let mut at = 0;
    let mut parts = [Vec::new(), Vec::new()];
    for (runs, chunks) in parts
        .iter_mut()
        .zip([&played.wire.out, &played.wire.finished])
    {
        for (_, chunk) in chunks.iter().filter(|(d, _)| *d == dir) {
            let n = match chunk {
                Chunk::Data(bytes) => bytes.len(),
                Chunk::Gap(n) => usize::try_from(*n).unwrap_or(usize::MAX),
            };
            prop_assert!(
                n > 0 && n <= len - at,
                "{dir:?}: {n} bytes at {at} of {len}"
            );
            let range = at..at + n;
            match chunk {
                Chunk::Data(bytes) => {
                    prop_assert!(
                        model.carried[range.clone()].iter().all(|&c| c),
                        "{dir:?}: data at {range:?} that no segment carried"
                    );
                    prop_assert!(
                        model.stream[range.clone()] == bytes[..],
                        "{dir:?}: wrong bytes at {range:?}"
                    );
                    match runs.last_mut() {
                        Some(Run::Data(before)) => before.end = range.end,
                        _ => runs.push(Run::Data(range.clone())),
                    }
                }
                Chunk::Gap(_) => runs.push(Run::Gap(range.clone())),
            }
            at = range.end;
        }
    }
    Ok(parts)
}

/// Checks what every scenario must satisfy, whatever the caps; a direction that hit no cap must
/// match the model exactly.
fn check(played: &Played) -> Result<(), TestCaseError> {
    let mut released = 0;
    let mut never_acked = 0;
    for dir in Dir::BOTH {
        let model = &played.models[dir.index()];
        let counters = played.wire.conn.counters(dir);
        let runs = delivered(played, dir)?;
        let (mut data, mut gaps, mut gap_bytes, mut end) = (0, 0, 0, 0);
        for run in runs.iter().flatten() {
            match run {
                Run::Data(r) => data += r.len(),
                Run::Gap(r) => (gaps, gap_bytes) = (gaps + 1, gap_bytes + r.len()),
            }
            end = run.range().end;
        }
        prop_assert_eq!(end, model.end(), "{:?}: where the output ends", dir);
        prop_assert_eq!(counters.delivered_bytes, data as u64);
        prop_assert_eq!(
            (counters.gaps, counters.gap_bytes),
            (gaps, gap_bytes as u64)
        );
        prop_assert_eq!(counters.overlap_conflicts, 0, "equal bytes never conflict");
        prop_assert_eq!(counters.cap_flushes, played.cap_flush_segments[dir.index()]);
        prop_assert!(counters.unacked_released_bytes <= data as u64);
        released += counters.unacked_released_bytes;
        // Bytes delivered as segments came, at or after the peer's highest ACK (offset 1 + i).
        let acked = usize::try_from(model.peer_ack - 1).unwrap_or(usize::MAX);
        for run in &runs[0] {
            if let Run::Data(r) = run {
                never_acked += r.end - r.start.max(acked).min(r.end);
            }
        }
        if counters.cap_flushes == 0 {
            prop_assert_eq!(runs, model.expected(), "{:?}", dir);
        }
    }
    prop_assert!(
        released + played.unacked_at_finish as u64 >= never_acked as u64,
        "bytes never acknowledged are still kept before `finish`, or counted as released"
    );
    prop_assert!(
        !played
            .wire
            .infos
            .iter()
            .any(|info| info.contains(SegmentInfo::OVERLAP_CONFLICT))
    );
    Ok(())
}

/// `cases` per run. Failing cases found are kept beside this file (the top level of the
/// repository is fixed) and replayed first on every run.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn reassembly_matches_the_model(scenario in scenario()) {
        let played = play(&scenario, Limits::default(), None)?;
        for dir in Dir::BOTH {
            prop_assert_eq!(played.wire.conn.counters(dir).cap_flushes, 0, "within the caps");
        }
        check(&played)?;
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn output_stays_consistent_when_tiny_caps_are_hit(
        scenario in scenario(),
        limits in tiny_limits(),
    ) {
        check(&play(&scenario, limits, None)?)?;
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Past the stream depth nothing more is delivered, and everything else comes out as if
    /// the bytes were still copied: the flags of every segment, the counters, Zeek's view.
    #[test]
    fn past_the_stream_depth_only_the_deliveries_stop(
        scenario in scenario(),
        at in 0..2 * (MAX_PIECES + 24),
        limits in prop_oneof![Just(Limits::default()), tiny_limits()],
    ) {
        let full = play(&scenario, limits, None)?;
        let cut = play(&scenario, limits, Some(at))?;
        let delivered = cut.out_at_depth;
        let (full, cut) = (&full.wire, &cut.wire);
        prop_assert_eq!(&full.infos, &cut.infos);
        for dir in Dir::BOTH {
            let (mut a, mut b) = (full.conn.counters(dir).clone(), cut.conn.counters(dir).clone());
            // Bytes awaiting their ACK are dropped at the depth, not released one by one.
            a.unacked_released_bytes = 0;
            b.unacked_released_bytes = 0;
            prop_assert_eq!(a, b);
        }
        prop_assert_eq!(full.conn.state(), cut.conn.state());
        prop_assert_eq!(full.conn.history(), cut.conn.history());
        match delivered {
            Some(n) => {
                prop_assert_eq!(&cut.out[..], &full.out[..n]);
                prop_assert!(cut.finished.is_empty());
                prop_assert_eq!(cut.conn.held_memory(), 0, "nothing held after finish");
            }
            // The depth came after the last transmission.
            None => prop_assert_eq!(&cut.out, &full.out),
        }
    }
}

/// The generator makes what the doc comment promises, in useful amounts: holes released by an
/// ACK and at `finish`, overlapping copies, streams across 2^32, one-way connections, cap
/// flushes with tiny caps.
#[test]
fn the_cases_cover_the_hostile_mix() {
    let mut runner = TestRunner::deterministic();
    let cases = 400;
    let mut seen = [0; 6];
    for _ in 0..cases {
        let scenario = scenario()
            .new_tree(&mut runner)
            .expect("scenario")
            .current();
        let limits = tiny_limits()
            .new_tree(&mut runner)
            .expect("limits")
            .current();
        let played = play(&scenario, Limits::default(), None).expect("plays");
        let capped = play(&scenario, limits, None).expect("plays");
        let gap_in =
            |chunks: &[(Dir, Chunk)]| chunks.iter().any(|(_, c)| matches!(c, Chunk::Gap(_)));
        let facts = [
            gap_in(&played.wire.out),
            gap_in(&played.wire.finished),
            played
                .wire
                .infos
                .iter()
                .any(|i| i.contains(SegmentInfo::OVERLAP)),
            played
                .models
                .iter()
                .any(|m| !m.stream.is_empty() && m.seq(m.stream.len() - 1) < m.seq(0)),
            played.models.iter().any(|m| m.stream.is_empty()),
            Dir::BOTH
                .iter()
                .any(|&d| capped.wire.conn.counters(d).cap_flushes > 0),
        ];
        for (count, fact) in seen.iter_mut().zip(facts) {
            *count += u32::from(fact);
        }
    }
    // ACK-released, at finish, overlaps, across 2^32, one way, cap flushes.
    assert!(seen.iter().all(|&n| n >= cases / 10), "{seen:?} of {cases}");
}
