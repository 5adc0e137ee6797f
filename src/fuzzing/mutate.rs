//! Mutated captures for robustness runs of the whole program: bit flips, truncations, broken
//! length fields and duplicated blocks over real files. `tests/fuzz/mutate.rs` (an example)
//! writes and runs hundreds of them; `tests/mutations.rs` runs a small sample in every
//! `cargo test`. A run passes when `ctxscope report` ends within its time with 0, 1 or 2.

use ctxscope_generator::rng::Rng;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What was done to a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    BitFlips,
    Truncation,
    BrokenLength,
    DuplicatedBlock,
}

/// One pcap record or pcapng block: where it starts, its length and where its length fields
/// are (little- or big-endian as the file is).
struct Block {
    start: usize,
    len: usize,
    length_fields: [usize; 2],
}

/// `capture` with one mutation picked by `rng`.
pub fn mutate(capture: &[u8], rng: &mut Rng) -> (Mutation, Vec<u8>) {
    let (blocks, big_endian) = blocks(capture);
    let mut out = capture.to_vec();
    if out.is_empty() {
        return (Mutation::Truncation, out); // nothing to flip, cut or copy
    }
    let kind = match rng.below(4) {
        2 if !blocks.is_empty() => Mutation::BrokenLength,
        3 if !blocks.is_empty() => Mutation::DuplicatedBlock,
        0 | 2 | 3 => Mutation::BitFlips,
        _ => Mutation::Truncation,
    };
    match kind {
        Mutation::BitFlips => {
            for _ in 0..rng.between(1, 16) {
                let bit = rng.below(out.len() as u64 * 8);
                out[(bit / 8) as usize] ^= 1 << (bit % 8);
            }
        }
        Mutation::Truncation => out.truncate(rng.between(0, out.len())),
        Mutation::BrokenLength => {
            let block = &blocks[pick(rng, blocks.len())];
            let at = block.length_fields[pick(rng, 2)];
            let value = match rng.below(5) {
                0 => 0,
                1 => u32::MAX,
                2 => 0x7fff_ffff,
                3 => block.len as u32 + 1,
                _ => rng.next_u32(),
            };
            let bytes = if big_endian {
                value.to_be_bytes()
            } else {
                value.to_le_bytes()
            };
            if let Some(field) = out.get_mut(at..at + 4) {
                field.copy_from_slice(&bytes);
            }
        }
        Mutation::DuplicatedBlock => {
            let block = &blocks[pick(rng, blocks.len())];
            let copy = capture[block.start..block.start + block.len].to_vec();
            let to = blocks[pick(rng, blocks.len())].start;
            out.splice(to..to, copy);
        }
    }
    (kind, out)
}

/// An index below `n`.
fn pick(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

/// The records of a pcap file or the blocks of a pcapng file, as far as they are well formed,
/// and whether the file is big-endian.
fn blocks(capture: &[u8]) -> (Vec<Block>, bool) {
    let word = |at: usize, big: bool| -> Option<usize> {
        let b: [u8; 4] = capture.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        } as usize)
    };
    let mut blocks = Vec::new();
    let Some(magic) = capture.get(..4) else {
        return (blocks, false);
    };
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let big = capture.get(8..12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d]);
        let mut at = 0;
        while let Some(len) = word(at + 4, big).filter(|&l| l >= 12 && at + l <= capture.len()) {
            // An enhanced packet block's captured length, or the length repeated at the end.
            let second = if word(at, big) == Some(6) {
                at + 20
            } else {
                at + len - 4
            };
            blocks.push(Block {
                start: at,
                len,
                length_fields: [at + 4, second],
            });
            at += len;
        }
        return (blocks, big);
    }
    let big = matches!(magic, [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d]);
    let mut at = 24;
    while let Some(len) = word(at + 8, big).filter(|&l| at + 16 + l <= capture.len()) {
        blocks.push(Block {
            start: at,
            len: 16 + len,
            length_fields: [at + 8, at + 12],
        });
        at += 16 + len;
    }
    (blocks, big)
}

/// How a run of the program on a mutated capture ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// Exit code 0, 1 or 2, as documented.
    Clean(i32),
    /// Any other exit code (101 is a panic), or a signal.
    Failed(Option<i32>, String),
    /// Still running after the time allowed.
    Hung,
}

/// Runs `ctxscope report FILE` (the binary at `program`) within `limit`.
pub fn run_report(program: &Path, file: &Path, limit: Duration) -> std::io::Result<Ending> {
    let mut child = Command::new(program)
        .args(["report", "-o", "/dev/null"])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(match status.code() {
                Some(code @ 0..=2) => Ending::Clean(code),
                code => {
                    let mut stderr = String::new();
                    if let Some(mut pipe) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                    }
                    Ending::Failed(code, stderr)
                }
            });
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Ending::Hung);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_mutation_changes_a_pcap() {
        let capture = std::fs::read("captures/farm/mixed_farm.pcap").unwrap();
        let (blocks, big) = blocks(&capture);
        assert!(!big);
        assert_eq!(
            blocks.iter().map(|b| b.len).sum::<usize>(),
            capture.len() - 24
        );
        let mut rng = Rng::new(1);
        let mut seen = Vec::new();
        for _ in 0..40 {
            let (kind, out) = mutate(&capture, &mut rng);
            assert_ne!(out, capture, "{kind:?} changed nothing");
            if kind == Mutation::DuplicatedBlock {
                assert!(out.len() > capture.len());
            }
            seen.push(kind);
        }
        for kind in [
            Mutation::BitFlips,
            Mutation::Truncation,
            Mutation::BrokenLength,
            Mutation::DuplicatedBlock,
        ] {
            assert!(seen.contains(&kind), "{kind:?} never picked");
        }
    }
}
