//! IMA traffic (TCP 2512 between servers, 2513 from the management console).
//!
//! No public description of the IMA wire format exists (PROTOCOLS.md 4), so none is invented:
//! requests and responses are pseudo-random bytes of plausible sizes, in the request/response
//! rhythm the dissector measures.

use crate::rng::Rng;
use crate::tcp::TcpConversation;
use std::ops::RangeInclusive;
use std::time::Duration;

/// The shape of a series of IMA exchanges.
#[derive(Clone, Debug)]
pub struct Exchanges {
    /// Request/response pairs.
    pub count: usize,
    pub request_len: RangeInclusive<usize>,
    pub response_len: RangeInclusive<usize>,
    /// Quiet time between two exchanges, in milliseconds.
    pub pause_ms: RangeInclusive<u64>,
}

/// `shape.count` exchanges on `conversation`, drawn from `seed`: a request from the client, the
/// server's response, a pause.
pub fn exchanges(conversation: TcpConversation, shape: &Exchanges, seed: u64) -> TcpConversation {
    let mut rng = Rng::new(seed);
    (0..shape.count).fold(conversation, |conversation, _| {
        let request = rng.between(*shape.request_len.start(), *shape.request_len.end());
        let response = rng.between(*shape.response_len.start(), *shape.response_len.end());
        let pause = rng.between(
            *shape.pause_ms.start() as usize,
            *shape.pause_ms.end() as usize,
        );
        conversation
            .client_send(rng.bytes(request))
            .server_send(rng.bytes(response))
            .idle(Duration::from_millis(pause as u64))
    })
}
