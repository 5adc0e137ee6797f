//! An ICA-like byte stream for the TCP scenarios and bulk traffic: the real ICA detect string
//! (the engine's ICA probe recognises it), then frames `[u16 little-endian length][payload]`
//! with pseudo-random payloads, so that a reassembly error changes bytes detectably.
//!
//! This is a carrier for TCP edge cases, not a model of ICA; protocol scenarios come from the
//! dissectors' own encoders.

use super::rng::Rng;
use super::tcp::Step;
use ctxscope_dissectors::Dir;
use std::ops::RangeInclusive;
use std::time::Duration;

/// "\x7f\x7fICA\0", sent first by the server and echoed by the client.
pub const DETECT: [u8; 6] = [0x7F, 0x7F, b'I', b'C', b'A', 0x00];

/// Appends one frame; payloads beyond 65535 bytes are cut to fit the length field.
pub fn push_frame(out: &mut Vec<u8>, payload: &[u8]) {
    let payload = payload.get(..usize::from(u16::MAX)).unwrap_or(payload);
    out.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    out.extend_from_slice(payload);
}

/// `count` frames with payload lengths drawn from `sizes`.
pub fn frames(rng: &mut Rng, count: usize, sizes: RangeInclusive<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..count {
        let len = rng
            .between(*sizes.start(), *sizes.end())
            .min(usize::from(u16::MAX));
        let at = out.len();
        out.resize(at + 2 + len, 0);
        out[at..at + 2].copy_from_slice(&(len as u16).to_le_bytes());
        rng.fill(&mut out[at + 2..]);
    }
    out
}

/// The shape of a generated session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionShape {
    /// Request/response rounds after the detect exchange.
    pub exchanges: u32,
    /// Frames per client turn and their payload sizes (keystrokes, mouse).
    pub client_frames: RangeInclusive<usize>,
    pub client_frame_len: RangeInclusive<usize>,
    /// Frames per server turn and their payload sizes (screen updates).
    pub server_frames: RangeInclusive<usize>,
    pub server_frame_len: RangeInclusive<usize>,
    /// Pause between rounds, in milliseconds.
    pub pause_ms: RangeInclusive<u64>,
}

impl Default for SessionShape {
    /// About 2.6 KB per round, 9 packets per round with a 1460-byte MSS.
    fn default() -> SessionShape {
        SessionShape {
            exchanges: 100,
            client_frames: 1..=2,
            client_frame_len: 8..=120,
            server_frames: 1..=6,
            server_frame_len: 40..=1400,
            pause_ms: 5..=100,
        }
    }
}

/// A lazily generated ICA-like session after the handshake: detect exchange, `exchanges`
/// rounds of client input and server output with pauses, then a client-initiated close.
/// Feed it to [`super::tcp::TcpConversation::packets_then`]; only the current step's bytes
/// exist at any time.
pub struct IcaLikeSession {
    rng: Rng,
    shape: SessionShape,
    round: u32,
    queued: Vec<Step>,
}

impl IcaLikeSession {
    pub fn new(seed: u64, shape: SessionShape) -> IcaLikeSession {
        // Steps are popped from the back.
        let queued = vec![
            send(Dir::ToServer, DETECT.to_vec()),
            send(Dir::ToClient, DETECT.to_vec()),
        ];
        IcaLikeSession {
            rng: Rng::new(seed),
            shape,
            round: 0,
            queued,
        }
    }

    fn queue_round(&mut self) {
        let shape = &self.shape;
        let rng = &mut self.rng;
        let client_count = rng.between(*shape.client_frames.start(), *shape.client_frames.end());
        let client = frames(rng, client_count, shape.client_frame_len.clone());
        let server_count = rng.between(*shape.server_frames.start(), *shape.server_frames.end());
        let server = frames(rng, server_count, shape.server_frame_len.clone());
        let pause = shape.pause_ms.start()
            + rng.below(shape.pause_ms.end().saturating_sub(*shape.pause_ms.start()) + 1);
        self.queued = vec![
            Step::Idle(Duration::from_millis(pause)),
            send(Dir::ToClient, server),
            send(Dir::ToServer, client),
        ];
    }
}

fn send(dir: Dir, data: Vec<u8>) -> Step {
    Step::Send {
        dir,
        data,
        impairments: Vec::new(),
    }
}

impl Iterator for IcaLikeSession {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        if self.queued.is_empty() {
            if self.round < self.shape.exchanges {
                self.round += 1;
                self.queue_round();
            } else if self.round == self.shape.exchanges {
                self.round += 1;
                self.queued = vec![
                    Step::Fin { dir: Dir::ToClient },
                    Step::Fin { dir: Dir::ToServer },
                ];
            }
        }
        self.queued.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_layout_is_little_endian_length_then_payload() {
        let mut out = Vec::new();
        push_frame(&mut out, &[0xAA; 0x102]);
        assert_eq!(&out[..3], &[0x02, 0x01, 0xAA]);
        assert_eq!(out.len(), 2 + 0x102);
        let generated = frames(&mut Rng::new(1), 3, 5..=5);
        assert_eq!(generated.len(), 3 * 7);
        assert_eq!(&generated[7..9], &[5, 0]);
        assert_eq!(generated, frames(&mut Rng::new(1), 3, 5..=5));
    }

    #[test]
    fn session_starts_with_detect_and_ends_with_close() {
        let shape = SessionShape {
            exchanges: 2,
            ..SessionShape::default()
        };
        let steps: Vec<Step> = IcaLikeSession::new(9, shape).collect();
        assert_eq!(steps.len(), 2 + 2 * 3 + 2);
        assert_eq!(steps[0], send(Dir::ToClient, DETECT.to_vec()));
        assert_eq!(steps[1], send(Dir::ToServer, DETECT.to_vec()));
        assert!(matches!(
            steps[2],
            Step::Send {
                dir: Dir::ToServer,
                ..
            }
        ));
        assert!(matches!(steps[4], Step::Idle(_)));
        assert_eq!(steps[9], Step::Fin { dir: Dir::ToClient });
    }
}
