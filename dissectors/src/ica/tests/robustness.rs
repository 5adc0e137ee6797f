//! Any split of the bytes gives the same result; gaps and mid-stream pickups resynchronise or
//! stop cleanly; random and mutated input never panics and stays within bounds.

use super::session::{KEY, synthetic_session};
use super::*;
use crate::ANOMALY_EVENTS_PER_CODE;
use crate::ica::encode::{self, Pdcrypt1};
use crate::ica::init::MAX_INIT_PACKET;
use crate::ica::{DirState, Phase, TerminateReason};

/// Feeds the script with message `split.0` cut at offset `split.1` (both pieces get the
/// message's timestamp), then closes.
fn run_split(script: &[(Dir, Vec<u8>)], split: (usize, usize)) -> (Vec<AnyEvent>, Summary) {
    let mut d = Dissector::new(&context(true));
    let mut out = Vec::new();
    for (i, (dir, bytes)) in script.iter().enumerate() {
        let ts = Timestamp::from_secs(i as i64);
        if i == split.0 {
            let (a, b) = bytes.split_at(split.1);
            d.feed(*dir, a, ts, &mut out);
            d.feed(*dir, b, ts, &mut out);
        } else {
            d.feed(*dir, bytes, ts, &mut out);
        }
    }
    d.close(Timestamp::from_secs(script.len() as i64), &mut out);
    let summary = summary_of(&d);
    (out, summary)
}

/// Feeds every message one byte at a time.
fn run_bytewise(script: &[(Dir, Vec<u8>)]) -> (Vec<AnyEvent>, Summary) {
    let mut d = Dissector::new(&context(true));
    let mut out = Vec::new();
    for (i, (dir, bytes)) in script.iter().enumerate() {
        for b in bytes {
            d.feed(
                *dir,
                std::slice::from_ref(b),
                Timestamp::from_secs(i as i64),
                &mut out,
            );
        }
    }
    d.close(Timestamp::from_secs(script.len() as i64), &mut out);
    let summary = summary_of(&d);
    (out, summary)
}

fn assert_split_invariant(script: &Script) {
    let reference = run(script);
    for (m, (_, bytes)) in script.iter().enumerate() {
        for k in 1..bytes.len() {
            let split = run_split(script, (m, k));
            assert!(split == reference, "message {m} split at {k} differs");
        }
    }
    assert!(
        run_bytewise(script) == reference,
        "byte-wise feeding differs"
    );
}

#[test]
fn the_session_split_at_every_byte_gives_the_same_result() {
    let script = synthetic_session().script;
    assert_split_invariant(&script);
}

/// The synthetic session with the short messages padded to 6 bytes, as in the real capture.
fn padded_session() -> Script {
    let mut script = synthetic_session().script;
    for (_, bytes) in &mut script {
        if bytes.len() < 6 && matches!(bytes.first(), Some(0x02..=0x04)) {
            bytes.resize(6, 0);
        }
    }
    script
}

#[test]
fn the_padded_session_split_at_every_byte_gives_the_same_result() {
    let script = padded_session();
    let (out, summary) = run(&script);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    assert_eq!(summary.directions.to_server.padding_bytes, 3 + 1);
    assert_eq!(summary.directions.to_client.padding_bytes, 2);
    assert_eq!(summary.terminate, Some(TerminateReason::Logoff));
    assert_split_invariant(&script);
}

#[test]
fn switched_off_encryption_split_at_every_byte_gives_the_same_result() {
    // The padded session up to the client's key frame; then each side sends an encrypted
    // frame, switches PDCRYPT1 off, and sends a frame without header.
    let mut key_frame = encode::session_key_frame(KEY).to_vec();
    key_frame.resize(6, 0);
    let mut script: Script = padded_session()
        .into_iter()
        .take_while(|(_, b)| *b != key_frame)
        .collect();
    script.push((Dir::ToServer, key_frame));
    let (mut up, mut down) = (Pdcrypt1::new(KEY), Pdcrypt1::new(KEY));
    let literal = |commands: Vec<u8>| encode::literal_block(&commands).unwrap();
    script.extend(
        [
            (
                Dir::ToServer,
                up.frame(&encode::command(0x0A, b"a").unwrap()),
            ),
            (
                Dir::ToClient,
                down.frame(&literal(encode::virtual_write(9, &[0x21; 30]).unwrap())),
            ),
            (Dir::ToServer, up.off_frame(b"OffCrypt ")),
            (
                Dir::ToServer,
                encode::frame(&encode::command(0x0A, b"b").unwrap()),
            ),
            (Dir::ToClient, down.off_frame(b"OffCrypt ")),
            (
                Dir::ToClient,
                encode::frame(&literal(
                    encode::terminate(TerminateReason::Logoff).unwrap(),
                )),
            ),
        ]
        .map(|(dir, frame)| (dir, frame.unwrap())),
    );
    let (out, summary) = run(&script);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    let switched: Vec<_> = ica_events(&out)
        .into_iter()
        .filter_map(|(dir, e)| match e {
            Event::EncryptionOff(at) => Some((dir, at.frame)),
            _ => None,
        })
        .collect();
    assert_eq!(
        switched,
        [(Some(Dir::ToServer), 3), (Some(Dir::ToClient), 3)]
    );
    // The client's "off" frame (4th message from the end) starts right after all it sent
    // before, padding included.
    let off = script.len() - 4;
    let before: usize = script[..off]
        .iter()
        .filter(|(dir, _)| *dir == Dir::ToServer)
        .map(|(_, bytes)| bytes.len())
        .sum();
    assert_eq!(
        summary.encryption_off.to_server.map(|at| at.offset),
        Some(before as u64)
    );
    assert_eq!(summary.terminate, Some(TerminateReason::Logoff));
    assert_eq!(summary.directions.to_server.clear_frames, 1);
    assert_split_invariant(&script);
}

/// Init phase, key exchange, then `count` encrypted MOUSE0 frames from the client (9 bytes each).
fn mouse_session(count: usize) -> (Script, Vec<u8>) {
    let mut script: Script = synthetic_session()
        .script
        .into_iter()
        .take_while(|(_, b)| b.as_slice() != encode::session_key_frame(KEY))
        .collect();
    script.push((Dir::ToServer, encode::session_key_frame(KEY).to_vec()));
    let mut enc = Pdcrypt1::new(KEY);
    let mut frames = Vec::new();
    for i in 0..count {
        let x = (i as u16 * 7).to_le_bytes();
        let mouse = encode::command(0x0D, &[x[0], x[1], 0x40, 0x01, 0x01]).unwrap();
        frames.extend(enc.frame(&mouse).unwrap());
    }
    (script, frames)
}

#[test]
fn a_gap_inside_a_frame_keeps_the_framing() {
    let (script, frames) = mouse_session(20);
    let mut d = Dissector::new(&context(true));
    let mut out = Vec::new();
    let ts = Timestamp::from_secs(1);
    for (dir, bytes) in &script {
        d.feed(*dir, bytes, ts, &mut out);
    }
    // Frame 5 is bytes 45..54; lose bytes 48..51 of it (inside its payload).
    d.feed(Dir::ToServer, &frames[..48], ts, &mut out);
    d.gap(Dir::ToServer, 3, ts, &mut out);
    d.feed(Dir::ToServer, &frames[51..], ts, &mut out);
    d.close(ts, &mut out);
    let s = summary_of(&d);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    let up = &s.directions.to_server;
    assert_eq!((up.gap_bytes, up.damaged_frames, up.sync_losses), (3, 1, 0));
    assert_eq!(up.frames, 21);
    // The damaged frame is neither decoded nor undecodable; the chain goes on after it.
    assert_eq!((up.decoded_frames, up.undecodable_frames), (19, 0));
    assert_eq!(s.commands[0].count.to_server, 5 + 14);
}

#[test]
fn a_gap_across_frame_boundaries_resynchronises() {
    // Enough frames after the gap for the lock search to decide (it may need its whole window).
    const FRAMES: u64 = 600;
    let (script, frames) = mouse_session(FRAMES as usize);
    let mut d = Dissector::new(&context(true));
    let mut out = Vec::new();
    let ts = Timestamp::from_secs(1);
    for (dir, bytes) in &script {
        d.feed(*dir, bytes, ts, &mut out);
    }
    // Frames 0-9 whole, then the first byte of frame 10; its next 3 bytes are lost.
    d.feed(Dir::ToServer, &frames[..91], ts, &mut out);
    d.gap(Dir::ToServer, 3, ts, &mut out);
    d.feed(Dir::ToServer, &frames[94..], ts, &mut out);
    d.close(ts, &mut out);
    let s = summary_of(&d);
    assert_eq!(anomaly_codes(&out), ["ica.lost_sync", "ica.resync"]);
    let up = &s.directions.to_server;
    assert_eq!(up.state, DirState::Framed);
    assert_eq!((up.sync_losses, up.resyncs), (1, 1));
    // The rest of frame 10 (5 bytes) is skipped; frames 11 onwards are found.
    assert_eq!(up.skipped_bytes, 5);
    assert_eq!(up.frames, 1 + 10 + (FRAMES - 11));
    // The first frame after the lock has no chain position; the others decode.
    assert_eq!(
        (up.decoded_frames, up.undecodable_frames),
        (10 + FRAMES - 12, 1)
    );
    assert_eq!(up.undecodable.chain_lost, 1);
}

#[test]
fn mid_stream_pickup_counts_frames_without_decoding() {
    let (_, frames) = mouse_session(600);
    // Picked up 4 bytes into frame 3.
    let script: Script = vec![(Dir::ToServer, frames[31..].to_vec())];
    let (out, s) = run_with(&context(false), &script);
    assert_eq!(anomaly_codes(&out), ["ica.resync"]);
    assert_eq!(s.phase, Phase::MidStream);
    let up = &s.directions.to_server;
    assert_eq!((up.skipped_bytes, up.frames), (5, 596));
    // No init seen: nothing is claimed about the content.
    assert_eq!((up.decoded_frames, up.undecodable_frames), (0, 596));
    assert_eq!(up.undecodable.layering_unknown, 596);
    assert!(s.commands.is_empty() && s.encryption.is_none());

    // A short pickup: the lock search waits for more bytes, and decides at close.
    let (_, frames) = mouse_session(40);
    let script: Script = vec![(Dir::ToServer, frames[31..].to_vec())];
    let mut d = Dissector::new(&context(false));
    let mut out = Vec::new();
    d.feed(
        Dir::ToServer,
        &script[0].1,
        Timestamp::from_secs(1),
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(d.buffered(), frames.len() - 31);
    d.close(Timestamp::from_secs(2), &mut out);
    assert_eq!(anomaly_codes(&out), ["ica.resync"]);
    let up = &summary_of(&d).directions.to_server;
    assert_eq!((up.skipped_bytes, up.frames, up.resyncs), (5, 36, 1));
    assert_eq!(d.buffered(), 0);

    // Bytes without a verifiable framing are only counted.
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (out, s) = run_with(&context(false), &[(Dir::ToClient, noise)]);
    assert_eq!(anomaly_codes(&out), ["ica.lost_sync"]);
    let down = &s.directions.to_client;
    assert_eq!(
        (down.state, down.skipped_bytes, down.frames),
        (DirState::Undecoded, 5000, 0)
    );
}

#[test]
fn a_gap_at_the_end_of_the_capture_leaves_the_init_search_open() {
    let script = synthetic_session().script;
    let mut d = Dissector::new(&context(true));
    let mut out = Vec::new();
    let ts = Timestamp::from_secs(1);
    for (dir, bytes) in &script[..4] {
        d.feed(*dir, bytes, ts, &mut out);
    }
    d.gap(Dir::ToServer, 100, ts, &mut out);
    d.close(ts, &mut out);
    let s = summary_of(&d);
    assert_eq!(anomaly_codes(&out), ["ica.lost_sync"]);
    assert_eq!(s.directions.to_server.state, DirState::Locking);
    assert_eq!(s.phase, Phase::Init);
}

/// The synthetic session with `lost` bytes of the client's stream missing, starting `at`
/// bytes into message `message` (a capture gap), fed message by message.
fn run_with_client_gap(message: usize, at: usize, lost: usize) -> (Vec<AnyEvent>, Summary) {
    let script = synthetic_session().script;
    // The client's stream, and where each of its messages starts in it.
    let mut stream = Vec::new();
    let mut starts = Vec::new();
    for (i, (dir, bytes)) in script.iter().enumerate() {
        if *dir == Dir::ToServer {
            starts.push((i, stream.len()));
            stream.extend_from_slice(bytes);
        }
    }
    let cut = starts.iter().find(|(i, _)| *i == message).unwrap().1 + at;
    let mut d = Dissector::new(&context(true));
    let mut out = Vec::new();
    let mut sent = 0;
    for (i, (dir, bytes)) in script.iter().enumerate() {
        let ts = Timestamp::from_secs(i as i64);
        if *dir == Dir::ToClient {
            d.feed(*dir, bytes, ts, &mut out);
            continue;
        }
        let end = sent + bytes.len();
        let mut piece = |from: usize, to: usize, out: &mut Vec<AnyEvent>| {
            if from < to {
                d.feed(Dir::ToServer, &stream[from..to], ts, out);
            }
        };
        // What of the message comes before the gap, the gap, and what comes after it.
        piece(sent, end.min(cut), &mut out);
        if (sent..end).contains(&cut) {
            d.gap(Dir::ToServer, lost as u64, ts, &mut out);
        }
        let mut piece = |from: usize, to: usize, out: &mut Vec<AnyEvent>| {
            if from < to {
                d.feed(Dir::ToServer, &stream[from..to], ts, out);
            }
        };
        piece(sent.max(cut + lost), end, &mut out);
        sent = end;
    }
    d.close(Timestamp::from_secs(script.len() as i64), &mut out);
    let summary = summary_of(&d);
    (out, summary)
}

/// Index in the synthetic session's script of the client module called `name`.
fn client_module(name: &str) -> usize {
    synthetic_session()
        .script
        .iter()
        .position(|(dir, bytes)| {
            *dir == Dir::ToServer && bytes.windows(name.len()).any(|w| w == name.as_bytes())
        })
        .unwrap()
}

fn channel_names(s: &Summary) -> Vec<&str> {
    s.channels
        .iter()
        .filter_map(|c| c.name.as_ref().map(crate::text::WireText::as_str))
        .collect()
}

#[test]
fn a_gap_inside_a_client_module_resynchronises_on_the_next_one() {
    // The last 20 bytes of the PDCRYPTN module are lost; the WD module follows.
    let pdcrypt = client_module("PDCRYPTN.DLL");
    let len = synthetic_session().script[pdcrypt].1.len();
    let (out, s) = run_with_client_gap(pdcrypt, len - 20, 20);
    assert_eq!(anomaly_codes(&out), ["ica.lost_sync", "ica.resync"]);
    let up = &s.directions.to_server;
    // The module's part before the gap can never be completed: it counts as skipped.
    assert_eq!(
        (up.skipped_bytes, up.sync_losses, up.resyncs),
        (len as u64 - 20, 1, 1)
    );
    // The UI module before the gap and the WD module after it are decoded.
    assert_eq!(
        s.client.client_name.as_ref().map(|n| n.as_str()),
        Some("LAB-PC-01")
    );
    assert_eq!(channel_names(&s), ["CTXTW", "CTXCDM", "CTXCLIP"]);
    // The count went from 3 (UI) to 1 (WD) across the gap: no ModuleCount complaint. The
    // init phase completes, the key exchange is read, every frame decodes.
    assert_eq!(s.phase, Phase::Established);
    assert_eq!(s.client_modules, 3);
    assert_eq!(s.encryption, Some(crate::ica::EncryptionKind::Basic));
    assert!(s.key_exchanged_in_clear);
    assert_eq!((up.state, up.undecodable_frames), (DirState::Framed, 0));
    let events = ica_events(&out);
    let module = events.iter().find_map(|(_, e)| match e {
        Event::Encryption { module, .. } => Some(module.clone()),
        _ => None,
    });
    // The module offering basic encryption was the one lost.
    assert_eq!(module, Some(None));
}

#[test]
fn a_gap_that_takes_the_ui_modules_tail_skips_its_keyboard_layout() {
    // 44 bytes of the UI module remain: its header and flags, and its keyboard layout 0x809,
    // `09 08 00 00`... The rest of the module holds `04 00 00` sequences only by chance: the
    // search takes the next module, not an INIT_CONNECT_RESPONSE look-alike.
    let ui = client_module("WFICA32.EXE");
    let len = synthetic_session().script[ui].1.len();
    let (out, s) = run_with_client_gap(ui, 44, 30);
    assert_eq!(anomaly_codes(&out), ["ica.lost_sync", "ica.resync"]);
    // The module's 44 bytes before the gap can never be completed, its rest is skipped.
    assert_eq!(s.directions.to_server.skipped_bytes, (len - 30) as u64);
    assert_eq!(s.client.client_name, None);
    assert_eq!(s.client_modules, 3);
    assert_eq!(channel_names(&s), ["CTXTW", "CTXCDM", "CTXCLIP"]);
    assert_eq!(s.encryption, Some(crate::ica::EncryptionKind::Basic));
    assert_eq!(s.phase, Phase::Established);
}

#[test]
fn a_lost_last_module_leaves_the_connect_response_to_be_found() {
    // The whole last module (VDCLIPN, ModuleCount 0) is lost: `04 00 00` comes next and
    // framed data verifies after it.
    let vd = client_module("VDCLIPN.DLL");
    let len = synthetic_session().script[vd].1.len();
    let (out, s) = run_with_client_gap(vd, 0, len);
    assert_eq!(anomaly_codes(&out), ["ica.lost_sync", "ica.resync"]);
    assert_eq!(s.phase, Phase::Established);
    assert_eq!(s.client_modules, 3);
    assert_eq!(s.directions.to_server.skipped_bytes, 0);
    assert_eq!(s.encryption, Some(crate::ica::EncryptionKind::Basic));
    assert_eq!(
        s.channels.iter().map(|c| c.writes.to_server).sum::<u64>(),
        3
    );
}

#[test]
fn init_resynchronisation_does_not_depend_on_how_the_bytes_arrive() {
    let pdcrypt = client_module("PDCRYPTN.DLL");
    let reference = run_with_client_gap(pdcrypt, 10, 12);
    // The same loss, with the bytes after it fed one at a time.
    let script = synthetic_session().script;
    let mut d = Dissector::new(&context(true));
    let mut out = Vec::new();
    for (i, (dir, bytes)) in script.iter().enumerate() {
        let ts = Timestamp::from_secs(i as i64);
        if i == pdcrypt {
            d.feed(*dir, &bytes[..10], ts, &mut out);
            d.gap(*dir, 12, ts, &mut out);
            for b in &bytes[22..] {
                d.feed(*dir, std::slice::from_ref(b), ts, &mut out);
            }
        } else if i > pdcrypt && *dir == Dir::ToServer {
            for b in bytes {
                d.feed(*dir, std::slice::from_ref(b), ts, &mut out);
            }
        } else {
            d.feed(*dir, bytes, ts, &mut out);
        }
    }
    d.close(Timestamp::from_secs(script.len() as i64), &mut out);
    assert!(reference.1 == summary_of(&d));
    assert_eq!(anomaly_codes(&reference.0), anomaly_codes(&out));
}

/// xorshift64*: a small deterministic generator for the random tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Up to `max` random bytes.
    fn noise(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Feeds `script` in random chunks with occasional gaps and checks the bounds.
fn feed_randomly(rng: &mut Rng, from_start: bool, script: &Script) {
    let mut d = Dissector::new(&context(from_start));
    let mut out = Vec::new();
    let ts = Timestamp::from_secs(0);
    for (dir, bytes) in script {
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(700));
            let (chunk, tail) = rest.split_at(n);
            d.feed(*dir, chunk, ts, &mut out);
            rest = tail;
            if rng.below(50) == 0 {
                d.gap(*dir, rng.below(3000) as u64, ts, &mut out);
            }
            assert!(d.buffered() <= 2 * (MAX_INIT_PACKET + 3));
        }
    }
    d.close(ts, &mut out);
    let summary = summary_of(&d);
    serde_json::to_string(&summary).unwrap();
    serde_json::to_string(&out).unwrap();
    for code in anomaly_codes(&out) {
        let reported = anomaly_codes(&out).iter().filter(|c| **c == code).count();
        assert!(reported as u64 <= ANOMALY_EVENTS_PER_CODE);
    }
    assert!(summary.commands.len() <= 256 && summary.channels.len() <= 256);
}

#[test]
fn random_and_mutated_input_never_panics() {
    let mut rng = Rng(0x1CA_5EED);
    let session = synthetic_session().script;
    let padded = padded_session();
    for round in 0..3000 {
        let script: Script = match round % 5 {
            // Pure noise, both directions.
            0 => (0..4)
                .map(|i| (Dir::BOTH[i % 2], rng.noise(3000)))
                .collect(),
            // A detect string, then noise.
            1 => vec![
                server_detect(),
                client_detect(),
                (Dir::ToClient, rng.noise(2000)),
                (Dir::ToServer, rng.noise(2000)),
            ],
            // The session with a few bytes changed.
            2 | 3 => {
                let mut script = if round % 2 == 0 {
                    session.clone()
                } else {
                    padded.clone()
                };
                for _ in 0..1 + rng.below(6) {
                    let m = rng.below(script.len());
                    let bytes = &mut script[m].1;
                    if !bytes.is_empty() {
                        let at = rng.below(bytes.len());
                        bytes[at] = rng.next() as u8;
                    }
                }
                script
            }
            // The session cut short, then noise.
            _ => {
                let cut = rng.below(session.len());
                let mut script = session[..cut].to_vec();
                let dir = Dir::BOTH[rng.below(2)];
                script.push((dir, rng.noise(500)));
                script
            }
        };
        let from_start = rng.below(4) != 0;
        feed_randomly(&mut rng, from_start, &script);
    }
}

#[test]
fn a_gap_that_takes_a_frame_header_byte_forgets_the_chain() {
    let (script, frames) = mouse_session(20);
    let mut d = Dissector::new(&context(true));
    let mut out = Vec::new();
    let ts = Timestamp::from_secs(1);
    for (dir, bytes) in &script {
        d.feed(*dir, bytes, ts, &mut out);
    }
    // Frame 5 is bytes 45..54: its length arrives, its PDCRYPT1 header byte (47) is lost.
    d.feed(Dir::ToServer, &frames[..47], ts, &mut out);
    d.gap(Dir::ToServer, 1, ts, &mut out);
    d.feed(Dir::ToServer, &frames[48..], ts, &mut out);
    d.close(ts, &mut out);
    let s = summary_of(&d);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    let up = &s.directions.to_server;
    assert_eq!((up.damaged_frames, up.sync_losses), (1, 0));
    // Whether frame 5 moved the chain is unknown, so frame 6 is not decrypted with a guess.
    assert_eq!((up.decoded_frames, up.undecodable_frames), (5 + 13, 1));
    assert_eq!(up.undecodable.chain_lost, 1);
    assert_eq!(s.commands[0].count.to_server, 5 + 13);
}
