//! Heartbeat cadences as FlexNet 11.x shows them: after the HELLO, the vendor-daemon connection
//! carries 0x2F messages of types nobody has published, with encrypted payloads, so the only
//! way to see its heartbeats is their timing. The same schedules with legacy messages, which
//! the dissector reads, are the control.
//!
//! The exchanges are scripted at exact times: no think time, a 4 ms round trip, so a request
//! at `t` is answered at `t + 2 ms` and the client's ACK ends the exchange at `t + 4 ms`.

use super::{
    CTXAPP01, CTXAPP02, CTXLIC01, CitrixServer, STARTUP, STATIC_PORT, XDT_ENT_UD, capture, checkin,
    checkout, end_of, granted, greeted, redirected,
};
use crate::rng::Rng;
use crate::scenarios::TcpCapture;
use crate::tcp::{BASE_TIME, TcpConversation};
use ctxscope_dissectors::Timestamp;
use ctxscope_dissectors::flexlm::encode;
use std::time::Duration;

/// A request and the daemon's answer one round trip later.
const ROUND_TRIP: Duration = Duration::from_millis(4);

/// How the client's messages look on the wire.
enum Messages {
    /// 0x2F messages of unpublished types (0x0151 to 0x0154) with random payloads: what a
    /// FlexNet 11.x client and daemon exchange once the connection is encrypted.
    Encrypted(Rng),
    /// Legacy messages the dissector decodes: HEARTBEAT 'g', CHECKOUT 'o', CHECKIN 'i'.
    Legacy,
}

impl Messages {
    fn encrypted(rng: &mut Rng, msg_type: u16, len: usize) -> Vec<u8> {
        let mut payload = vec![0; len];
        rng.fill(&mut payload);
        encode::binary(&encode::Binary {
            msg_type,
            nonce: rng.next_u32(),
            echo: 0,
            payload: &payload,
        })
    }

    fn heartbeat(&mut self) -> (Vec<u8>, Vec<u8>) {
        match self {
            Messages::Encrypted(rng) => (
                Self::encrypted(rng, 0x0151, 44),
                Self::encrypted(rng, 0x0152, 28),
            ),
            Messages::Legacy => (
                encode::heartbeat(&encode::Heartbeat {
                    cpu: [0x2a0, 0x18, 0, 0],
                }),
                encode::heartbeat_resp(),
            ),
        }
    }

    fn checkout(&mut self, license: super::License, user: &str) -> (Vec<u8>, Vec<u8>) {
        match self {
            Messages::Encrypted(rng) => (
                Self::encrypted(rng, 0x0153, 180),
                Self::encrypted(rng, 0x0154, 36),
            ),
            Messages::Legacy => (checkout(license, user), granted()),
        }
    }

    /// A checkin: the daemon does not answer it.
    fn checkin(&mut self, license: super::License, user: &str) -> Vec<u8> {
        match self {
            Messages::Encrypted(rng) => Self::encrypted(rng, 0x0153, 120),
            Messages::Legacy => checkin(license, user),
        }
    }
}

/// A vendor-daemon connection scripted at exact times since its first packet.
struct Timed {
    conversation: TcpConversation,
    start: Timestamp,
    /// When its last packet so far was sent, since `start`.
    now: Duration,
    messages: Messages,
}

impl Timed {
    /// The lmgrd handshake redirecting `client` to the static port, then the vendor connection
    /// from the next client port: HELLO, OK, and the startup license's checkout.
    fn login(
        client: CitrixServer,
        client_port: u16,
        start: Timestamp,
        messages: Messages,
    ) -> (TcpConversation, Timed) {
        let [lmgrd, vendor] = redirected(client, client_port, CTXLIC01, start, STATIC_PORT);
        let exact = vendor.think(Duration::ZERO).rtt(ROUND_TRIP);
        let conversation = greeted(exact, client, CTXLIC01);
        let start = conversation.start_time();
        let now = end_of(&conversation).since(start);
        let mut timed = Timed {
            conversation,
            start,
            now,
            messages,
        };
        let (request, reply) = timed.messages.checkout(STARTUP, client.name);
        timed = timed.exchange(now, request, reply);
        (lmgrd, timed)
    }

    /// Nothing until `at`.
    fn wait(mut self, at: Duration) -> Timed {
        self.conversation = self.conversation.idle(at.saturating_sub(self.now));
        self.now = self.now.max(at);
        self
    }

    fn exchange(self, at: Duration, request: Vec<u8>, reply: Vec<u8>) -> Timed {
        let mut timed = self.wait(at);
        timed.conversation = timed.conversation.client_send(request).server_send(reply);
        timed.now = at + ROUND_TRIP;
        timed
    }

    fn heartbeat(mut self, at: Duration) -> Timed {
        let (request, reply) = self.messages.heartbeat();
        self.exchange(at, request, reply)
    }

    fn logon(mut self, at: Duration, user: &str) -> Timed {
        let (request, reply) = self.messages.checkout(XDT_ENT_UD, user);
        self.exchange(at, request, reply)
    }

    fn logoff(mut self, at: Duration, user: &str) -> Timed {
        let request = self.messages.checkin(XDT_ENT_UD, user);
        let mut timed = self.wait(at);
        timed.conversation = timed.conversation.client_send(request);
        timed.now = at + ROUND_TRIP / 2;
        timed
    }

    /// When its last packet was sent.
    fn end(&self) -> Timestamp {
        self.start.plus(self.now)
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub(in crate::scenarios) fn heartbeat_every_120s() -> TcpCapture {
    // Exchanges exactly 120 s apart from the startup checkout on: 119.998 s of silence between
    // the daemon's answer and the next request. Twenty heartbeats, the connection still open.
    let (lmgrd, mut vendor) = Timed::login(
        CTXAPP01,
        50_801,
        BASE_TIME,
        Messages::Encrypted(Rng::new(120)),
    );
    let checkout_at = vendor.now - ROUND_TRIP;
    for k in 1..=20 {
        vendor = vendor.heartbeat(checkout_at + secs(120) * k);
    }
    capture(vec![lmgrd, vendor.conversation])
}

/// Every 300 s ± 4 s from the previous heartbeat, whatever happens in between (a fixed timer).
fn next_heartbeat(rng: &mut Rng, previous: Duration) -> Duration {
    previous + Duration::from_millis(296_000 + rng.between(0, 8_000) as u64)
}

fn heartbeat_every_300s_with(messages: fn() -> Messages) -> TcpCapture {
    // Citrix products heartbeat every 5 minutes. CTXAPP01 sees two logons and a logoff between
    // heartbeats, then its license client hangs after 12 heartbeats: the connection stays open
    // and silent. CTXAPP02 logs in a minute later and goes on heartbeating; a user logs on to
    // it exactly 25 minutes after CTXAPP01 went quiet, and the capture ends.
    let mut rng = Rng::new(300);
    let (lmgrd1, mut hung) = Timed::login(CTXAPP01, 50_811, BASE_TIME, messages());
    let mut beat = hung.now;
    for k in 1..=12 {
        beat = next_heartbeat(&mut rng, beat);
        hung = hung.heartbeat(beat);
        hung = match k {
            5 => hung.logon(beat + secs(95), "alice"),
            8 => hung.logon(beat + secs(41), "bob"),
            9 => hung.logoff(beat + secs(170), "alice"),
            _ => hung,
        };
    }
    // From the daemon's last answer (half a round trip before the client's last ACK).
    let quiet_until = hung.end().plus(secs(25 * 60) - ROUND_TRIP / 2);
    let (lmgrd2, mut healthy) =
        Timed::login(CTXAPP02, 50_821, BASE_TIME.plus(secs(60)), messages());
    let mut beat = next_heartbeat(&mut rng, healthy.now);
    while healthy.start.plus(beat) < quiet_until {
        healthy = healthy.heartbeat(beat);
        beat = next_heartbeat(&mut rng, beat);
    }
    let last_logon = quiet_until.since(healthy.start);
    let healthy = healthy.logon(last_logon, "carol");
    capture(vec![
        lmgrd1,
        hung.conversation,
        lmgrd2,
        healthy.conversation,
    ])
}

pub(in crate::scenarios) fn heartbeat_every_300s() -> TcpCapture {
    heartbeat_every_300s_with(|| Messages::Encrypted(Rng::new(301)))
}

pub(in crate::scenarios) fn heartbeat_every_300s_decoded() -> TcpCapture {
    heartbeat_every_300s_with(|| Messages::Legacy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{SlicedPacket, TransportSlice};

    /// The times of the payload-carrying segments from client port `client` and to it.
    fn payload_times(capture: TcpCapture, client: u16) -> [Vec<Timestamp>; 2] {
        let mut times = [Vec::new(), Vec::new()];
        for c in capture.conversations {
            for frame in c.packets() {
                let p = SlicedPacket::from_ethernet(&frame.data).expect("a frame");
                let Some(TransportSlice::Tcp(t)) = p.transport else {
                    continue;
                };
                if t.payload().is_empty() {
                    continue;
                }
                if t.source_port() == client {
                    times[0].push(frame.ts);
                } else if t.destination_port() == client {
                    times[1].push(frame.ts);
                }
            }
        }
        times
    }

    #[test]
    fn exchanges_come_exactly_120_s_apart() {
        let [requests, replies] = payload_times(heartbeat_every_120s(), 50_802);
        // HELLO, the startup checkout, 20 heartbeats, each answered 2 ms later.
        assert_eq!((requests.len(), replies.len()), (22, 22));
        for w in requests[1..].windows(2) {
            assert_eq!(w[1].since(w[0]), secs(120));
        }
        for (reply, next) in replies[1..].iter().zip(&requests[2..]) {
            assert_eq!(next.since(*reply), Duration::from_millis(119_998));
        }
    }

    #[test]
    fn heartbeats_come_every_300_s_give_or_take_4() {
        // The healthy client: HELLO, startup checkout, then heartbeats only.
        let [requests, _] = payload_times(heartbeat_every_300s(), 50_822);
        let heartbeats = &requests[1..requests.len() - 1]; // not HELLO, nor the last logon
        let gaps: Vec<f64> = heartbeats
            .windows(2)
            .map(|w| w[1].since(w[0]).as_secs_f64())
            .collect();
        assert!(gaps.len() >= 16, "{gaps:?}");
        assert!(gaps.iter().all(|g| (296.0..=304.0).contains(g)), "{gaps:?}");
        // The client that hangs: 25 minutes of silence to the end of the capture.
        let [_, replies] = payload_times(heartbeat_every_300s(), 50_812);
        let quiet = requests.last().unwrap().since(*replies.last().unwrap());
        assert_eq!(quiet, secs(25 * 60));
    }
}
